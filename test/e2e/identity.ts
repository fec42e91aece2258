/**
 * The token issuer of the kind journey (test/e2e/kind.sh): a real P-256 key generated with node:crypto, its
 * public half as an inline JWKS in a Helm values file, and ES256 tokens signed with the private half.
 *
 *   node test/e2e/identity.ts init <dir>                       → <dir>/issuer-key.pem, <dir>/issuer-values.json
 *   node test/e2e/identity.ts token <dir> <subject> <group>    → prints one token (valid 1 h, fresh sid)
 *
 * The private key never leaves <dir> (mode 0600); tokens are printed to stdout only, never logged elsewhere.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ISSUER = "https://idp.kind.vigil.test";
export const AUDIENCE = "vigil-sidecar";
const KID = "kind-1";

const b64 = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

function init(dir: string): void {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, "issuer-key.pem"), privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  const { kty, crv, x, y } = publicKey.export({ format: "jwk" });
  const values = {
    sidecar: {
      issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: { keys: [{ kty, crv, x, y, kid: KID, alg: "ES256", use: "sig" }] } }],
    },
  };
  writeFileSync(join(dir, "issuer-values.json"), `${JSON.stringify(values, null, 2)}\n`);
}

function token(dir: string, subject: string, group: string): string {
  const key = createPrivateKey(readFileSync(join(dir, "issuer-key.pem")));
  createPublicKey(key); // fails early on a damaged key file
  const iat = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg: "ES256", kid: KID, typ: "JWT" }));
  const claims = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: subject,
    sid: `sid-${randomBytes(12).toString("base64url")}`,
    email: `${subject}@example.com`,
    groups: [group],
    iat,
    exp: iat + 3600,
  };
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
}

const [command, dir, subject, group] = process.argv.slice(2);
if (command === "init" && dir !== undefined) {
  init(dir);
} else if (command === "token" && dir !== undefined && subject !== undefined && group !== undefined) {
  process.stdout.write(`${token(dir, subject, group)}\n`);
} else {
  process.stderr.write("usage: node test/e2e/identity.ts init <dir> | token <dir> <subject> <group>\n");
  process.exit(2);
}
