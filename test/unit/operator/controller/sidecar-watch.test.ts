import { describe, expect, it } from "vitest";
import type { Heartbeat } from "../../../../operator/api/bus/messages.ts";
import { changedNamespaces, fingerprintByNamespace } from "../../../../operator/controller/sidecar-watch.ts";

function hb(namespace: string, pod: string, appliedRevision = 1, labels: Record<string, string> = { app: "web" }): Heartbeat {
  return { v: 2, pod, namespace, labels, epoch: "", appliedRevision, integrity: "", at: 0 };
}

describe("live sidecar changes → namespaces to reconcile", () => {
  const before = fingerprintByNamespace([hb("a", "web-0"), hb("a", "web-1"), hb("b", "db-0")]);

  it("nothing changed (order and heartbeat time do not matter)", () => {
    const after = fingerprintByNamespace([{ ...hb("b", "db-0"), at: 99 }, hb("a", "web-1"), hb("a", "web-0")]);
    expect(changedNamespaces(before, after)).toEqual([]);
  });

  it("a sidecar applying a new revision, changing labels, appearing or going away marks its namespace", () => {
    expect(changedNamespaces(before, fingerprintByNamespace([hb("a", "web-0", 2), hb("a", "web-1"), hb("b", "db-0")]))).toEqual(["a"]);
    expect(changedNamespaces(before, fingerprintByNamespace([hb("a", "web-0"), hb("a", "web-1"), hb("b", "db-0", 1, { app: "db" })]))).toEqual(["b"]);
    expect(changedNamespaces(before, fingerprintByNamespace([hb("a", "web-0"), hb("a", "web-1"), hb("b", "db-0"), hb("c", "x")]))).toEqual(["c"]);
    expect(changedNamespaces(before, fingerprintByNamespace([hb("a", "web-0")]))).toEqual(["a", "b"]);
  });
});
