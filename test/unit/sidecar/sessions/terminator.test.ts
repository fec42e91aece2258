import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Revocation, TerminationSelector } from "../../../../operator/api/bus.ts";
import type { Principal } from "../../../../sidecar/auth/types.ts";
import { ConnectionTable } from "../../../../sidecar/sessions/connections.ts";
import { createTerminator, TERMINATION_CLOCK_TOLERANCE_MS } from "../../../../sidecar/sessions/terminator.ts";
import { principal } from "../../../builders/principal.ts";
import { socketPairs, type SocketPairs } from "./socket-pair.ts";

let pairs: SocketPairs;
beforeAll(async () => {
  pairs = await socketPairs();
});
afterAll(() => pairs.close());

const NOW = 1_800_000_000_000;

function revocation(selector: TerminationSelector, overrides: Partial<Revocation> = {}): Revocation {
  return { v: 1, id: "shop/t1/uid", namespace: "shop", selector, reason: "test", issuedAt: NOW, expiresAt: NOW + 60_000, revision: 3, ...overrides };
}

async function withTunnel(table: ConnectionTable, sessionId: string, who: Partial<Principal>) {
  const client = await pairs.pair();
  const upstream = await pairs.pair();
  table.openFlow("tunnel", client.near, upstream.near, {
    sessionId,
    principal: principal({ issuedAt: NOW / 1000 - 600, ...who }),
    facts: { method: "CONNECT", path: "", host: "localhost", port: 5432, clientIp: "10.1.1.1" },
    clientIp: "10.1.1.1",
    target: "localhost:5432",
  });
  return client.far;
}

function setup() {
  const connections = new ConnectionTable();
  const terminator = createTerminator({ connections, namespace: "shop", logger: pino({ level: "silent" }), now: () => NOW });
  return { connections, terminator };
}

describe("terminator", () => {
  it("applies a termination to the matching live flows and returns the ack counts", async () => {
    const { connections, terminator } = setup();
    const a = await withTunnel(connections, "s_a", { subject: "alice", email: "alice@example.test" });
    const a2 = await withTunnel(connections, "s_a2", { subject: "alice", email: "alice@example.test" });
    const b = await withTunnel(connections, "s_b", { subject: "bob", email: "bob@example.test" });
    expect(terminator.apply(revocation({ kind: "email", email: "ALICE@EXAMPLE.TEST" }))).toEqual({ applied: true, sessions: 2, connections: 2 });
    expect(await a.ended).toBe("ECONNRESET");
    expect(await a2.ended).toBe("ECONNRESET");
    expect(b.socket.destroyed).toBe(false);
    connections.closeAll();
  });

  it("ignores terminations of other namespaces", async () => {
    const { connections, terminator } = setup();
    const a = await withTunnel(connections, "s_a", { subject: "alice" });
    expect(terminator.apply(revocation({ kind: "all" }, { namespace: "payments" }))).toEqual({ applied: false, sessions: 0, connections: 0 });
    expect(a.socket.destroyed).toBe(false);
    connections.closeAll();
  });

  it("ignores expired revocation records", async () => {
    const { connections, terminator } = setup();
    await withTunnel(connections, "s_a", { subject: "alice" });
    expect(terminator.apply(revocation({ kind: "all" }, { expiresAt: NOW - 1 }))).toMatchObject({ applied: false, connections: 0 });
    connections.closeAll();
  });

  it("spares logins made after the termination (beyond clock tolerance), cuts those within it", async () => {
    const { connections, terminator } = setup();
    const skewed = await withTunnel(connections, "s_skew", { subject: "alice", issuedAt: (NOW + TERMINATION_CLOCK_TOLERANCE_MS - 1_000) / 1000 });
    const relogin = await withTunnel(connections, "s_new", { subject: "alice", issuedAt: (NOW + TERMINATION_CLOCK_TOLERANCE_MS + 5_000) / 1000 });
    expect(terminator.apply(revocation({ kind: "subject", subject: "alice" }))).toEqual({ applied: true, sessions: 1, connections: 1 });
    expect(await skewed.ended).toBe("ECONNRESET");
    expect(relogin.socket.destroyed).toBe(false);
    connections.closeAll();
  });
});
