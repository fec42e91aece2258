/**
 * Leader election on a real Lease: two candidates → exactly one leads; graceful stop releases the lease for a
 * fast failover; a crashed leader (no release) is replaced within the lease duration, not before; a leader cut
 * off from the API server stops acting before the other one starts.
 */
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { LeaderElector } from "../../../operator/kube/leader-election.ts";
import { startRelay, type TcpRelay } from "./tcp-relay.ts";
import { createNamespace, kubeConfig, kubeConfigVia, quietLog, uniqueName } from "./kube-support.ts";

const env = clusterEnv();
const LEASE_MS = 3_000;
const RENEW_DEADLINE_MS = 2_000;
const RETRY_MS = 500;
/** Worst case for a standby: lease duration + one jittered retry (×2.2) + request time. */
const TAKEOVER_BOUND_MS = LEASE_MS + 2.2 * RETRY_MS + 1_000;

let relay: TcpRelay;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const api = new URL(env.apiServerUrl);
  relay = await startRelay(api.hostname, Number(api.port));
});
afterEach(async () => {
  relay.resume();
  for (const stop of stops.splice(0)) await stop();
});
afterAll(async () => {
  await relay.close();
});

interface Candidate {
  identity: string;
  elector: LeaderElector;
  abort: AbortController;
  done: Promise<void>;
  startedAt: number | undefined;
  stoppedAt: number | undefined;
}

function candidate(namespace: string, identity: string, opts: { releaseOnCancel?: boolean; viaRelay?: boolean } = {}): Candidate {
  const kc = opts.viaRelay === true ? kubeConfigVia(env, `https://127.0.0.1:${relay.port}`) : kubeConfig(env);
  const abort = new AbortController();
  const c: Candidate = { identity, abort, startedAt: undefined, stoppedAt: undefined } as Candidate;
  c.elector = new LeaderElector({
    kc,
    leaseName: "vigil-operator",
    leaseNamespace: namespace,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    log: quietLog,
    releaseOnCancel: opts.releaseOnCancel ?? true,
    onStartedLeading: () => {
      c.startedAt = Date.now();
    },
    onStoppedLeading: () => {
      c.stoppedAt = Date.now();
    },
  });
  c.done = c.elector.run(abort.signal);
  stops.push(async () => {
    abort.abort();
    await c.done;
  });
  return c;
}

/**
 * Resolves once `standby` has read the Lease held by `leader` in `reads` different versions: it kept trying
 * while the leader kept renewing (the "nothing happened" window of these tests, waited for as events).
 */
async function standbySawRenewals(standby: Candidate, leader: Candidate, reads: number): Promise<void> {
  const versions = new Set<string>();
  await vi.waitFor(
    () => {
      const lease = standby.elector.lastObservedLease();
      const version = lease?.metadata?.resourceVersion;
      if (lease?.spec?.holderIdentity === leader.identity && version !== undefined) versions.add(version);
      expect(versions.size).toBeGreaterThanOrEqual(reads);
    },
    { timeout: (reads + 1) * 2.2 * RETRY_MS + 2_000, interval: 20 },
  );
}

async function leaseHolder(namespace: string): Promise<string | undefined> {
  const api = kubeConfig(env).makeApiClient(CoordinationV1Api);
  return (await api.readNamespacedLease({ name: "vigil-operator", namespace })).spec?.holderIdentity;
}

describe("LeaderElector", () => {
  it("with two candidates on one Lease exactly one leads, and the Lease names it", async () => {
    const ns = await createNamespace(env);
    const a = candidate(ns, uniqueName("a"));
    const b = candidate(ns, uniqueName("b"));
    await vi.waitFor(() => {
      expect([a, b].filter((c) => c.startedAt !== undefined)).toHaveLength(1);
    });
    // Several renew periods later (the standby saw the leader renew three times) it is still exactly one, the same one.
    const [first, second] = a.startedAt !== undefined ? [a, b] : [b, a];
    await standbySawRenewals(second, first, 3);
    const leaders = [a, b].filter((c) => c.elector.isLeader());
    expect(leaders).toHaveLength(1);
    expect([a, b].filter((c) => c.startedAt !== undefined)).toHaveLength(1);
    expect(await leaseHolder(ns)).toBe(leaders[0]!.identity);
  });

  it("a graceful stop stops acting, then releases the Lease so the standby takes over at once", async () => {
    const ns = await createNamespace(env);
    const a = candidate(ns, uniqueName("a"));
    await vi.waitFor(() => {
      expect(a.elector.isLeader()).toBe(true);
    });
    const b = candidate(ns, uniqueName("b"));
    await standbySawRenewals(b, a, 2);
    expect(b.elector.isLeader()).toBe(false);

    const stoppingAt = Date.now();
    a.abort.abort();
    await a.done;
    expect(a.stoppedAt).toBeDefined();
    // Released: the standby does not wait for the lease to expire, only for its next retry.
    await vi.waitFor(
      () => {
        expect(b.startedAt).toBeDefined();
      },
      { timeout: 2.2 * RETRY_MS + 1_000, interval: 50 },
    );
    expect(b.startedAt! - stoppingAt).toBeLessThan(LEASE_MS);
    expect(b.startedAt!).toBeGreaterThanOrEqual(a.stoppedAt!);
    expect(await leaseHolder(ns)).toBe(b.identity);
  });

  it("when the leader crashes (no release) the standby takes over after the lease expires, within the lease duration bound", async () => {
    const ns = await createNamespace(env);
    const a = candidate(ns, uniqueName("a"), { releaseOnCancel: false });
    await vi.waitFor(() => {
      expect(a.elector.isLeader()).toBe(true);
    });
    const b = candidate(ns, uniqueName("b"));
    await standbySawRenewals(b, a, 2);

    const crashedAt = Date.now();
    a.abort.abort();
    await a.done;
    expect(await leaseHolder(ns)).toBe(a.identity);
    await vi.waitFor(
      () => {
        expect(b.startedAt).toBeDefined();
      },
      { timeout: TAKEOVER_BOUND_MS + 1_000, interval: 50 },
    );
    // Not before the crashed leader's lease could have run out (its last renew was at most one retry before the crash)…
    expect(b.startedAt! - crashedAt).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS);
    // …and within the bound.
    expect(b.startedAt! - crashedAt).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    expect(await leaseHolder(ns)).toBe(b.identity);
  });

  it("a leader that cannot renew stops acting before the other candidate starts", async () => {
    const ns = await createNamespace(env);
    const a = candidate(ns, uniqueName("a"), { viaRelay: true });
    await vi.waitFor(() => {
      expect(a.elector.isLeader()).toBe(true);
    });
    const b = candidate(ns, uniqueName("b"));
    await standbySawRenewals(b, a, 2);
    expect(b.elector.isLeader()).toBe(false);

    relay.pause();
    await vi.waitFor(
      () => {
        expect(b.startedAt).toBeDefined();
      },
      { timeout: TAKEOVER_BOUND_MS + 2_000, interval: 50 },
    );
    await a.done;
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stoppedAt).toBeDefined();
    expect(a.stoppedAt!).toBeLessThan(b.startedAt!);
    expect(await leaseHolder(ns)).toBe(b.identity);
  });
});
