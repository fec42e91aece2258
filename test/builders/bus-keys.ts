/**
 * Bus signing keys for tests and benchmarks: a real Ed25519 key pair (one per process unless asked), the ring the
 * operator's publisher signs with, the verifying keys a sidecar holds, and the mounted-directory layouts both
 * programs read (`<kid>.key` + `primary` for the operator, `<kid>.pub` for sidecars).
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { VerifyingKeys } from "../../operator/api/bus/envelope.ts";
import type { BusPublisher } from "../../operator/bus/publisher.ts";
import { signingKeyRing, type SigningKeyRing } from "../../operator/bus/signing-keys.ts";

export interface TestBusKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newBusKey(kid = "k1"): TestBusKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { kid, privateKey, publicKey };
}

/** The key every test and benchmark of this process shares unless it makes its own. */
export const sharedBusKey = newBusKey("k1");

export function ringOf(keys: readonly TestBusKey[] = [sharedBusKey], primary = keys[0]?.kid ?? "k1"): SigningKeyRing {
  return signingKeyRing(
    keys.map((k) => ({ kid: k.kid, privateKey: k.privateKey })),
    primary,
  );
}

export function verifyingOf(keys: readonly TestBusKey[] = [sharedBusKey]): VerifyingKeys {
  return new Map(keys.map((k) => [k.kid, k.publicKey]));
}

/** Writes the operator's signing directory (`<kid>.key`, `primary`). */
export async function writeSigningDir(dir: string, keys: readonly TestBusKey[] = [sharedBusKey], primary = keys[0]?.kid ?? "k1"): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const k of keys) await writeFile(join(dir, `${k.kid}.key`), k.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(join(dir, "primary"), primary);
  return dir;
}

/** Writes a sidecar's verification directory (`<kid>.pub`). */
export async function writeVerifyDir(dir: string, keys: readonly TestBusKey[] = [sharedBusKey]): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const k of keys) await writeFile(join(dir, `${k.kid}.pub`), k.publicKey.export({ type: "spki", format: "pem" }));
  return dir;
}

/**
 * Re-signs the publisher's epoch record every `intervalMs` (what the operator's bus controller does), so sidecars
 * following a bus written by a test or a benchmark see it live. Returns the stop function; the timer is unref'd.
 */
export function keepEpochFresh(publisher: BusPublisher, intervalMs = 1000): () => void {
  const timer = setInterval(() => {
    publisher.refreshEpoch().catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
