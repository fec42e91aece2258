/**
 * The Node flags the chart puts on the sidecar's and the operator's commands (docs/decisions/perf-0002), rendered
 * by the real helm: `--max-old-space-size` is `node.heapPercentOfLimit` percent of the container's memory limit in
 * MiB (rounded down) unless `node.maxOldSpaceSizeMb` sets it, none without a limit; `--max-semi-space-size` from
 * `node.maxSemiSpaceSizeMb` (none at 0). The webhook's own parser accepts the injected command, the benchmarks read
 * the same flags (bench/support/chart.ts), and values.schema.json refuses what the helper cannot use.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { parseInjectionConfig } from "../../../operator/webhook/config.ts";
import { chartDir, helm, objectsOf, type K8sObject } from "./helm.ts";

const SIDECAR = "/app/dist/sidecar/main.js";
const OPERATOR = "/app/dist/operator/main.js";

interface Commands {
  sidecar: string[];
  operator: string[];
}

describe("the chart's Node flags", () => {
  let env: ClusterEnv;
  beforeAll(() => {
    env = clusterEnv();
  });

  const render = async (...args: string[]): Promise<{ code: number; stderr: string; commands?: Commands }> => {
    const result = await helm(env, ["template", "vigil", chartDir, "--namespace", "vigil-system", ...args]);
    if (result.code !== 0) return { code: result.code, stderr: result.stderr };
    const objects = objectsOf(result.stdout);
    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "vigil-injection") as
      (K8sObject & { data: { "injection.json": string } }) | undefined;
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "vigil-operator") as
      (K8sObject & { spec: { template: { spec: { containers: { name: string; command: string[] }[] } } } }) | undefined;
    const injection = parseInjectionConfig(JSON.parse(configMap!.data["injection.json"]));
    const operator = deployment!.spec.template.spec.containers.find((c) => c.name === "operator")!.command;
    return { code: 0, stderr: result.stderr, commands: { sidecar: [...injection.command], operator } };
  };
  const commands = async (...args: string[]): Promise<Commands> => {
    const r = await render(...args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.commands!;
  };

  it("default values: half of each limit (sidecar 128Mi → 64, operator 256Mi → 128) and the semi-spaces", async () => {
    expect(await commands()).toEqual({
      sidecar: ["node", "--max-semi-space-size=2", "--max-old-space-size=64", SIDECAR],
      operator: ["node", "--max-semi-space-size=4", "--max-old-space-size=128", OPERATOR],
    });
  });

  it.each([
    ["128Mi", 50, 64],
    ["128Mi", 75, 96],
    ["1Gi", 50, 512],
    ["0.5Gi", 50, 256],
    ["500M", 50, 238], // 476.8 MiB
    ["134217728", 50, 64], // bytes, as a string
    ["200Mi", 33, 66],
  ])("sidecar limit %s at %i percent → --max-old-space-size=%i", async (limit, percent, mib) => {
    const { sidecar } = await commands("--set-string", `sidecar.resources.limits.memory=${limit}`, "--set", `sidecar.node.heapPercentOfLimit=${percent}`);
    expect(sidecar).toEqual(["node", "--max-semi-space-size=2", `--max-old-space-size=${mib}`, SIDECAR]);
  });

  it("a limit given as a YAML number of bytes", async () => {
    const { operator } = await commands("--set-json", "operator.resources.limits.memory=402653184");
    expect(operator).toContain("--max-old-space-size=192");
  });

  it("maxOldSpaceSizeMb wins over the percentage; no limit and no fixed size: no old-space flag; semi-space 0: none", async () => {
    expect((await commands("--set", "operator.node.maxOldSpaceSizeMb=100")).operator).toEqual([
      "node",
      "--max-semi-space-size=4",
      "--max-old-space-size=100",
      OPERATOR,
    ]);
    expect((await commands("--set-json", "sidecar.resources.limits=null")).sidecar).toEqual(["node", "--max-semi-space-size=2", SIDECAR]);
    expect((await commands("--set", "sidecar.node.maxSemiSpaceSizeMb=0")).sidecar).toEqual(["node", "--max-old-space-size=64", SIDECAR]);
  });

  it("values.schema.json refuses unknown keys, wrong types and out-of-range values of node", async () => {
    const refusal = async (...args: string[]): Promise<string> => {
      const r = await render(...args);
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    expect(await refusal("--set", "sidecar.node.heapPercentOfLimit=95")).toContain("at '/sidecar/node/heapPercentOfLimit': maximum: got 95, want 90");
    expect(await refusal("--set", "operator.node.heapPercentOfLimit=5")).toContain("at '/operator/node/heapPercentOfLimit': minimum: got 5, want 10");
    expect(await refusal("--set", "operator.node.extra=1")).toContain("at '/operator/node': additional properties 'extra' not allowed");
    expect(await refusal("--set", "sidecar.node.maxOldSpaceSizeMb=big")).toContain("at '/sidecar/node/maxOldSpaceSizeMb': got string, want integer");
    expect(await refusal("--set", "sidecar.node.maxSemiSpaceSizeMb=128")).toContain("at '/sidecar/node/maxSemiSpaceSizeMb'");
    expect(await refusal("--set-string", "sidecar.resources.limits.memory=12Qi")).toContain("at '/sidecar/resources/limits/memory'");
  });
});
