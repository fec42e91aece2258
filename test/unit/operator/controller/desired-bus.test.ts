import { describe, expect, it } from "vitest";
import { TERMINATION_PLAN_ANNOTATION } from "../../../../operator/api/annotations.ts";
import type { AccessPolicy, SessionTermination } from "../../../../operator/api/v1alpha1/index.ts";
import { desiredBusState } from "../../../../operator/controller/desired-bus.ts";
import { absoluteTimeoutsIn } from "../../../../operator/controller/session-termination.ts";
import { encodePlan, makePlan } from "../../../../operator/controller/termination-plan.ts";

const HOUR = 3_600_000;
const created = Date.parse("2026-01-02T03:00:00Z");
const SKEW = 5_000;

function policy(namespace: string, name: string, absoluteTimeout?: string): AccessPolicy {
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { namespace, name, uid: `uid-${name}`, generation: 1 },
    spec: {
      selector: { matchLabels: { app: name } },
      rules: [{ name: "staff", action: "Allow", identities: [{ group: "staff" }] }],
      ...(absoluteTimeout === undefined ? {} : { session: { absoluteTimeout } }),
    },
  };
}

function termination(namespace: string, name: string, extra: { revokeFor?: string; planExpiresAt?: number } = {}): SessionTermination {
  const annotations =
    extra.planExpiresAt === undefined ? undefined : { [TERMINATION_PLAN_ANNOTATION]: encodePlan(makePlan(created, extra.planExpiresAt, [], undefined)) };
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "SessionTermination",
    metadata: {
      namespace,
      name,
      uid: `uid-${name}`,
      creationTimestamp: new Date(created).toISOString(),
      ...(annotations === undefined ? {} : { annotations }),
    },
    spec: { target: { email: `${name}@example.com` }, reason: "test", ...(extra.revokeFor === undefined ? {} : { revokeFor: extra.revokeFor }) },
  };
}

/** An informer's `list` over plain objects, counting its calls. */
function cached<T extends { metadata: { namespace?: string } }>(objects: T[]): { list: (namespace?: string) => T[]; calls: number } {
  const source = {
    calls: 0,
    list(namespace?: string): T[] {
      source.calls++;
      return namespace === undefined ? [...objects] : objects.filter((o) => o.metadata.namespace === namespace);
    },
  };
  return source;
}

describe("desiredBusState", () => {
  it("gives each revocation without a plan its namespace's longest absolute session timeout, revokeFor first, the plan's expiry once planned", async () => {
    const policies = cached([policy("a", "p1", "1h"), policy("a", "p2", "12h"), policy("b", "p3", "bogus")]);
    const terminations = cached([
      termination("a", "t1"),
      termination("a", "t2", { revokeFor: "30m" }),
      termination("a", "t3", { planExpiresAt: created + 2 * HOUR }),
      termination("b", "t4"),
      termination("c", "t5"),
      termination("a", "t6"),
    ]);
    const desired = await desiredBusState(policies, terminations, [], SKEW);
    const expiry = Object.fromEntries(desired.revocations.map((r): [string, number] => [r.id.split("/")[1] ?? "", r.expiresAt - created]));
    expect(expiry).toEqual({ t1: 12 * HOUR, t2: 0.5 * HOUR, t3: 2 * HOUR, t4: 8 * HOUR, t5: 8 * HOUR, t6: 12 * HOUR });
    expect(desired.revocations.every((r) => r.tokensIssuedBefore === created + SKEW)).toBe(true);
    // p3 does not compile (its absolute timeout is not a duration): not published.
    expect(desired.policies.map((p) => p.name)).toEqual(["p1", "p2"]);
  });

  it("reads the policies once per namespace, not once per termination (10,000 terminations × 1,200 policies was a multi-second stall)", async () => {
    const policies = cached(Array.from({ length: 1_200 }, (_, i) => policy("bench", `p-${i}`, i === 7 ? "9h" : undefined)));
    const terminations = cached(Array.from({ length: 10_200 }, (_, i) => termination(i % 2 === 0 ? "bench" : "other", `t-${i}`)));
    // Other work runs meanwhile: the event loop turns while the desired state is computed.
    let turns = 0;
    let computing = true;
    const turn = (): void => {
      turns++;
      if (computing) setImmediate(turn);
    };
    setImmediate(turn);
    const desired = await desiredBusState(policies, terminations, [], SKEW);
    computing = false;
    expect(turns).toBeGreaterThanOrEqual(50);
    // One list of every policy to compile, then one per namespace of the terminations.
    expect(policies.calls).toBe(3);
    expect(desired.revocations).toHaveLength(10_200);
    expect(new Set(desired.revocations.map((r) => `${r.namespace}:${r.expiresAt - created}`))).toEqual(new Set([`bench:${9 * HOUR}`, `other:${8 * HOUR}`]));
  });
});

describe("desiredBusState from one resync to the next", () => {
  it("derives each cached object once (the bus controller runs it under the publish gate every resync period); a changed object anew", async () => {
    const policies = cached([policy("a", "p1"), policy("a", "p2")]);
    const objects = [termination("a", "t1"), termination("a", "t2", { planExpiresAt: created + HOUR })];
    const terminations = cached(objects);
    const first = await desiredBusState(policies, terminations, [], SKEW);
    const again = await desiredBusState(policies, terminations, [], SKEW);
    // The very same compiled policies and revocations: nothing compiled or built again.
    expect(again.policies).toHaveLength(2);
    again.policies.forEach((p, i) => {
      expect(p).toBe(first.policies[i]);
    });
    again.revocations.forEach((r, i) => {
      expect(r).toBe(first.revocations[i]);
    });

    objects[1] = termination("a", "t2", { planExpiresAt: created + 2 * HOUR }); // the informer replaced it
    const changed = await desiredBusState(policies, terminations, [], SKEW);
    expect(changed.revocations[0]).toBe(first.revocations[0]);
    expect(changed.revocations[1]).not.toBe(first.revocations[1]);
    expect(changed.revocations[1]?.expiresAt).toBe(created + 2 * HOUR);
    // Another clock skew or lifetime is another revocation, even from the same object.
    const skewed = await desiredBusState(policies, terminations, [], SKEW + 1);
    expect(skewed.revocations[0]?.tokensIssuedBefore).toBe(created + SKEW + 1);
  });
});

describe("absoluteTimeoutsIn", () => {
  it("parses each policy object's timeout once, and a changed policy (a new object) anew", () => {
    const first = policy("a", "p1", "2h");
    const objects = [first];
    const policies = { list: (): AccessPolicy[] => objects };
    expect(absoluteTimeoutsIn(policies, "a")).toEqual([7_200]);
    expect(absoluteTimeoutsIn(policies, "a")).toEqual([7_200]);
    objects[0] = policy("a", "p1", "3h");
    expect(absoluteTimeoutsIn(policies, "a")).toEqual([10_800]);
    objects[0] = policy("a", "p1", "nonsense");
    expect(absoluteTimeoutsIn(policies, "a")).toEqual([8 * 3_600]);
  });
});
