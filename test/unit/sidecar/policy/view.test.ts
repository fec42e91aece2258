import { describe, expect, it } from "vitest";
import type { BusSnapshot } from "../../../../operator/api/bus-client.ts";
import { PolicyView } from "../../../../sidecar/policy/view.ts";
import { withFailureMode, withSelector } from "../../../builders/access-policy.ts";
import { compiledIn, revocation } from "../../../builders/bus.ts";

const workload = { namespace: "shop", labels: { app: "web" } };
const web = compiledIn("shop", "web", withSelector({ matchLabels: { app: "web" } }));
const api = compiledIn("shop", "api", withSelector({ matchLabels: { app: "api" } }));
const elsewhere = compiledIn("other", "web", withSelector({}));
const snapshot = (fields: Partial<BusSnapshot> = {}): BusSnapshot => ({
  revision: 5,
  streamId: "1-0",
  policies: [web, api, elsewhere].map((policy) => ({ v: 1 as const, revision: 1, policy })),
  revocations: [],
  invalid: 0,
  ...fields,
});

describe("the sidecar's view of the bus", () => {
  it("selects only the policies of its namespace whose selector matches its labels", () => {
    const view = new PolicyView(workload);
    expect(view.loaded).toBe(false);
    view.applySnapshot(snapshot());
    expect(view.loaded).toBe(true);
    expect(view.revision).toBe(5);
    expect(view.selected.map((p) => `${p.namespace}/${p.name}`)).toEqual(["shop/web"]);
  });

  it("reports a change for long-lived flows only when a selecting policy changed", () => {
    const view = new PolicyView(workload);
    view.applySnapshot(snapshot());
    expect(view.applyEvent({ v: 1, type: "policy.upsert", revision: 6, policy: { ...api, hash: "changed" } }).policiesChanged).toBe(false);
    expect(view.applyEvent({ v: 1, type: "policy.upsert", revision: 7, policy: { ...web, hash: "changed" } }).policiesChanged).toBe(true);
    expect(view.applyEvent({ v: 1, type: "policy.delete", revision: 8, namespace: "shop", name: "web" }).policiesChanged).toBe(true);
    expect(view.selected).toEqual([]);
    expect(view.revision).toBe(8);
  });

  it("is strict when any selecting policy is Strict", () => {
    const view = new PolicyView(workload);
    const lenient = compiledIn("shop", "web", withSelector({}), withFailureMode("BestEffort"));
    view.applySnapshot(snapshot({ policies: [{ v: 1, revision: 1, policy: lenient }] }));
    expect(view.strict).toBe(false);
    view.applyEvent({ v: 1, type: "policy.upsert", revision: 6, policy: compiledIn("shop", "strict", withSelector({})) });
    expect(view.strict).toBe(true);
  });

  it("applies a termination once, whether it arrives as an event, in a snapshot, or both", () => {
    const view = new PolicyView(workload);
    view.applySnapshot(snapshot());
    const cut = revocation({ namespace: "shop", id: "shop/cut/1", expiresAt: Date.now() + 60_000 });
    expect(view.applyEvent({ v: 1, type: "termination", revision: 6, revocation: cut }).newRevocations).toEqual([cut]);
    expect(view.applyEvent({ v: 1, type: "termination", revision: 6, revocation: cut }).newRevocations).toEqual([]);
    expect(view.applySnapshot(snapshot({ revocations: [cut] })).newRevocations).toEqual([]);
    const missed = { ...cut, id: "shop/cut/2" };
    expect(view.applySnapshot(snapshot({ revocations: [cut, missed] })).newRevocations).toEqual([missed]);
  });

  it("honours only unexpired revocations of its own namespace", () => {
    const view = new PolicyView(workload);
    const now = Date.now();
    view.applySnapshot(
      snapshot({
        revocations: [
          revocation({ id: "a", namespace: "shop", expiresAt: now + 1000 }),
          revocation({ id: "b", namespace: "shop", expiresAt: now - 1 }),
          revocation({ id: "c", namespace: "other", expiresAt: now + 1000 }),
        ],
      }),
    );
    expect(view.revocationsInForce(now).map((r) => r.id)).toEqual(["a"]);
    view.prune(now + 2000);
    expect(view.revocationsInForce(now)).toEqual([]);
  });
});
