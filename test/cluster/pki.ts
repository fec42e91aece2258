import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  controllerManagerCert: string;
  controllerManagerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  frontProxy: FrontProxyPki;
}

/** The aggregation layer's own CA and the client certificate kube-apiserver proxies with (plus one it never uses). */
export interface FrontProxyPki {
  caCert: string;
  /** CN=front-proxy-client, the one allowed name. */
  clientCert: string;
  clientKey: string;
  /** Signed by the front-proxy CA but with a CN that is not allowed (for refusal tests). */
  otherCert: string;
  otherKey: string;
}

/** The common name kube-apiserver's proxy client certificate has, and the only one extension servers accept. */
export const FRONT_PROXY_CLIENT_NAME = "front-proxy-client";

export interface PkiOptions {
  /** Extra IP SANs of the API server's certificate (the node's address, the `kubernetes` Service's ClusterIP). */
  apiServerIps?: string[];
}

/**
 * A throwaway CA, the API server's serving certificate, two client certificates, the SA signing key, and the
 * front proxy's own CA with kube-apiserver's proxy client certificate (plus one with a name that is not allowed).
 */
export async function generatePki(dir: string, openssl = "openssl", opts: PkiOptions = {}): Promise<Pki> {
  const p = (name: string): string => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(openssl, ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "30", "-subj", "/CN=vigil-test-ca"]);
  await run(openssl, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("front-proxy-ca.key"),
    "-out",
    p("front-proxy-ca.crt"),
    "-days",
    "30",
    "-subj",
    "/CN=vigil-test-front-proxy-ca",
  ]);

  const issue = async (name: string, subject: string, ext: string, ca = "ca"): Promise<void> => {
    await writeFile(p(`${name}.ext`), ext);
    await run(openssl, ["req", "-new", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subject]);
    await run(openssl, [
      "x509",
      "-req",
      "-in",
      p(`${name}.csr`),
      "-CA",
      p(`${ca}.crt`),
      "-CAkey",
      p(`${ca}.key`),
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      p(`${name}.ext`),
      "-out",
      p(`${name}.crt`),
    ]);
  };
  await issue(
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=${["IP:127.0.0.1", ...(opts.apiServerIps ?? []).map((ip) => `IP:${ip}`), "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"].join(",")}\nextendedKeyUsage=serverAuth\n`,
  );
  await issue("admin", "/O=system:masters/CN=vigil-test-admin", "extendedKeyUsage=clientAuth\n");
  await issue("kcm", "/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth\n");
  await issue("front-proxy-client", `/CN=${FRONT_PROXY_CLIENT_NAME}`, "extendedKeyUsage=clientAuth\n", "front-proxy-ca");
  await issue("front-proxy-other", "/CN=not-the-front-proxy", "extendedKeyUsage=clientAuth\n", "front-proxy-ca");

  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  await writeFile(p("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(p("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));

  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    controllerManagerCert: p("kcm.crt"),
    controllerManagerKey: p("kcm.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    frontProxy: {
      caCert: p("front-proxy-ca.crt"),
      clientCert: p("front-proxy-client.crt"),
      clientKey: p("front-proxy-client.key"),
      otherCert: p("front-proxy-other.crt"),
      otherKey: p("front-proxy-other.key"),
    },
  };
}

/** A client certificate signed by the CA of `generatePki(dir)`: `<dir>/<name>.crt` and `<dir>/<name>.key`. */
export async function issueClientCert(dir: string, name: string, subject: string, openssl = "openssl"): Promise<{ cert: string; key: string }> {
  const p = (file: string): string => join(dir, file);
  await writeFile(p(`${name}.ext`), "extendedKeyUsage=clientAuth\n");
  await run(openssl, [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    p(`${name}.key`),
    "-out",
    p(`${name}.csr`),
    "-subj",
    subject,
  ]);
  await run(openssl, [
    "x509",
    "-req",
    "-in",
    p(`${name}.csr`),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-days",
    "30",
    "-extfile",
    p(`${name}.ext`),
    "-out",
    p(`${name}.crt`),
  ]);
  return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
}

export async function pem(path: string): Promise<string> {
  return readFile(path, "utf8");
}
