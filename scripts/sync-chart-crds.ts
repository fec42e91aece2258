/**
 * `npm run chart:sync-crds` (`node scripts/sync-chart-crds.ts [--check]`): rewrite charts/vigil/templates/crds/
 * from crds/. `--check` writes nothing and exits 1 when a copy is stale, missing or has no source (for CI).
 *
 * The chart's copies of the CRDs are a pure function of the sources in crds/:
 * Contract: `chartCrdTemplate(source, file)` returns the template text: the source document verbatim (comments,
 * key order and formatting kept; `{{`/`}}` escaped for Go templates) wrapped in `crds.enabled`, with the chart's
 * labels added under `metadata.labels` and `helm.sh/resource-policy: keep` under `metadata.annotations` when
 * `crds.keep`. The spec is never touched, so the copies cannot drift (test/unit/chart/crds-in-sync.test.ts).
 * A source without a top-level `metadata:` block with `name` and `labels`, or with its own annotations, is
 * refused with a `ChartCrdError` (code `CHART_CRD_UNSUPPORTED_SOURCE`).
 * The test imports this module; the command-line part runs only when it is the entry point (import.meta.main).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const CRD_SOURCE_DIR = "crds";
export const CRD_CHART_DIR = "charts/vigil/templates/crds";

export class ChartCrdError extends Error {
  readonly code = "CHART_CRD_UNSUPPORTED_SOURCE";
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ChartCrdError";
  }
}

/** Go-template escape: `{{` and `}}` in the source are emitted as literal text. */
function escapeTemplate(text: string): string {
  return text.replace(/\{\{|\}\}/g, (m) => `{{ "${m}" }}`);
}

/** Index just past the last line of the block that starts at `start` (lines indented more than `indent`). */
function blockEnd(lines: readonly string[], start: number, indent: number): number {
  let end = start + 1;
  while (end < lines.length) {
    const line = lines[end] ?? "";
    if (line.trim() !== "" && !line.startsWith(" ".repeat(indent + 1))) break;
    end++;
  }
  while (end > start + 1 && (lines[end - 1] ?? "").trim() === "") end--;
  return end;
}

export function chartCrdTemplate(source: string, file: string): string {
  const lines = escapeTemplate(source).replace(/\n+$/, "").split("\n");
  const metadata = lines.indexOf("metadata:");
  if (metadata < 0) throw new ChartCrdError(file, "no top-level metadata: block");
  const metadataEnd = blockEnd(lines, metadata, 0);
  const inMetadata = lines.slice(metadata + 1, metadataEnd);
  if (!inMetadata.some((l) => /^ {2}name: \S/.test(l))) throw new ChartCrdError(file, "metadata.name missing");
  if (inMetadata.includes("  annotations:")) throw new ChartCrdError(file, "metadata.annotations in the source are not supported");
  const labelsAt = inMetadata.indexOf("  labels:");
  if (labelsAt < 0) throw new ChartCrdError(file, "metadata.labels missing (app.kubernetes.io/name expected)");
  const labels = metadata + 1 + labelsAt;
  const labelsEnd = blockEnd(lines, labels, 2);

  const out = [
    "{{- if .Values.crds.enabled }}",
    `# GENERATED from ${CRD_SOURCE_DIR}/${file} by \`npm run chart:sync-crds\`: edit the source, not this copy.`,
    ...lines.slice(0, labelsEnd),
    '    {{- include "vigil.crdLabels" . | nindent 4 }}',
    ...lines.slice(labelsEnd, metadataEnd),
    "  {{- if .Values.crds.keep }}",
    "  annotations:",
    "    helm.sh/resource-policy: keep",
    "  {{- end }}",
    ...lines.slice(metadataEnd),
    "{{- end }}",
  ];
  return `${out.join("\n")}\n`;
}

/** Chart template file name of a source CRD file (same name). */
export function chartCrdFileName(sourceFile: string): string {
  return sourceFile;
}

/** The source CRD files among the entries of crds/ (examples/ and README are not CRDs). */
export function crdSourceFiles(entries: readonly string[]): string[] {
  return entries.filter((f) => /^[a-z0-9.-]+_[a-z0-9]+\.yaml$/.test(f)).sort();
}

/** Sync (or with `check`, verify) the chart copies; returns the problems found in check mode. */
export function syncChartCrds(root: string, check: boolean): string[] {
  const sourceDir = join(root, CRD_SOURCE_DIR);
  const chartDir = join(root, CRD_CHART_DIR);

  const sources = crdSourceFiles(readdirSync(sourceDir));
  const wanted = new Set(sources.map(chartCrdFileName));
  const problems: string[] = [];

  for (const file of sources) {
    const target = join(chartDir, chartCrdFileName(file));
    const text = chartCrdTemplate(readFileSync(join(sourceDir, file), "utf8"), file);
    let current: string | undefined;
    try {
      current = readFileSync(target, "utf8");
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) problems.push(`${CRD_CHART_DIR}/${chartCrdFileName(file)} is out of date`);
    else {
      writeFileSync(target, text);
      console.log(`wrote ${CRD_CHART_DIR}/${chartCrdFileName(file)}`);
    }
  }
  for (const stale of readdirSync(chartDir).filter((f) => f.endsWith(".yaml") && !wanted.has(f))) {
    if (check) problems.push(`${CRD_CHART_DIR}/${stale} has no source in ${CRD_SOURCE_DIR}/`);
    else {
      rmSync(join(chartDir, stale));
      console.log(`removed ${CRD_CHART_DIR}/${stale}`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = syncChartCrds(resolve(import.meta.dirname, ".."), process.argv.includes("--check"));
  if (problems.length > 0) {
    console.error(`${problems.join("\n")}\nrun: npm run chart:sync-crds`);
    process.exitCode = 1;
  }
}
