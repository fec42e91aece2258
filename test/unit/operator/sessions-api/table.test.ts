import { describe, expect, it } from "vitest";
import type { VigilSession } from "../../../../operator/api/sessions/v1alpha1.ts";
import { humanDuration } from "../../../../operator/sessions-api/core/human-duration.ts";
import { COLUMNS, rowCells, toTable } from "../../../../operator/sessions-api/core/table.ts";

const NOW = Date.parse("2026-11-01T12:00:00Z");
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();

const session = (over: Partial<VigilSession> = {}): VigilSession => ({
  apiVersion: "sessions.vigil.dev/v1alpha1",
  kind: "VigilSession",
  metadata: { name: "s_a", namespace: "shop", uid: "u", resourceVersion: "7", creationTimestamp: ago(600) },
  identity: { issuer: "i", subject: "alice", email: "alice@example.test", groups: ["g1", "g2", "g3", "g4", "g5", "g6"] },
  state: "Active",
  stale: false,
  firstIP: "203.0.113.7",
  lastIP: "203.0.113.8",
  userAgent: "curl/8",
  startTime: ago(3700),
  lastActivityTime: ago(5),
  requests: 3,
  workloads: [
    { kind: "Deployment", name: "web", pod: "web-0", firstSeen: ago(600), lastSeen: ago(5) },
    { kind: "Deployment", name: "web", pod: "web-1", firstSeen: ago(600), lastSeen: ago(5) },
    { pod: "bare-pod", firstSeen: ago(600), lastSeen: ago(5) },
  ],
  flows: [{ id: "1", kind: "websocket", pod: "web-0", peer: "203.0.113.8:1", port: 80, bytesIn: 1, bytesOut: 2, openedAt: ago(10) }],
  closedFlows: { count: 0, bytesIn: 0, bytesOut: 0 },
  recentEvents: [],
  findings: [],
  admittedBy: [],
  ...over,
});

describe("the vigilsessions Table", () => {
  it("has the columns kubectl prints, the wide ones at priority 1", () => {
    expect(COLUMNS.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(["ID", "User", "Workloads", "Client", "State", "Flows", "Age", "Last Active"]);
    expect(COLUMNS.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(["Groups", "User Agent", "First IP", "End Reason"]);
    expect(COLUMNS[0]?.format).toBe("name");
  });

  it("renders a row: email as user, workloads by owner, last IP, flows, ages; wide cells", () => {
    expect(rowCells(session(), NOW)).toEqual([
      "s_a",
      "alice@example.test",
      "web,bare-pod",
      "203.0.113.8",
      "Active",
      1,
      "61m",
      "5s",
      "g1,g2,g3,g4,g5 +1",
      "curl/8",
      "203.0.113.7",
      "<none>",
    ]);
  });

  it("falls back to the subject, marks stale live sessions, shows the end reason", () => {
    const noEmail = session({ identity: { issuer: "i", subject: "bob", groups: [] }, stale: true });
    expect(rowCells(noEmail, NOW).slice(1, 5)).toEqual(["bob", "web,bare-pod", "203.0.113.8", "Active (stale)"]);
    expect(rowCells(noEmail, NOW)[8]).toBe("<none>");
    const ended = session({ state: "Ended", stale: true, endReason: "IdleTimeout" });
    delete ended.userAgent;
    expect(rowCells(ended, NOW)[4]).toBe("Ended");
    expect(rowCells(ended, NOW).slice(9)).toEqual(["<none>", "203.0.113.7", "IdleTimeout"]);
  });

  it("carries each row's object as asked: PartialObjectMetadata by default, the object, or nothing", () => {
    const s = session();
    const partial = toTable([s], { resourceVersion: "9" }, { version: "v1", include: "PartialObjectMetadata", now: NOW }) as {
      rows: { object: unknown }[];
      apiVersion: string;
    };
    expect(partial.apiVersion).toBe("meta.k8s.io/v1");
    expect(partial.rows[0]?.object).toEqual({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: s.metadata });
    const full = toTable([s], { resourceVersion: "9" }, { version: "v1beta1", include: "Object", now: NOW }) as {
      rows: { object: unknown }[];
      apiVersion: string;
    };
    expect(full.apiVersion).toBe("meta.k8s.io/v1beta1");
    expect(full.rows[0]?.object).toBe(s);
    const none = toTable([s], { resourceVersion: "9", continue: "c" }, { version: "v1", include: "None", now: NOW }) as { rows: object[]; metadata: unknown };
    expect(none.rows[0]).not.toHaveProperty("object");
    expect(none.metadata).toEqual({ resourceVersion: "9", continue: "c" });
  });
});

describe("humanDuration (kubectl's AGE)", () => {
  it.each([
    [-5_000, "<invalid>"],
    [-500, "0s"],
    [0, "0s"],
    [119_000, "119s"],
    [120_000, "2m"],
    [125_000, "2m5s"],
    [600_000, "10m"],
    [3 * 3_600_000, "3h"],
    [3 * 3_600_000 + 60_000 * 5, "3h5m"],
    [10 * 3_600_000, "10h"],
    [50 * 3_600_000, "2d2h"],
    [9 * 86_400_000, "9d"],
    [800 * 86_400_000, "2y70d"],
    [3000 * 86_400_000, "8y"],
  ])("%d ms → %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
