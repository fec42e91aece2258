import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloseReason } from "../../../../operator/api/audit/catalogue.ts";
import type { FlowFacts } from "../../../../operator/api/audit/events.ts";
import type { RequestFacts } from "../../../../sidecar/auth/types.ts";
import { ConnectionTable, type FlowBinding, type FlowObserver } from "../../../../sidecar/sessions/connections.ts";
import { principal } from "../../../builders/principal.ts";
import { socketPairs, type SocketPairs } from "./socket-pair.ts";

let pairs: SocketPairs;
beforeAll(async () => {
  pairs = await socketPairs();
});
afterAll(() => pairs.close());

const tunnelFacts: RequestFacts = { method: "CONNECT", path: "", host: "localhost", port: 2222, clientIp: "127.0.0.1" };
const httpFacts: RequestFacts = { method: "GET", path: "/stream", host: "shop", clientIp: "127.0.0.1" };
const bind = (sessionId: string, facts: RequestFacts): FlowBinding => ({ sessionId, principal: principal(), facts, clientIp: "127.0.0.1", target: "x" });

interface Seen {
  what: "opened" | "progressed" | "closed";
  session: string;
  flow: FlowFacts;
  reason?: CloseReason;
}

function recorder(): { observer: FlowObserver; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    observer: {
      opened: (b, flow) => seen.push({ what: "opened", session: b.sessionId, flow }),
      progressed: (b, flow) => seen.push({ what: "progressed", session: b.sessionId, flow }),
      closed: (b, flow, reason) => seen.push({ what: "closed", session: b.sessionId, flow, reason }),
    },
  };
}

describe("flow reporting of the connection table", () => {
  it("reports a tunnel when it opens, its byte counters at the sweep, and its close with Vigil's reason", async () => {
    let now = 1_000;
    const { observer, seen } = recorder();
    const table = new ConnectionTable({ observer, appPort: 8080, progressEveryMs: 100, now: () => now });
    const client = await pairs.pair();
    const upstream = await pairs.pair();
    table.openFlow("tunnel", client.near, upstream.near, bind("s_a", tunnelFacts));
    expect(seen).toEqual([
      { what: "opened", session: "s_a", flow: expect.objectContaining({ kind: "tunnel", port: 2222, openedAt: 1_000, bytesIn: 0, bytesOut: 0 }) as unknown },
    ]);
    expect(seen[0]?.flow.peer).toMatch(/^127\.0\.0\.1:\d+$/);

    client.far.socket.write("x".repeat(1000));
    await once(client.near, "data");
    client.near.write("y".repeat(300));
    await once(client.far.socket, "data");
    now += 50;
    table.report(now);
    expect(seen).toHaveLength(1); // not yet: progress at most every 100 ms
    now += 100;
    table.report(now);
    expect(seen[1]).toMatchObject({ what: "progressed", flow: { bytesIn: 1000, bytesOut: 300 } });
    table.report(now + 200);
    expect(seen).toHaveLength(2); // nothing moved

    table.closeAll();
    expect(seen[2]).toMatchObject({ what: "closed", reason: "Shutdown", flow: { bytesIn: 1000, bytesOut: 300 } });
    await client.far.ended;
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(3); // the close listener does not report it again
  });

  it("reports a keep-alive socket only once it is long-lived, as a stream while a request has been in flight that long, and its plain close", async () => {
    let now = 0;
    const { observer, seen } = recorder();
    const table = new ConnectionTable({ observer, appPort: 8080, longLivedAfterMs: 1000, now: () => now });
    const short = await pairs.pair();
    table.beginRequest(short.near, bind("s_short", httpFacts)).end();
    const long = await pairs.pair();
    table.beginRequest(long.near, bind("s_long", httpFacts));
    short.far.socket.end();
    await short.far.ended;
    now = 500;
    table.report(now);
    expect(seen).toEqual([]); // short-lived: never a flow
    now = 1500;
    table.report(now);
    expect(seen).toEqual([{ what: "opened", session: "s_long", flow: expect.objectContaining({ kind: "stream", port: 8080, openedAt: 0 }) as unknown }]);
    long.far.socket.end();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen[1]).toMatchObject({ what: "closed", session: "s_long", reason: "Closed", flow: { kind: "stream" } });
  });

  it("closes the flow of a keep-alive socket that now carries another session's requests, and opens one for it", async () => {
    let now = 0;
    const { observer, seen } = recorder();
    const table = new ConnectionTable({ observer, longLivedAfterMs: 10, now: () => now });
    const socket = await pairs.pair();
    table.beginRequest(socket.near, bind("s_1", httpFacts)).end();
    now = 20;
    table.report(now);
    table.beginRequest(socket.near, bind("s_2", httpFacts)).end();
    table.report(now + 1);
    expect(seen.map((s) => `${s.what} ${s.session} ${s.reason ?? ""}`.trim())).toEqual(["opened s_1", "closed s_1 Rebound", "opened s_2"]);
    table.closeAll();
    expect(seen.at(-1)).toMatchObject({ what: "closed", session: "s_2", reason: "Shutdown" });
  });
});
