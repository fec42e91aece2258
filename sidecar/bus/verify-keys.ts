/**
 * The public keys a sidecar verifies the bus with, from a directory (the ConfigMap `<release>-bus-verify` the
 * chart renders into each protected namespace). Sidecars never hold a private key: write access to Redis is not
 * write access to enforcement.
 *
 * Layout: `<kid>.crt` (an X.509 certificate carrying the Ed25519 key, as the chart generates it) or `<kid>.pub`
 * (an SPKI PEM public key, as `openssl pkey -pubout` writes it); other files and `.`-entries are ignored.
 * `loadVerifyingKeys` throws a ConfigError naming the file; at least one key is required.
 * `watchVerifyingKeys` re-reads the directory periodically (ConfigMap volumes are updated in place, so a
 * rotation's new key arrives without a restart); a failed re-read keeps the previous keys and is reported.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { VerifyingKeys } from "../../operator/api/bus/envelope.ts";
import { ConfigError } from "../errors.ts";

const KEY_FILE = /^([A-Za-z0-9_-]{1,64})\.(crt|pub)$/u;

export async function loadVerifyingKeys(dir: string): Promise<VerifyingKeys> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
  } catch (cause) {
    throw new ConfigError("VIGIL_BUS_KEYS_DIR", `the bus verification key directory ${dir} cannot be read`, cause);
  }
  const keys = new Map<string, KeyObject>();
  for (const name of names) {
    const match = KEY_FILE.exec(name);
    if (match?.[1] === undefined) continue;
    const path = join(dir, name);
    let key: KeyObject;
    try {
      key = createPublicKey(await readFile(path));
    } catch (cause) {
      throw new ConfigError("VIGIL_BUS_KEYS_DIR", `${path} is not a PEM certificate or public key`, cause);
    }
    if (key.asymmetricKeyType !== "ed25519") throw new ConfigError("VIGIL_BUS_KEYS_DIR", `${path} must hold an Ed25519 key`);
    keys.set(match[1], key);
  }
  if (keys.size === 0) throw new ConfigError("VIGIL_BUS_KEYS_DIR", `${dir} holds no <kid>.crt or <kid>.pub key`);
  return keys;
}

export interface VerifyingKeySource {
  current(): VerifyingKeys;
  stop(): void;
}

export async function watchVerifyingKeys(dir: string, intervalMs: number, onError: (err: unknown) => void): Promise<VerifyingKeySource> {
  let keys = await loadVerifyingKeys(dir);
  const timer = setInterval(() => {
    loadVerifyingKeys(dir).then((next) => {
      keys = next;
    }, onError);
  }, intervalMs);
  timer.unref();
  return {
    current: () => keys,
    stop: () => {
      clearInterval(timer);
    },
  };
}
