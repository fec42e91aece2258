import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Revocation, TerminationSelector } from "../../../../operator/api/bus/messages.ts";
import type { Principal, RequestFacts } from "../../../../sidecar/auth/types.ts";
import { ConnectionTable, type FlowBinding } from "../../../../sidecar/sessions/connections.ts";
import { principal } from "../../../builders/principal.ts";
import { socketPairs, type SocketPairs } from "./socket-pair.ts";

let pairs: SocketPairs;
beforeAll(async () => {
  pairs = await socketPairs();
});
afterAll(() => pairs.close());
const pair = () => pairs.pair();

const facts: RequestFacts = { method: "CONNECT", path: "", host: "localhost", port: 22, clientIp: "10.0.0.1" };

function binding(sessionId: string, who: Partial<Principal> = {}): FlowBinding {
  return { sessionId, principal: principal(who), facts, clientIp: "10.0.0.1", target: "localhost:22" };
}

async function tunnel(table: ConnectionTable, b: FlowBinding) {
  const client = await pair();
  const upstream = await pair();
  table.openFlow("tunnel", client.near, upstream.near, b);
  return { user: client.far, app: upstream.far };
}

/** A revocation in force at time 0 covering tokens issued up to `tokensIssuedBefore` (ms). */
function cut(selector: TerminationSelector, tokensIssuedBefore = Number.MAX_SAFE_INTEGER): Revocation {
  return { id: "ns/t/u", namespace: "ns", selector, reason: "test", tokensIssuedBefore, expiresAt: Number.MAX_SAFE_INTEGER };
}

const alice = { subject: "alice", email: "Alice@Example.test", groups: ["ops"] };
const bob = { subject: "bob", email: "bob@example.test", groups: ["dev"] };

describe("ConnectionTable", () => {
  it("terminate RSTs both sides of every matching flow and returns exact counts", async () => {
    const table = new ConnectionTable();
    const a1 = await tunnel(table, binding("s_a", alice));
    const a2 = await tunnel(table, binding("s_a", alice));
    const b1 = await tunnel(table, binding("s_b", bob));

    expect(table.terminate(cut({ kind: "subject", subject: "alice" }), 0)).toEqual({ sessions: 1, connections: 2 });
    expect(await a1.user.ended).toBe("ECONNRESET");
    expect(await a1.app.ended).toBe("ECONNRESET");
    expect(await a2.user.ended).toBe("ECONNRESET");
    expect(await a2.app.ended).toBe("ECONNRESET");
    expect(table.size).toBe(1);
    expect(table.list()[0]).toMatchObject({ subject: "bob", kind: "tunnel", sessionId: "s_b" });
    expect(b1.user.socket.destroyed).toBe(false);
    b1.user.socket.destroy();
  });

  it.each([
    [{ kind: "session", sessionId: "s_a" }, 1],
    [{ kind: "email", email: "ALICE@example.TEST" }, 1],
    [{ kind: "group", group: "dev" }, 1],
    [{ kind: "subject", subject: "alice", issuer: "https://other-idp.test" }, 0],
    [{ kind: "all" }, 2],
  ] as const)("selector %o closes %i connection(s)", async (selector, expected) => {
    const table = new ConnectionTable();
    const flows = [await tunnel(table, binding("s_a", alice)), await tunnel(table, binding("s_b", bob))];
    expect(table.terminate(cut(selector), 0).connections).toBe(expected);
    expect(table.size).toBe(2 - expected);
    table.closeAll();
    await Promise.all(flows.map((f) => f.user.ended));
  });

  it("spares flows whose token was issued after the cut-off", async () => {
    const table = new ConnectionTable();
    const old = await tunnel(table, binding("s_old", { ...alice, issuedAt: 1_000 }));
    const fresh = await tunnel(table, binding("s_new", { ...alice, issuedAt: 5_000 }));
    expect(table.terminate(cut({ kind: "subject", subject: "alice" }, 2_000_000), 0)).toEqual({ sessions: 1, connections: 1 });
    expect(await old.user.ended).toBe("ECONNRESET");
    expect(fresh.user.socket.destroyed).toBe(false);
    table.closeAll();
  });

  it("forgets a flow when its client closes, and closes the linked upstream", async () => {
    const table = new ConnectionTable();
    const flow = await tunnel(table, binding("s_a", alice));
    flow.user.socket.end();
    expect(await flow.app.ended).toBe("clean");
    expect(table.size).toBe(0);
  });

  it("resets an in-flight request's pooled upstream socket, but never once it served someone else", async () => {
    const table = new ConnectionTable();
    const aliceClient = await pair();
    const bobClient = await pair();
    const pooled = await pair(); // one keep-alive upstream socket, used by alice then by bob

    const aliceRequest = table.beginRequest(aliceClient.near, binding("s_a", alice));
    aliceRequest.attachUpstream(pooled.near);
    aliceRequest.end(); // back to the pool…
    const bobRequest = table.beginRequest(bobClient.near, binding("s_b", bob));
    bobRequest.attachUpstream(pooled.near); // …and now serving bob

    expect(table.terminate(cut({ kind: "session", sessionId: "s_a" }), 0)).toEqual({ sessions: 1, connections: 1 });
    expect(await aliceClient.far.ended).toBe("ECONNRESET");
    expect(pooled.near.destroyed).toBe(false);

    expect(table.terminate(cut({ kind: "session", sessionId: "s_b" }), 0)).toEqual({ sessions: 1, connections: 1 });
    expect(await pooled.far.ended).toBe("ECONNRESET");
    expect(await bobClient.far.ended).toBe("ECONNRESET");
  });

  it("binds a keep-alive socket to the session of its latest request", async () => {
    const table = new ConnectionTable();
    const client = await pair();
    table.beginRequest(client.near, binding("s_a", alice)).end();
    table.beginRequest(client.near, binding("s_b", bob)).end();
    expect(table.size).toBe(1);
    expect(table.terminate(cut({ kind: "session", sessionId: "s_a" }), 0).connections).toBe(0);
    expect(table.terminate(cut({ kind: "session", sessionId: "s_b" }), 0).connections).toBe(1);
    expect(await client.far.ended).toBe("ECONNRESET");
  });

  it("reevaluate closes long-lived flows the policy now refuses and leaves idle keep-alive sockets alone", async () => {
    const table = new ConnectionTable();
    const opsTunnel = await tunnel(table, binding("s_a", alice));
    const devTunnel = await tunnel(table, binding("s_b", bob));
    const idleHttp = await pair();
    table.beginRequest(idleHttp.near, binding("s_a", alice)).end();
    const streaming = await pair();
    table.beginRequest(streaming.near, binding("s_a", alice)); // still in flight

    const counts = table.reevaluate((flow) => !flow.principal.groups.includes("ops"));
    expect(counts).toEqual({ sessions: 1, connections: 2 });
    expect(await opsTunnel.user.ended).toBe("ECONNRESET");
    expect(await streaming.far.ended).toBe("ECONNRESET");
    expect(devTunnel.user.socket.destroyed).toBe(false);
    expect(idleHttp.far.socket.destroyed).toBe(false);
    table.closeAll();
  });

  it("expire closes sessions past their idle or absolute timeout (controllable clock)", async () => {
    let now = 1_000_000;
    const table = new ConnectionTable({ now: () => now });
    const idle = await tunnel(table, binding("s_idle", alice));
    now += 5_000;
    const busy = await tunnel(table, binding("s_busy", bob));
    const old = await tunnel(table, { ...binding("s_old", { subject: "carol" }), sessionStartedAt: 0 });
    now += 5_000;

    const result = table.expire(now, () => ({ idleMs: 8_000, absoluteMs: 600_000 }));
    expect(result.expired).toEqual(
      expect.arrayContaining([
        { sessionId: "s_idle", reason: "idle" },
        { sessionId: "s_old", reason: "absolute" },
      ]),
    );
    expect(result).toMatchObject({ sessions: 2, connections: 2 });
    expect(await idle.user.ended).toBe("ECONNRESET");
    expect(await old.user.ended).toBe("ECONNRESET");
    expect(busy.user.socket.destroyed).toBe(false);
    table.closeAll();
  });

  it("sessions without limits never expire", async () => {
    const table = new ConnectionTable({ now: () => 0 });
    const flow = await tunnel(table, binding("s_a", alice));
    expect(table.expire(Number.MAX_SAFE_INTEGER, () => undefined)).toEqual({ sessions: 0, connections: 0, expired: [] });
    expect(flow.user.socket.destroyed).toBe(false);
    table.closeAll();
  });
});
