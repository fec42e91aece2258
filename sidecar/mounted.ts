/**
 * Files the sidecar reads at start (mounted by the injection: downward-API labels, the issuers ConfigMap, the
 * key-ring Secret). Any unreadable or invalid file stops the process with a ConfigError naming the setting.
 */
import { readFile } from "node:fs/promises";
import type { IssuerConfig } from "./auth/issuer-config.ts";
import { ConfigError } from "./errors.ts";

/** Parses the downward API's `metadata.labels` file: one `key="value"` per line, Go-quoted. */
export function parseLabelsFile(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    const quoted = line.slice(eq + 1);
    if (eq <= 0 || !/^[A-Za-z0-9._/-]{1,316}$/.test(key) || !/^".*"$/.test(quoted)) throw new Error(`bad line "${line.slice(0, 80)}"`);
    labels[key] = JSON.parse(quoted) as string;
  }
  return labels;
}

export async function readLabels(path: string): Promise<Record<string, string>> {
  try {
    return parseLabelsFile(await readFile(path, "utf8"));
  } catch (err) {
    throw new ConfigError("VIGIL_POD_LABELS_FILE", `cannot read pod labels from ${path}: ${(err as Error).message}`, err);
  }
}

/**
 * The issuers file: YAML or JSON, either a list or `{issuers: [...]}`; validated later by resolveIssuers. JSON (what
 * the chart renders) is parsed as JSON: the YAML parser is loaded only for a file that is not JSON, since a module
 * once loaded stays in memory for the life of the process (docs/decisions/perf-0002).
 */
export async function readIssuers(path: string): Promise<IssuerConfig[]> {
  let doc: unknown;
  try {
    doc = await parseYamlOrJson(await readFile(path, "utf8"));
  } catch (err) {
    throw new ConfigError("VIGIL_ISSUERS_FILE", `cannot read issuers from ${path}: ${(err as Error).message}`, err);
  }
  const list = Array.isArray(doc) ? doc : (doc as { issuers?: unknown } | null)?.issuers;
  if (!Array.isArray(list)) throw new ConfigError("VIGIL_ISSUERS_FILE", "must hold a list of issuers (or {issuers: [...]})");
  return list as IssuerConfig[];
}

async function parseYamlOrJson(text: string): Promise<unknown> {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const { parse } = await import("yaml");
    return parse(text) as unknown;
  }
}
