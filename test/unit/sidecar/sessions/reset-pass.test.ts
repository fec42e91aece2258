/**
 * The termination burst (docs/decisions/perf-0006-termination-burst.md): every covered user socket is reset before any
 * bookkeeping, the application sides right after, every flow's close still reported; coverage answered once per login.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Revocation, TerminationSelector } from "../../../../operator/api/bus/messages.ts";
import type { RequestFacts } from "../../../../sidecar/auth/types.ts";
import type { Principal } from "../../../../sidecar/auth/types.ts";
import { ConnectionTable, type FlowBinding, type FlowObserver } from "../../../../sidecar/sessions/connections.ts";
import { principal } from "../../../builders/principal.ts";
import { socketPairs, type Observed, type SocketPairs } from "./socket-pair.ts";
import type { Socket } from "node:net";

let pairs: SocketPairs;
beforeAll(async () => {
  pairs = await socketPairs();
});
afterAll(() => pairs.close());

const facts: RequestFacts = { method: "CONNECT", path: "", host: "localhost", port: 22, clientIp: "10.0.0.1" };
const bind = (sessionId: string, p: Principal): FlowBinding => ({ sessionId, principal: p, facts, clientIp: "10.0.0.1", target: "localhost:22" });
const cut = (selector: TerminationSelector, tokensIssuedBefore = Number.MAX_SAFE_INTEGER): Revocation => ({
  id: "ns/t/u",
  namespace: "ns",
  selector,
  reason: "test",
  tokensIssuedBefore,
  expiresAt: Number.MAX_SAFE_INTEGER,
});

interface Tunnel {
  session: string;
  client: Socket;
  upstream: Socket;
  user: Observed;
  app: Observed;
}

async function tunnel(table: ConnectionTable, b: FlowBinding): Promise<Tunnel> {
  const client = await pairs.pair();
  const upstream = await pairs.pair();
  table.openFlow("tunnel", client.near, upstream.near, b);
  return { session: b.sessionId, client: client.near, upstream: upstream.near, user: client.far, app: upstream.far };
}

describe("the termination reset pass", () => {
  it("resets every covered user socket before it reports a close or resets an application side, and still does both", async () => {
    const atFirstReport: { usersReset: boolean; appsReset: boolean }[] = [];
    const closedSessions: string[] = [];
    const flows: Tunnel[] = [];
    const observer: FlowObserver = {
      opened: () => undefined,
      progressed: () => undefined,
      closed: (b) => {
        const covered = flows.filter((f) => f.session === "s_alice");
        if (closedSessions.length === 0)
          atFirstReport.push({ usersReset: covered.every((f) => f.client.destroyed), appsReset: covered.some((f) => f.upstream.destroyed) });
        closedSessions.push(b.sessionId);
      },
    };
    const table = new ConnectionTable({ observer });
    const alice = principal({ subject: "alice" });
    const bob = principal({ subject: "bob", sessionClaim: { name: "sid", value: "sid-bob" } });
    for (let i = 0; i < 24; i++) flows.push(await tunnel(table, i % 4 === 3 ? bind("s_bob", bob) : bind("s_alice", alice)));
    const before = performance.now();

    expect(table.terminate(cut({ kind: "subject", subject: "alice" }), 0)).toEqual({ sessions: 1, connections: 18 });

    expect(table.lastResetAt).toBeGreaterThanOrEqual(before);
    expect(table.lastResetAt).toBeLessThanOrEqual(performance.now());
    expect(atFirstReport).toEqual([{ usersReset: true, appsReset: false }]);
    expect(closedSessions).toEqual(Array(18).fill("s_alice"));
    const alices = flows.filter((f) => f.session === "s_alice");
    expect(await Promise.all(alices.flatMap((f) => [f.user.ended, f.app.ended]))).toEqual(Array(36).fill("ECONNRESET"));
    expect(flows.filter((f) => f.session === "s_bob").every((f) => !f.client.destroyed && !f.upstream.destroyed)).toBe(true);
    expect(table.size).toBe(6);
    table.closeAll();
    await Promise.all(flows.map((f) => f.app.ended));
  });

  it("answers coverage per login: interleaved flows of two logins of one user, and of two sessions of one token", async () => {
    const table = new ConnectionTable();
    const old = principal({ subject: "alice", issuedAt: 1_000 });
    const fresh = principal({ subject: "alice", issuedAt: 5_000 });
    const flows: Tunnel[] = [];
    for (let i = 0; i < 8; i++) flows.push(await tunnel(table, i % 2 === 0 ? bind("s_old", old) : bind("s_new", fresh)));
    // The cut-off lies between the two logins: only the older one is covered, however the flows alternate.
    expect(table.terminate(cut({ kind: "subject", subject: "alice" }, 2_000_000), 0)).toEqual({ sessions: 1, connections: 4 });
    expect(flows.map((f) => f.client.destroyed)).toEqual([true, false, true, false, true, false, true, false]);

    // One principal object bound to two session IDs (a token seen again after its session was ended): by session.
    const shared = principal({ subject: "carol" });
    const more = [await tunnel(table, bind("s_c1", shared)), await tunnel(table, bind("s_c2", shared)), await tunnel(table, bind("s_c1", shared))];
    expect(table.terminate(cut({ kind: "session", sessionId: "s_c1" }), 0)).toEqual({ sessions: 1, connections: 2 });
    expect(more.map((f) => f.client.destroyed)).toEqual([true, false, true]);
    table.closeAll();
    await Promise.all([...flows, ...more].map((f) => f.app.ended));
  });

  it("an empty pass leaves the last reset time alone", async () => {
    const table = new ConnectionTable();
    const t = await tunnel(table, bind("s_a", principal()));
    expect(table.terminate(cut({ kind: "subject", subject: "nobody" }), 0)).toEqual({ sessions: 0, connections: 0 });
    expect(table.lastResetAt).toBeNaN();
    table.closeAll();
    await t.app.ended;
  });
});
