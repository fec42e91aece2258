/**
 * The real kubectl against the test control plane. `kubectl()` never throws for a non-zero exit: it returns
 * `{code, stdout, stderr}` so tests can assert on refusals; `kubectlOk()` and `kubectlJson()` throw with kubectl's
 * stderr when it fails. kubectl's discovery cache lives in the run's scratch directory, so nothing is written to
 * the user's ~/.kube and no cache from an earlier run (another API server on the same port) is ever read.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import type { ClusterEnv } from "../../cluster/env.ts";

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's standard input (for `-f -`). */
  input?: string;
  /** Adds `-n <namespace>`. */
  namespace?: string;
  /** Kill kubectl after this long (default 30 s). */
  timeoutMs?: number;
}

type KubectlEnv = Pick<ClusterEnv, "kubectl" | "kubeconfig" | "dir">;

export function kubectl(env: KubectlEnv, args: readonly string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const fullArgs = [...args, `--cache-dir=${join(env.dir, "kubectl-cache")}`];
  if (opts.namespace !== undefined) fullArgs.push("-n", opts.namespace);
  return new Promise((resolve) => {
    const child = execFile(
      env.kubectl,
      fullArgs,
      { env: { ...process.env, KUBECONFIG: env.kubeconfig }, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 32 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr: error?.killed === true ? `${stderr}\nkubectl killed after timeout` : stderr });
      },
    );
    // kubectl may exit before reading its input (a refused flag, a crash): its exit status says so, not an EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

/** Runs kubectl and returns stdout; throws with the command and stderr when it exits non-zero. */
export async function kubectlOk(env: KubectlEnv, args: readonly string[], opts: KubectlOptions = {}): Promise<string> {
  const result = await kubectl(env, args, opts);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** Runs kubectl with `-o json` and parses the output. */
export async function kubectlJson<T>(env: KubectlEnv, args: readonly string[], opts: KubectlOptions = {}): Promise<T> {
  return JSON.parse(await kubectlOk(env, [...args, "-o", "json"], opts)) as T;
}

/** Server-side apply of a manifest from memory, with unknown or duplicate fields refused (Strict validation). */
export function applyServerSide(env: KubectlEnv, manifest: string, opts: Omit<KubectlOptions, "input"> = {}): Promise<KubectlResult> {
  return kubectl(env, ["apply", "--server-side", "--validate=strict", "-f", "-"], { ...opts, input: manifest });
}

/** Creates a namespace if it does not exist yet. */
export async function ensureNamespace(env: KubectlEnv, name: string): Promise<void> {
  await kubectlOk(env, ["apply", "--server-side", "-f", "-"], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n` });
}
