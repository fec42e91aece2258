/**
 * The webhook's own TLS: a self-signed CA and a serving certificate it signs, made with @peculiar/x509 on WebCrypto
 * (ECDSA P-256, SHA-256; x509 uses Node's global WebCrypto), PEM in and out. See docs/decisions/webhook-0004-self-managed-certificates.md.
 *
 * Contract:
 * - `generateCa({now})`: CA certificate (basicConstraints CA, pathLen 0, keyCertSign + cRLSign, critical), valid from
 *   5 minutes before `now` (clock skew) for `validityDays` (default 365);
 * - `issueServingCert(ca, {service, namespace})`: leaf for `<service>.<namespace>.svc` (plus `<service>`,
 *   `<service>.<namespace>`, `<service>.<namespace>.svc.cluster.local`, `127.0.0.1` and any extra names/IPs),
 *   serverAuth only, `validityDays` default 90, never outliving its CA; serials are 128-bit CSPRNG values;
 * - `needsRotation(certPem, now)`: true when less than `minRemainingDays` (default 30) are left, when the
 *   certificate is not valid yet, or when it cannot be parsed (an unusable certificate must be replaced).
 * Private keys are PKCS#8 PEM; never log them.
 */
import { randomBytes, webcrypto, X509Certificate as NodeX509 } from "node:crypto";
import { isIP } from "node:net";
import "reflect-metadata"; // before @peculiar/x509: its DI container needs Reflect metadata at import time
import * as x509 from "@peculiar/x509";

const DAY_MS = 86_400_000;
const SKEW_MS = 5 * 60_000;
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface KeyAndCert {
  /** PKCS#8 PEM. */
  keyPem: string;
  certPem: string;
  notAfter: Date;
}

export interface CaOptions {
  now?: Date;
  validityDays?: number;
  commonName?: string;
}

export interface ServingCertOptions {
  service: string;
  namespace: string;
  now?: Date;
  validityDays?: number;
  extraDnsNames?: readonly string[];
  /** Always includes 127.0.0.1 (local runs, tests). */
  extraIps?: readonly string[];
}

/** 128-bit positive serial (DER INTEGER without a leading sign bit). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

type KeyPair = Awaited<ReturnType<typeof newKeyPair>>;

async function newKeyPair(): Promise<{ publicKey: webcrypto.CryptoKey; privateKey: webcrypto.CryptoKey }> {
  return webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
}

async function keyPem(key: KeyPair["privateKey"]): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

export async function generateCa(opts: CaOptions = {}): Promise<KeyAndCert> {
  const now = opts.now ?? new Date();
  const keys = await newKeyPair();
  const notAfter = new Date(now.getTime() + (opts.validityDays ?? 365) * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${opts.commonName ?? "vigil-webhook-ca"}`,
    notBefore: new Date(now.getTime() - SKEW_MS),
    notAfter,
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
    ],
  });
  return { keyPem: await keyPem(keys.privateKey), certPem: cert.toString("pem"), notAfter: cert.notAfter };
}

/** DNS names the API server (and local runs) may use to reach `<service>` in `<namespace>`. */
export function servingNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, service, `${service}.${namespace}`, `${service}.${namespace}.svc.cluster.local`];
}

export async function issueServingCert(ca: Pick<KeyAndCert, "keyPem" | "certPem">, opts: ServingCertOptions): Promise<KeyAndCert> {
  const now = opts.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(ca.keyPem), ALG, false, ["sign"]);
  const keys = await newKeyPair();
  const wanted = now.getTime() + (opts.validityDays ?? 90) * DAY_MS;
  const notAfter = new Date(Math.min(wanted, caCert.notAfter.getTime()));
  const ips = ["127.0.0.1", ...(opts.extraIps ?? [])].filter((ip, i, all) => isIP(ip) !== 0 && all.indexOf(ip) === i);
  const dns = [...servingNames(opts.service, opts.namespace), ...(opts.extraDnsNames ?? [])];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${dns[0] ?? opts.service}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - SKEW_MS),
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(
        [...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { keyPem: await keyPem(keys.privateKey), certPem: cert.toString("pem"), notAfter: cert.notAfter };
}

/** A fresh CA and a serving certificate signed by it. */
export async function generateWebhookCerts(opts: ServingCertOptions & { caValidityDays?: number }): Promise<{ ca: KeyAndCert; serving: KeyAndCert }> {
  const ca = await generateCa({
    ...(opts.now === undefined ? {} : { now: opts.now }),
    ...(opts.caValidityDays === undefined ? {} : { validityDays: opts.caValidityDays }),
  });
  return { ca, serving: await issueServingCert(ca, opts) };
}

export function needsRotation(certPem: string, now: Date = new Date(), minRemainingDays = 30): boolean {
  let cert: NodeX509;
  try {
    cert = new NodeX509(certPem);
  } catch {
    return true;
  }
  const notBefore = new Date(cert.validFrom).getTime();
  const notAfter = new Date(cert.validTo).getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) return true;
  return now.getTime() < notBefore || notAfter - now.getTime() < minRemainingDays * DAY_MS;
}
