/**
 * Real keys, real tokens and a real JWKS HTTP server for the JWT verifier tests.
 * Keys come from jose's generateKeyPair; well-formed tokens are signed with SignJWT; attack tokens
 * that jose refuses to produce are assembled by hand and signed with node:crypto over the same keys.
 */
import { createHmac, KeyObject, sign } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { CryptoKey, JSONWebKeySet, JWK, JWTPayload } from "jose";

export type Alg = "ES256" | "RS256" | "EdDSA";

export interface TestKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: Alg, kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

export function jwksOf(...keys: TestKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => k.publicJwk) };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = nowSeconds();
  return {
    iss: "https://idp-a.test",
    aud: "vigil-app",
    sub: "alice",
    sid: "login-1",
    email: "Alice@Example.com",
    groups: ["eng", "oncall"],
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

/** A well-formed token signed with jose's SignJWT. */
export async function signed(key: TestKey, payload: JWTPayload = claims(), header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

/** Signing input of a hand-built token; `payload` may be raw bytes (for invalid UTF-8). */
export function signingInput(header: Record<string, unknown>, payload: Record<string, unknown> | Buffer): string {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  return `${b64(JSON.stringify(header))}.${b64(body)}`;
}

/** Sign arbitrary bytes with the key's algorithm (node:crypto over the jose-generated key). */
export function rawSignature(key: TestKey, data: string): Buffer {
  const keyObject = KeyObject.from(key.privateKey);
  if (key.alg === "ES256") return sign("sha256", Buffer.from(data), { key: keyObject, dsaEncoding: "ieee-p1363" });
  if (key.alg === "RS256") return sign("sha256", Buffer.from(data), keyObject);
  return sign(null, Buffer.from(data), keyObject);
}

/** A hand-built token with any header (kid injection, crit, jku, ...), genuinely signed by `key`. */
export function handSigned(key: TestKey, header: Record<string, unknown>, payload: Record<string, unknown> | Buffer = claims()): string {
  const input = signingInput(header, payload);
  return `${input}.${b64(rawSignature(key, input))}`;
}

export function withSignature(input: string, signature: Buffer | string): string {
  return `${input}.${typeof signature === "string" ? signature : b64(signature)}`;
}

export function hmac(secret: Buffer | string, data: string): Buffer {
  return createHmac("sha256", secret).update(data).digest();
}

/** Order of the P-256 group, for the ECDSA malleability case (s' = n − s). */
const P256_N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

export function malleate(es256Token: string): string {
  const [h, p, s] = es256Token.split(".") as [string, string, string];
  const sig = Buffer.from(s, "base64url");
  const r = sig.subarray(0, 32);
  const sValue = BigInt(`0x${sig.subarray(32).toString("hex")}`);
  const flipped = Buffer.from((P256_N - sValue).toString(16).padStart(64, "0"), "hex");
  return `${h}.${p}.${b64(Buffer.concat([r, flipped]))}`;
}

export interface JwksServer {
  url: string;
  requests: () => number;
  setStatus: (status: number) => void;
  setJwks: (jwks: JSONWebKeySet) => void;
  close: () => Promise<void>;
}

/** A real HTTP server on 127.0.0.1:0 serving a JWKS and counting every request it receives. */
export async function startJwksServer(initial: JSONWebKeySet): Promise<JwksServer> {
  let count = 0;
  let status = 200;
  let jwks = initial;
  const server = createServer((_req, res) => {
    count++;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(status === 200 ? JSON.stringify(jwks) : "{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    requests: () => count,
    setStatus: (s) => {
      status = s;
    },
    setJwks: (j) => {
      jwks = j;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
