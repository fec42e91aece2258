/**
 * The real helm binary (from the harness) for chart tests. `helm()` never throws for a non-zero exit: it returns
 * `{code, stdout, stderr}` so tests can assert on refusals; `helmOk()` throws with helm's stderr. Helm's cache,
 * config and data directories live in the run's scratch directory, so nothing touches the user's ~/.config/helm.
 *
 * Golden output: `renderForGolden` masks the values of the Secrets the chart generates at random (the session key
 * ring and the bundled Redis password) after checking they are well formed and that every copy is identical, so
 * golden files are deterministic while still covering the default values (docs/decisions/chart-0004).
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ClusterEnv } from "../../cluster/env.ts";

export const repoRoot = resolve(import.meta.dirname, "../../..");
export const chartDir = join(repoRoot, "charts/vigil");
export const goldenDir = join(repoRoot, "test/golden/chart");
export const MASK = "<generated>";

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

type HelmEnv = Pick<ClusterEnv, "helm" | "kubeconfig" | "dir">;

export function helm(env: HelmEnv, args: readonly string[], timeoutMs = 120_000): Promise<HelmResult> {
  const home = join(env.dir, "helm");
  const childEnv = {
    ...process.env,
    KUBECONFIG: env.kubeconfig,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
  return new Promise((done) => {
    execFile(env.helm, args, { env: childEnv, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      done({ code, stdout, stderr: error?.killed === true ? `${stderr}\nhelm killed after timeout` : stderr });
    });
  });
}

export async function helmOk(env: HelmEnv, args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await helm(env, args, timeoutMs);
  if (result.code !== 0) throw new Error(`helm ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** Every object of a multi-document manifest (empty documents skipped). */
export function objectsOf(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Secrets whose data the chart generates at random, by template. */
const GENERATED_SOURCES = ["vigil/templates/session-keys-secret.yaml", "vigil/templates/redis-secret.yaml", "vigil/templates/bus-signing.yaml"];

/** Replaces the data values of generated Secrets with MASK, keeping every other byte of helm's output. */
export function maskGeneratedSecrets(rendered: string): string {
  return rendered
    .split(/^---$/m)
    .map((doc) => {
      if (!GENERATED_SOURCES.some((s) => doc.includes(`# Source: ${s}\n`))) return doc;
      const [head = "", data = ""] = doc.split(/^data:$/m);
      // `primary` only names the key id (from values); every other value is random (PEM blocks included).
      const masked = data
        .replace(/^( {2}(?!primary:)[A-Za-z0-9._-]+): ".*"$/gm, `$1: "${MASK}"`)
        .replace(/^ {4}-----BEGIN [A-Z ]+-----$[\s\S]*?^ {4}-----END [A-Z ]+-----$/gm, `    ${MASK}`);
      return `${head}data:${masked}`;
    })
    .join("---");
}

/** `helm template vigil charts/vigil -n vigil-system -f <values>`. */
export function template(env: HelmEnv, valuesFile: string, extra: readonly string[] = []): Promise<HelmResult> {
  return helm(env, ["template", "vigil", chartDir, "--namespace", "vigil-system", "--values", valuesFile, ...extra]);
}
