/**
 * The signals endpoint's side of the SSF tests: a self-signed serving certificate for 127.0.0.1 (openssl, as an
 * installation would mount one) and an HTTPS POST that trusts exactly that certificate.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";

/** Writes tls.crt / tls.key (P-256, SAN IP:127.0.0.1) into `dir`; returns the certificate (the clients' CA). */
export function writeServingCert(dir: string): string {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=vigil-signals",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "tls.key"),
      "-out",
      join(dir, "tls.crt"),
    ],
    { stdio: "ignore" },
  );
  return readFileSync(join(dir, "tls.crt"), "utf8");
}

export interface HttpAnswer {
  status: number;
  /** The parsed JSON body, undefined when empty. */
  json: unknown;
}

/** POST `body` to `url` over HTTPS trusting `ca` only. */
export async function postTrusting(url: string, ca: string, headers: Record<string, string>, body: string | Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", ca, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, json: text === "" ? undefined : (JSON.parse(text) as unknown) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}
