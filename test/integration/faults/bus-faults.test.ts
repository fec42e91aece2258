/**
 * Revocation that survives Redis (issue 8): one round of every bus fault with traffic running throughout
 * (bus-faults.ts says who is who). `npm run soak:bus` runs the same rounds for longer.
 */
import { describe, expect, it } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { applyVigilCrds } from "../operator/operator-support.ts";
import { report, runBusFaults, ZERO_TARGETS } from "./bus-faults.ts";

describe("the bus under faults, with traffic", () => {
  it("never admits a revoked identity or a forged grant, never cuts an allowed flow, never ends a newer login, counts truthfully, never answers 500", async () => {
    const env = clusterEnv();
    await applyVigilCrds(env);
    const counts = await runBusFaults(env, {
      until: () => true,
      log: (line) => {
        console.log(`[bus-faults] ${line}`);
      },
    });
    console.log(`[bus-faults] counts after ${counts.rounds} round(s):\n${report(counts)}`);
    expect(counts.requests).toBeGreaterThan(100);
    for (const key of ZERO_TARGETS) expect({ [key]: counts[key] }).toEqual({ [key]: 0 });
  }, 300_000);
});
