import { describe, expect, it } from "vitest";
import { html, raw } from "../../../console/html.ts";
import { csrfToken, hostAllowed, newSecrets, originAllowed, sameSecret } from "../../../console/security.ts";
import { SessionCache } from "../../../console/session-cache.ts";
import { ruleInWords } from "../../../console/policy-words.ts";
import { sessionDetailUpdate, sessionPage } from "../../../console/pages/session.ts";
import type { VigilSession } from "../../../operator/api/sessions/v1alpha1.ts";

const session = (i: number, over: Partial<VigilSession> = {}): VigilSession => ({
  apiVersion: "sessions.vigil.dev/v1alpha1",
  kind: "VigilSession",
  metadata: {
    name: `s_${String(i).padStart(22, "0")}`,
    namespace: i % 2 === 0 ? "a" : "b",
    uid: String(i),
    resourceVersion: "1",
    creationTimestamp: "2026-01-01T00:00:00Z",
  },
  identity: { issuer: "i", subject: `user${i % 10}`, groups: i % 3 === 0 ? ["ops"] : [] },
  state: i % 4 === 0 ? "Ended" : "Active",
  stale: false,
  firstIP: "1.2.3.4",
  lastIP: "1.2.3.4",
  startTime: "2026-01-01T00:00:00Z",
  lastActivityTime: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  requests: 1,
  workloads: [{ name: "web", pod: "web-0", firstSeen: "", lastSeen: "" }],
  findings: [],
  flows: [],
  closedFlows: { count: 0, bytesIn: 0, bytesOut: 0 },
  recentEvents: [],
  admittedBy: [],
  ...over,
});

describe("the console's pure core", () => {
  it("escapes every interpolation unless it is Html", () => {
    expect(html`<p title="${'"><script>'}">${"<b>"}${raw("<i>x</i>")}${[html`<br>`, "&"]}</p>`.value).toBe(
      '<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;<i>x</i><br>&amp;</p>',
    );
  });

  it("accepts only its own Host and Origin, and the CSRF token of its secret", () => {
    expect(hostAllowed("127.0.0.1:8080", 8080)).toBe(true);
    expect(hostAllowed("localhost:8080", 8080)).toBe(true);
    expect(hostAllowed("evil.example:8080", 8080)).toBe(false);
    expect(hostAllowed("127.0.0.1:8081", 8080)).toBe(false);
    expect(originAllowed("http://127.0.0.1:8080", undefined, 8080)).toBe(true);
    expect(originAllowed("null", "http://127.0.0.1:8080/x", 8080)).toBe(false);
    expect(originAllowed(undefined, "http://127.0.0.1:8080/x", 8080)).toBe(true);
    expect(originAllowed(undefined, undefined, 8080)).toBe(false);
    const s = newSecrets();
    expect(sameSecret(csrfToken(s), csrfToken(s))).toBe(true);
    expect(sameSecret(csrfToken(newSecrets()), csrfToken(s))).toBe(false);
  });

  it("filters, counts and pages 10,000 sessions newest first", () => {
    const cache = new SessionCache();
    cache.reset(
      Array.from({ length: 10_000 }, (_, i) =>
        session(i, i === 9998 ? { flows: [{ id: "1", kind: "websocket", pod: "web-0", peer: "p", port: 1, bytesIn: 1, bytesOut: 2, openedAt: "" }] } : {}),
      ),
    );
    const all = cache.query({ pageSize: 50 });
    expect(all).toMatchObject({ total: 10_000, pages: 200, page: 1, activeSessions: 7500, liveFlows: 1 });
    expect(all.rows[0]?.id).toBe(`s_${"9999".padStart(22, "0")}`);
    const ops = cache.query({ namespace: "a", group: "ops", state: "active", user: "USER6", page: 2, pageSize: 10 });
    expect(ops.rows.every((r) => r.namespace === "a" && r.groups.includes("ops") && r.state === "Active" && r.subject === "user6")).toBe(true);
    expect(ops.page).toBe(2);
    cache.apply("DELETED", session(9999));
    expect(cache.query({}).total).toBe(9999);
  });

  it("offers Terminate only while the session lives, and the live update of an ended or gone session takes the form away", () => {
    const page = (s: VigilSession): string => sessionPage({ session: s, otherNamespaces: [], timeline: [], csrf: "t", now: 0, warning: undefined }).value;
    expect(page(session(1))).toMatch(/<div id="terminate"><details class="terminate">/);
    expect(page(session(4))).toContain('<div id="terminate"></div>');
    expect(sessionDetailUpdate(session(1), [], 0).value).not.toContain('id="terminate"');
    expect(sessionDetailUpdate(session(4), [], 0).value).toContain('<div id="terminate" hx-swap-oob="true"></div>');
    expect(sessionDetailUpdate(undefined, [], 0).value).toContain('<div id="terminate" hx-swap-oob="true"></div>');
  });

  it("says a rule in words", () => {
    expect(
      ruleInWords({
        name: "r",
        action: "Allow",
        identities: [{ group: "eng" }, { email: "a@x" }],
        requests: [
          { methods: ["GET"], paths: ["/a/*"] },
          { methods: ["CONNECT"], ports: [22] },
        ],
        sourceCIDRs: ["10.0.0.0/8"],
      }),
    ).toBe("Allow members of eng or a@x: GET on /a/*; or CONNECT to port 22 from 10.0.0.0/8");
  });
});
