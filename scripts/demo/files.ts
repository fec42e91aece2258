/**
 * The demo's state directory (default `.vigil/demo/`, git-ignored) and everything written into it:
 *
 *   demo.pid          the running demo (a second demo refuses to start while it lives)
 *   pids              `name pid` of every process the demo started (pid = its guard = its process group)
 *   env               `source` it: KUBECONFIG, KUBECTL, KUBECACHEDIR, SIDECAR, TOKEN_ALICE, TOKEN_BOB (mode 0600)
 *   alice.token, bob.token
 *   web-0/            the files the injection would mount into the sidecar: labels, issuers.json, keys/, bus-keys/
 *   bus-signing/      the operator's bus signing key (what the chart's Secret holds)
 *   logs/             one log per process
 *   kube-cache/       kubectl's discovery cache
 *
 * `removeStateFiles` deletes exactly these entries, then the directory if it is empty: never anything else, so a
 * mistaken VIGIL_DEMO_DIR cannot cost the user a file.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const ENTRIES = ["demo.pid", "pids", "env", "alice.token", "bob.token", "web-0", "bus-signing", "logs", "kube-cache"] as const;

export interface StatePaths {
  dir: string;
  env: string;
  pids: string;
  logs: string;
  kubeCache: string;
  sidecar: string;
  token(user: string): string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    env: join(dir, "env"),
    pids: join(dir, "pids"),
    logs: join(dir, "logs"),
    kubeCache: join(dir, "kube-cache"),
    sidecar: join(dir, "web-0"),
    token: (user) => join(dir, `${user}.token`),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the state directory; refuses (with the other PID) while another demo using it is alive. */
export async function claimStateDir(p: StatePaths): Promise<void> {
  const other = Number((await readFile(join(p.dir, "demo.pid"), "utf8").catch(() => "")).trim());
  if (Number.isSafeInteger(other) && other > 0 && other !== process.pid && alive(other)) {
    throw new Error(`another demo is running (pid ${other}) with ${p.dir}; stop it first (Ctrl-C in its terminal)`);
  }
  await removeStateFiles(p);
  await mkdir(p.logs, { recursive: true, mode: 0o700 });
  await mkdir(p.kubeCache, { recursive: true, mode: 0o700 });
  await writeFile(join(p.dir, "demo.pid"), `${process.pid}\n`);
}

export async function removeStateFiles(p: StatePaths): Promise<void> {
  for (const entry of ENTRIES) await rm(join(p.dir, entry), { recursive: true, force: true });
  await rmdir(p.dir).catch(() => undefined);
}

export async function writePids(p: StatePaths, pids: readonly { name: string; pid: number }[]): Promise<void> {
  await writeFile(p.pids, [`demo ${process.pid}`, ...pids.map((c) => `${c.name} ${c.pid}`)].join("\n") + "\n");
}

/** The files the sidecar reads at start (as the injection would mount them). Returns their VIGIL_* variables. */
/** The session-encryption key ring (what the chart's Secret holds): the sidecar seals with it, the operator reads. */
export async function writeSessionKeys(p: StatePaths): Promise<string> {
  const keys = join(p.sidecar, "keys");
  await mkdir(keys, { recursive: true, mode: 0o700 });
  await writeFile(join(keys, "k1"), randomBytes(32), { mode: 0o600 });
  await writeFile(join(keys, "primary"), "k1");
  return keys;
}

export async function writeSidecarFiles(p: StatePaths, labels: Record<string, string>, issuersFile: string, keys: string): Promise<Record<string, string>> {
  await writeFile(
    join(p.sidecar, "labels"),
    Object.entries(labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n") + "\n",
  );
  await writeFile(join(p.sidecar, "issuers.json"), issuersFile);
  return {
    VIGIL_POD_LABELS_FILE: join(p.sidecar, "labels"),
    VIGIL_ISSUERS_FILE: join(p.sidecar, "issuers.json"),
    VIGIL_KEY_RING_DIR: keys,
  };
}

/**
 * The bus signing key pair, as the chart generates it: the private key for the operator (`<dir>/bus-signing`), the
 * public key for the sidecar (`<dir>/bus-keys`). Returns the settings of each program.
 */
export async function writeBusKeys(p: StatePaths): Promise<{ operator: Record<string, string>; sidecar: Record<string, string> }> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const signing = join(p.dir, "bus-signing");
  const verify = join(p.sidecar, "bus-keys");
  await mkdir(signing, { recursive: true, mode: 0o700 });
  await mkdir(verify, { recursive: true });
  await writeFile(join(signing, "k1.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(join(signing, "primary"), "k1");
  await writeFile(join(verify, "k1.pub"), publicKey.export({ type: "spki", format: "pem" }));
  return { operator: { VIGIL_BUS_SIGNING_KEYS_DIR: signing }, sidecar: { VIGIL_BUS_KEYS_DIR: verify } };
}

/** Single-quoted for sh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export async function writeEnvFile(p: StatePaths, vars: Record<string, string>): Promise<void> {
  const lines = Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  await writeFile(p.env, `# Vigil demo (pid ${process.pid}): source this file, then run the commands the demo printed.\n${lines.join("\n")}\n`, {
    mode: 0o600,
  });
}

export async function writeToken(p: StatePaths, user: string, token: string): Promise<void> {
  await writeFile(p.token(user), `${token}\n`, { mode: 0o600 });
}
