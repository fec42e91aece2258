import { describe, expect, it } from "vitest";
import { NamespaceDigest } from "../../../../operator/api/bus/digest.ts";
import type { Change, EventBody, Revocation, RevocationEntry } from "../../../../operator/api/bus/messages.ts";
import type { NamespaceSnapshot } from "../../../../operator/api/bus/snapshot.ts";
import type { CompiledPolicy } from "../../../../operator/api/compiled-policy.ts";
import { PolicyView } from "../../../../sidecar/policy/view.ts";
import { withFailureMode, withSelector } from "../../../builders/access-policy.ts";
import { compiledIn, revocation } from "../../../builders/bus.ts";

const EPOCH = "EEEEEEEEEEEEEEEEEEEEEE";
const workload = { namespace: "shop", labels: { app: "web" } };
const web = compiledIn("shop", "web", withSelector({ matchLabels: { app: "web" } }));
const api = compiledIn("shop", "api", withSelector({ matchLabels: { app: "api" } }));
const header = (revision = 1, epoch = EPOCH) => ({ v: 2 as const, epoch, namespace: "shop", revision });
const revoked = (r: Revocation, liftedAt?: number): RevocationEntry => ({
  ...header(),
  type: "revocation",
  revocation: r,
  ...(liftedAt === undefined ? {} : { liftedAt }),
});

function snapshot(policies: CompiledPolicy[], revocations: RevocationEntry[] = [], revision = 5, epoch = EPOCH): NamespaceSnapshot {
  return {
    epoch: { v: 2, type: "epoch", epoch, createdAt: 1, signedAt: 2 },
    namespace: "shop",
    head: { ...header(revision, epoch), type: "head", digest: "0".repeat(64), entries: policies.length + revocations.length },
    policies: policies.map((policy) => ({ ...header(1, epoch), type: "policy", policy })),
    revocations,
    digest: new NamespaceDigest(),
    signers: new Set(["k1"]),
  };
}

const event = (revision: number, ...changes: Change[]): EventBody => ({ ...header(revision), type: "event", prev: revision - 1, changes });
const put = (policy: CompiledPolicy): Change => ({ op: "put", entry: { ...header(), type: "policy", policy } });

describe("the sidecar's view of its namespace on the bus", () => {
  it("selects the policies whose selector matches its labels", () => {
    const view = new PolicyView(workload);
    expect(view.loaded).toBe(false);
    view.applySnapshot(snapshot([web, api]));
    expect(view.loaded).toBe(true);
    expect(view.revision).toBe(5);
    expect(view.epoch).toBe(EPOCH);
    expect(view.selected.map((p) => p.name)).toEqual(["web"]);
  });

  it("reports a change for long-lived flows only when a selecting policy changed", () => {
    const view = new PolicyView(workload);
    view.applySnapshot(snapshot([web, api]));
    expect(view.applyEvent(event(6, put({ ...api, hash: "a".repeat(64) }))).policiesChanged).toBe(false);
    expect(view.applyEvent(event(7, put({ ...web, hash: "b".repeat(64) }))).policiesChanged).toBe(true);
    expect(view.applyEvent(event(8, { op: "delete", field: "p:web" })).policiesChanged).toBe(true);
    expect(view.selected).toEqual([]);
    expect(view.revision).toBe(8);
  });

  it("is strict when any selecting policy is Strict", () => {
    const view = new PolicyView(workload);
    view.applySnapshot(snapshot([compiledIn("shop", "web", withSelector({}), withFailureMode("BestEffort"))]));
    expect(view.strict).toBe(false);
    view.applyEvent(event(6, put(compiledIn("shop", "strict", withSelector({})))));
    expect(view.strict).toBe(true);
  });

  it("applies a termination once, whether it arrives as an event, in a snapshot, or both", () => {
    const view = new PolicyView(workload);
    view.applySnapshot(snapshot([web]));
    const cut = revocation({ namespace: "shop", id: "shop/cut/1", expiresAt: Date.now() + 60_000 });
    expect(view.applyEvent(event(6, { op: "put", entry: revoked(cut) })).newRevocations).toEqual([cut]);
    expect(view.applySnapshot(snapshot([web], [revoked(cut)], 6)).newRevocations).toEqual([]);
    const missed = { ...cut, id: "shop/cut/2" };
    expect(view.applySnapshot(snapshot([web], [revoked(cut), revoked(missed)], 7)).newRevocations).toEqual([missed]);
  });

  it("keeps a revocation a snapshot no longer holds (Redis may have lost it): only expiry or a lift removes it", () => {
    const view = new PolicyView(workload);
    const now = Date.now();
    const cut = revocation({ namespace: "shop", id: "shop/cut/1", expiresAt: now + 60_000 });
    view.applySnapshot(snapshot([web], [revoked(cut)]));
    const rebuilt = view.applySnapshot(snapshot([web], [], 9, "FFFFFFFFFFFFFFFFFFFFFF"));
    expect(rebuilt.newEpoch).toBe(true);
    expect(view.revocationsInForce(now).map((r) => r.id)).toEqual(["shop/cut/1"]);
    view.applySnapshot(snapshot([web], [revoked(cut, now)], 10, "FFFFFFFFFFFFFFFFFFFFFF"));
    expect(view.hasRevocations).toBe(false);
  });

  it("lifts and deletes revocations only through events the operator signed", () => {
    const view = new PolicyView(workload);
    const now = Date.now();
    const a = revocation({ namespace: "shop", id: "shop/a/1", expiresAt: now + 60_000 });
    const b = revocation({ namespace: "shop", id: "shop/b/1", expiresAt: now + 60_000 });
    view.applySnapshot(snapshot([web], [revoked(a), revoked(b)]));
    view.applyEvent(event(6, { op: "put", entry: revoked(a, now) }));
    view.applyEvent(event(7, { op: "delete", field: "r:shop/b/1" }));
    expect(view.revocationsInForce(now)).toEqual([]);
  });

  it("drops revocations once they expire", () => {
    const view = new PolicyView(workload);
    const now = Date.now();
    view.applySnapshot(
      snapshot(
        [web],
        [revoked(revocation({ id: "a", namespace: "shop", expiresAt: now + 1000 })), revoked(revocation({ id: "b", namespace: "shop", expiresAt: now - 1 }))],
      ),
    );
    expect(view.revocationsInForce(now).map((r) => r.id)).toEqual(["a"]);
    view.prune(now + 2000);
    expect(view.revocationsInForce(now)).toEqual([]);
    expect(view.hasRevocations).toBe(false);
  });
});
