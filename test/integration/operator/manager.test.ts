/**
 * Two operator replicas (Managers) on one Lease against the real API server: only the leader reconciles; when it
 * stops, the other takes over and reconciles what changes next.
 */
import { Registry } from "prom-client";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { Manager, type RunOutcome } from "../../../operator/controller/manager.ts";
import type { ReconcileContext, Reconciler, Result } from "../../../operator/controller/reconciler.ts";
import type { Informer } from "../../../operator/kube/informer.ts";
import { splitKey } from "../../../operator/kube/keys.ts";
import { customObjectSource } from "../../../operator/kube/sources.ts";
import { updateStatus } from "../../../operator/kube/status.ts";
import { WIDGETS, applyWidgetCrd, createNamespace, kubeConfig, quietLog, uniqueName, widgets } from "./kube-support.ts";

const env = clusterEnv();
const direct = widgets(kubeConfig(env));
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await applyWidgetCrd(env);
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Level-triggered: reads the cached Widget and stamps which replica reconciled it. */
class StampReconciler implements Reconciler {
  readonly keys: string[] = [];
  readonly identity: string;
  readonly cache: () => Informer;
  constructor(identity: string, cache: () => Informer) {
    this.identity = identity;
    this.cache = cache;
  }
  async reconcile(key: string, ctx: ReconcileContext): Promise<Result> {
    this.keys.push(key);
    if (this.cache().get(key) === undefined) return {};
    const { namespace, name } = splitKey(key);
    await updateStatus(direct.api, { ...WIDGETS, namespace, name }, () => ({ reconciledBy: this.identity }));
    ctx.log.info("stamped");
    return {};
  }
}

function replica(namespace: string) {
  const identity = uniqueName("replica");
  const kc = kubeConfig(env);
  const manager = new Manager({
    kc,
    log: quietLog,
    registry: new Registry(),
    resyncMs: 0,
    leaderElection: { leaseName: "vigil-operator", leaseNamespace: namespace, identity, leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 },
  });
  const informer = manager.informer(customObjectSource(kc, { ...WIDGETS, namespace }));
  const reconciler = new StampReconciler(identity, () => informer);
  manager.controller({ name: "widget", kind: "Widget", reconciler, triggers: [{ informer }] });
  const abort = new AbortController();
  const outcome: Promise<RunOutcome> = manager.run(abort.signal);
  cleanups.push(async () => {
    abort.abort();
    await outcome;
  });
  return { identity, manager, reconciler, abort, outcome };
}

describe("Manager", () => {
  it("only the leader reconciles, and the standby takes over when the leader stops", async () => {
    const ns = await createNamespace(env);
    const a = replica(ns);
    const b = replica(ns);
    await vi.waitFor(
      () => {
        expect([a, b].filter((r) => r.manager.isLeader())).toHaveLength(1);
      },
      { timeout: 10_000 },
    );
    const [leader, standby] = a.manager.isLeader() ? [a, b] : [b, a];
    await vi.waitFor(() => {
      expect(standby.manager.readiness()).toEqual({ ready: true });
    });

    await direct.create(ns, "w1");
    await vi.waitFor(async () => {
      expect((await direct.get(ns, "w1")).status).toEqual({ reconciledBy: leader.identity });
    });
    expect(standby.reconciler.keys).toEqual([]);

    leader.abort.abort();
    await expect(leader.outcome).resolves.toBe("stopped");
    await vi.waitFor(
      () => {
        expect(standby.manager.isLeader()).toBe(true);
      },
      { timeout: 5_000 },
    );

    await direct.create(ns, "w2");
    await vi.waitFor(async () => {
      expect((await direct.get(ns, "w2")).status).toEqual({ reconciledBy: standby.identity });
    });
    // The new leader also reconciled what it found in its warm cache (level-triggered): w1 now carries its stamp.
    await vi.waitFor(async () => {
      expect((await direct.get(ns, "w1")).status).toEqual({ reconciledBy: standby.identity });
    });
    expect(leader.reconciler.keys).not.toContain(`${ns}/w2`);
  });
});
