import { describe, expect, it } from "vitest";
import { parseFieldSelector, type FieldSelector } from "../../../../operator/sessions-api/core/field-selector.ts";
import { listPage } from "../../../../operator/sessions-api/core/list.ts";
import { clientEvent } from "../../../../operator/sessions-api/core/watch-filter.ts";
import { SessionIndex, type IndexEvent } from "../../../../operator/sessions-api/index/session-index.ts";
import { seenAt, sid, T0 } from "./builders.ts";

const selector = (text: string): FieldSelector => {
  const p = parseFieldSelector(text);
  if (!p.ok) throw new Error(p.message);
  return p.selector;
};

function filled(): SessionIndex {
  const index = new SessionIndex({ now: () => T0, rvBase: 1 });
  // 5 sessions in "b", 3 in "a" (two of them bob's), one in "c"; ids inserted out of order.
  for (const n of [5, 3, 1, 4, 2]) index.upsertSession(seenAt(sid(n), "b", T0));
  for (const n of [9, 7, 8]) index.upsertSession(seenAt(sid(n), "a", T0, n === 8 ? {} : { identity: { issuer: "i", subject: "bob", groups: [] } }));
  index.upsertSession(seenAt(sid(6), "c", T0));
  return index;
}

describe("list pages", () => {
  it("walk (namespace, name) in order, with a continue position and the count left", () => {
    const index = filled();
    const keys: string[] = [];
    let after: { namespace: string; name: string } | undefined;
    const remaining: (number | undefined)[] = [];
    for (;;) {
      const page = listPage(index, { namespace: "", selector: [], limit: 4, after });
      keys.push(...page.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
      remaining.push(page.remaining);
      if (!page.more) break;
      after = page.last;
    }
    expect(keys).toEqual([...[7, 8, 9].map((n) => `a/${sid(n)}`), ...[1, 2, 3, 4, 5].map((n) => `b/${sid(n)}`), `c/${sid(6)}`]);
    expect(remaining).toEqual([5, 1, undefined]);
  });

  it("never repeat or skip an object that stays, when others come and go between pages", () => {
    const index = filled();
    const first = listPage(index, { namespace: "b", selector: [], limit: 2 });
    expect(first.items.map((o) => o.metadata.name)).toEqual([sid(1), sid(2)]);
    index.upsertSession(seenAt(sid(0), "b", T0)); // sorts before the position: not in later pages
    index.deleteObject("b", sid(3), { sessionTermination: undefined, user: "u", time: T0 });
    const second = listPage(index, { namespace: "b", selector: [], limit: 10, after: first.last });
    expect(second.items.map((o) => o.metadata.name)).toEqual([sid(4), sid(5)]);
    expect(second.more).toBe(false);
  });

  it("filter by field selector (and then count nothing left), in one namespace or all", () => {
    const index = filled();
    const bob = listPage(index, { namespace: "", selector: selector("user=bob"), limit: 1 });
    expect(bob.items.map((o) => o.metadata.name)).toEqual([sid(7)]);
    expect(bob.more).toBe(true);
    expect(bob.remaining).toBeUndefined();
    const rest = listPage(index, { namespace: "", selector: selector("user=bob"), limit: 1, after: bob.last });
    expect(rest.items.map((o) => o.metadata.name)).toEqual([sid(9)]);
    expect(listPage(index, { namespace: "zzz", selector: [], limit: 0 }).items).toEqual([]);
  });
});

describe("what a watcher sees", () => {
  const events = (): IndexEvent[] => {
    const index = new SessionIndex({ now: () => T0, rvBase: 1 });
    const out: IndexEvent[] = [];
    index.subscribe((e) => out.push(e));
    index.upsertSession(seenAt(sid(1), "shop", T0)); // ADDED, Active
    index.endSession({ sessionId: sid(1), time: T0 + 1, reason: "IdleTimeout" }); // MODIFIED, Ended
    index.upsertSession(seenAt(sid(2), "web", T0, { workload: { namespace: "web", pod: "a" } })); // other namespace
    index.sweep(T0 + 48 * 3_600_000); // both dropped
    return out;
  };

  it("follows selector transitions: matching → ADDED, stops matching → DELETED", () => {
    const active = events().map((e) => clientEvent(e, { namespace: "shop", name: undefined, selector: selector("state=Active") })?.type);
    expect(active).toEqual(["ADDED", "DELETED", undefined, undefined, undefined]);
    const ended = events().map((e) => clientEvent(e, { namespace: "shop", name: undefined, selector: selector("state=Ended") })?.type);
    expect(ended).toEqual([undefined, "ADDED", undefined, "DELETED", undefined]);
    const all = events().map((e) => clientEvent(e, { namespace: "", name: undefined, selector: [] })?.type);
    expect(all).toEqual(["ADDED", "MODIFIED", "ADDED", "DELETED", "DELETED"]);
  });

  it("sees one object only when watching by name", () => {
    const seen = events()
      .map((e) => clientEvent(e, { namespace: "", name: sid(2), selector: [] })?.type)
      .filter((t) => t !== undefined);
    expect(seen).toEqual(["ADDED", "DELETED"]);
  });
});
