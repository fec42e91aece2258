/**
 * What the chart deploys, read from `helm template` of charts/vigil with its default values (the real helm of the
 * test harness): the Node flags on the injected sidecar's command and on the operator's, and each container's
 * memory request and limit. The benchmarks run the built programs with exactly these flags and put them in memory
 * cgroups with exactly these limits, so a figure is the figure of what a user installs.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureTools } from "../../test/cluster/tools.ts";

export interface Deployed {
  /** Node flags between `node` and the program (e.g. `--max-semi-space-size=2`). */
  nodeArgs: string[];
  memoryRequestBytes: number;
  memoryLimitBytes: number;
}

export interface ChartDeployment {
  sidecar: Deployed;
  operator: Deployed;
}

/** The repository whose built programs (`dist/`) and chart a benchmark runs: this one, or BENCH_PROGRAM_ROOT. */
export const programRoot = resolve(process.env["BENCH_PROGRAM_ROOT"] ?? resolve(import.meta.dirname, "../.."));

export async function chartDeployment(chartDir = resolve(programRoot, "charts/vigil")): Promise<ChartDeployment> {
  const tools = await ensureTools();
  const home = await mkdtemp(join(tmpdir(), "vigil-bench-helm-"));
  try {
    const manifest = await new Promise<string>((done, fail) => {
      const env = { ...process.env, HELM_CACHE_HOME: join(home, "c"), HELM_CONFIG_HOME: join(home, "g"), HELM_DATA_HOME: join(home, "d") };
      execFile(tools.helm, ["template", "vigil", chartDir, "-n", "vigil-system"], { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err === null) done(stdout);
        else fail(new Error(`helm template failed: ${stderr}`));
      });
    });
    return fromManifest(manifest);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

interface Container {
  name: string;
  command?: string[];
  resources?: { requests?: { memory?: string }; limits?: { memory?: string } };
}

function fromManifest(manifest: string): ChartDeployment {
  const objects = parseAllDocuments(manifest).map(
    (d) =>
      d.toJS() as {
        kind?: string;
        metadata?: { name?: string };
        data?: Record<string, string>;
        spec?: { template?: { spec?: { containers?: Container[] } } };
      } | null,
  );
  const injection = objects.find((o) => o?.kind === "ConfigMap" && o.data?.["injection.json"] !== undefined);
  const operator = objects
    .find((o) => o?.kind === "Deployment" && (o.metadata?.name ?? "").endsWith("-operator"))
    ?.spec?.template?.spec?.containers?.find((c) => c.name === "operator");
  if (injection?.data === undefined || operator === undefined)
    throw new Error("the chart's injection config or operator Deployment was not found in helm template's output");
  const sidecar = JSON.parse(injection.data["injection.json"] ?? "{}") as Container;
  return { sidecar: deployed(sidecar, "/app/dist/sidecar/main.js"), operator: deployed(operator, "/app/dist/operator/main.js") };
}

function deployed(c: Container, program: string): Deployed {
  const command = c.command ?? [];
  if (command[0] !== "node" || command.at(-1) !== program) throw new Error(`unexpected command ${JSON.stringify(command)}`);
  return { nodeArgs: command.slice(1, -1), memoryRequestBytes: bytes(c.resources?.requests?.memory), memoryLimitBytes: bytes(c.resources?.limits?.memory) };
}

const UNITS: Record<string, number> = { "": 1, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3 };

/** A Kubernetes memory quantity in bytes (NaN when absent). */
export function bytes(quantity: string | number | undefined): number {
  if (quantity === undefined) return Number.NaN;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(quantity));
  const factor = UNITS[m?.[2] ?? "?"];
  if (m === null || factor === undefined) throw new Error(`unsupported memory quantity ${String(quantity)}`);
  return Math.floor(Number(m[1]) * factor);
}
