/**
 * The operator's bus signing key ring, loaded from a directory (the mounted Secret `<release>-bus-signing`).
 *
 * Layout: `<kid>.key` — an Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`); optional
 * `<kid>.crt` / `<kid>.pub` — its certificate or public key, ignored here (the chart copies them to the protected
 * namespaces for the sidecars); `primary` — the key id that signs. Every key of the ring verifies (the operator
 * reads back what it wrote, also across a rotation). Entries starting with `.` (the Secret volume's `..data`
 * machinery) are ignored. Any problem is a ConfigError naming the file.
 *
 * Rotation with overlap: add `k2.key` (+ `k2.crt` for the sidecars), let every sidecar receive the new public key,
 * then point `primary` at `k2`, later remove `k1`. See docs/decisions/bus-0006-bus-integrity.md.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SigningKey, VerifyingKeys } from "../api/bus/envelope.ts";
import { ConfigError } from "../errors.ts";

export const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/u;
const PRIMARY_FILE = "primary";

export interface SigningKeyRing {
  primary: SigningKey;
  verifying: VerifyingKeys;
}

export function signingKeyRing(keys: readonly SigningKey[], primary: string): SigningKeyRing {
  const primaryKey = keys.find((k) => k.kid === primary);
  if (primaryKey === undefined) throw new ConfigError("primary", `names "${primary}", which is not a key of the ring`);
  const verifying = new Map<string, KeyObject>();
  for (const key of keys) {
    if (!KEY_ID.test(key.kid)) throw new ConfigError(key.kid, "key ids must match [A-Za-z0-9_-]{1,64}");
    if (key.privateKey.asymmetricKeyType !== "ed25519") throw new ConfigError(key.kid, "must be an Ed25519 private key");
    verifying.set(key.kid, createPublicKey(key.privateKey));
  }
  return { primary: primaryKey, verifying };
}

export async function loadSigningKeys(dir: string): Promise<SigningKeyRing> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
  } catch (cause) {
    throw new ConfigError(dir, `the bus signing key directory cannot be read: ${(cause as Error).message}`);
  }
  const keys: SigningKey[] = [];
  let primary: string | undefined;
  for (const name of names) {
    const path = join(dir, name);
    if (name === PRIMARY_FILE) {
      primary = (await readFile(path, "utf8")).trim();
    } else if (name.endsWith(".key")) {
      const kid = name.slice(0, -".key".length);
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey(await readFile(path));
      } catch (cause) {
        throw new ConfigError(path, `not a PEM private key: ${(cause as Error).message}`);
      }
      keys.push({ kid, privateKey });
    }
  }
  if (primary === undefined) throw new ConfigError(join(dir, PRIMARY_FILE), "missing: it must name the signing key id");
  return signingKeyRing(keys, primary);
}
