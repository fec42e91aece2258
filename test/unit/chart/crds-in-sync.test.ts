/**
 * The chart's CRD templates (charts/vigil/templates/crds/) never drift from the source of truth (crds/): each copy
 * is exactly what `npm run chart:sync-crds` writes, and removing the template wrapping gives back the source,
 * byte for byte, so the schema a chart user installs is the one the tests validate.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CRD_CHART_DIR, CRD_SOURCE_DIR, ChartCrdError, chartCrdTemplate, crdSourceFiles, syncChartCrds } from "../../../scripts/sync-chart-crds.ts";

const root = resolve(import.meta.dirname, "../../..");
const sources = crdSourceFiles(readdirSync(join(root, CRD_SOURCE_DIR)));
const source = (file: string): string => readFileSync(join(root, CRD_SOURCE_DIR, file), "utf8");
const chartCopy = (file: string): string => readFileSync(join(root, CRD_CHART_DIR, file), "utf8");

/** The lines the generator adds around and inside a source document, and nothing else. */
const WRAPPING = new Set([
  "{{- if .Values.crds.enabled }}",
  '    {{- include "vigil.crdLabels" . | nindent 4 }}',
  "  {{- if .Values.crds.keep }}",
  "  annotations:",
  "    helm.sh/resource-policy: keep",
  "  {{- end }}",
  "{{- end }}",
]);
const unwrap = (template: string): string =>
  template
    .split("\n")
    .filter((line) => !WRAPPING.has(line) && !line.startsWith("# GENERATED from "))
    .join("\n");

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: unknown;
}

describe("the chart's CRD copies", () => {
  it("exist for both CRDs, and only for them", () => {
    expect(sources).toEqual(["vigil.dev_accesspolicies.yaml", "vigil.dev_sessionterminations.yaml"]);
    expect(readdirSync(join(root, CRD_CHART_DIR)).sort()).toEqual(sources);
  });

  it.each(sources)("%s is exactly what `npm run chart:sync-crds` writes (run it after editing crds/)", (file) => {
    expect(chartCopy(file)).toBe(chartCrdTemplate(source(file), file));
  });

  it("`npm run chart:sync-crds -- --check` finds nothing to do", () => {
    expect(syncChartCrds(root, true)).toEqual([]);
  });

  it.each(sources)("%s differs from its source only by the template wrapping", (file) => {
    expect(unwrap(chartCopy(file))).toBe(source(file).replace(/\n+$/, "\n"));
  });

  it.each(sources)("%s carries the same name, labels and spec as its source", (file) => {
    const original = parse(source(file)) as Crd;
    const copy = parse(unwrap(chartCopy(file))) as Crd;
    expect(copy.metadata.name).toBe(original.metadata.name);
    expect(copy.metadata.labels).toEqual(original.metadata.labels);
    expect(copy.spec).toEqual(original.spec);
  });

  it.each(sources)("%s is installed only with crds.enabled and kept on uninstall only with crds.keep", (file) => {
    const lines = chartCopy(file).trimEnd().split("\n");
    expect(lines[0]).toBe("{{- if .Values.crds.enabled }}");
    expect(lines.at(-1)).toBe("{{- end }}");
    const keepAt = lines.indexOf("  {{- if .Values.crds.keep }}");
    expect(lines.slice(keepAt, keepAt + 4)).toEqual(["  {{- if .Values.crds.keep }}", "  annotations:", "    helm.sh/resource-policy: keep", "  {{- end }}"]);
  });
});

describe("chartCrdTemplate", () => {
  const crd = (metadata: string): string =>
    `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n${metadata}spec:\n  group: example.dev\n`;

  it("adds the chart labels after the source's labels and the keep annotation after metadata", () => {
    const out = chartCrdTemplate(crd("  name: things.example.dev\n  labels:\n    a: b\n"), "x.yaml");
    expect(out).toContain('  labels:\n    a: b\n    {{- include "vigil.crdLabels" . | nindent 4 }}\n  {{- if .Values.crds.keep }}\n');
    expect(out).toContain("    helm.sh/resource-policy: keep\n  {{- end }}\nspec:\n  group: example.dev\n{{- end }}\n");
  });

  it("escapes Go template delimiters in the source so they reach the API server as text", () => {
    const out = chartCrdTemplate(`${crd("  name: t.example.dev\n  labels:\n    a: b\n")}  x: "{{ .y }}"\n`, "x.yaml");
    expect(out).toContain(`  x: "{{ "{{" }} .y {{ "}}" }}"`);
  });

  it("refuses a source it cannot wrap safely, naming the file", () => {
    expect(() => chartCrdTemplate(crd("  name: t.example.dev\n"), "nolabels.yaml")).toThrow(/nolabels\.yaml: metadata\.labels missing/);
    expect(() => chartCrdTemplate(crd("  name: t.example.dev\n  labels:\n    a: b\n  annotations:\n    c: d\n"), "ann.yaml")).toThrow(ChartCrdError);
    expect(() => chartCrdTemplate("kind: X\n", "bare.yaml")).toThrow(expect.objectContaining({ code: "CHART_CRD_UNSUPPORTED_SOURCE" }));
  });
});
