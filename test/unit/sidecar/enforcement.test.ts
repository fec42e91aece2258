/**
 * Enforcement of terminations (sidecar/enforcement.ts) on a real connection table with real loopback sockets: the
 * resets never wait for an acknowledgement, acknowledgements go out once each, and the reset time is a metric.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import type { Ack, Revocation } from "../../../operator/api/bus/messages.ts";
import { Enforcement } from "../../../sidecar/enforcement.ts";
import { createMetrics } from "../../../sidecar/metrics.ts";
import { PolicyView } from "../../../sidecar/policy/view.ts";
import { ConnectionTable } from "../../../sidecar/sessions/connections.ts";
import { principal } from "../../builders/principal.ts";
import { socketPairs, type SocketPairs } from "./sessions/socket-pair.ts";

let pairs: SocketPairs;
beforeAll(async () => {
  pairs = await socketPairs();
});
afterAll(() => pairs.close());

const revocation = (id: string, subject: string): Revocation => ({
  id,
  namespace: "shop",
  selector: { kind: "subject", subject },
  reason: "test",
  tokensIssuedBefore: Number.MAX_SAFE_INTEGER,
  expiresAt: Number.MAX_SAFE_INTEGER,
});

/** An acknowledgement sink whose writes complete only when the test says so (a slow Redis, as plain data). */
function heldAcks(): { ack(a: Ack): Promise<void>; sent: Ack[]; release(): void } {
  const sent: Ack[] = [];
  let waiting: (() => void)[] = [];
  return {
    sent,
    ack: (a) => {
      sent.push(a);
      return new Promise((resolve) => waiting.push(resolve));
    },
    release: () => {
      const w = waiting;
      waiting = [];
      for (const resolve of w) resolve();
    },
  };
}

describe("Enforcement of terminations", () => {
  it("resets a termination at once while an earlier acknowledgement is still being written, and acknowledges each exactly once", async () => {
    const connections = new ConnectionTable();
    const metrics = createMetrics({
      liveConnections: () => connections.size,
      liveSessions: () => 0,
      busStalenessSeconds: () => 0,
      appliedRevision: () => 0,
      invalidBusMessages: () => 0,
      audit: () => ({ emitted: 0, dropped: 0, written: 0, flushFailures: 0, queued: 0 }),
    });
    const acks = heldAcks();
    const enforcement = new Enforcement({
      pod: "shop-web-1",
      namespace: "shop",
      view: new PolicyView({ namespace: "shop", labels: {} }),
      connections,
      store: { endCovered: () => [], flush: () => Promise.resolve() },
      verifier: { invalidateWhere: () => 0 },
      reporter: acks,
      stillAllowed: () => true,
      metrics,
      logger: createLogger({ name: "vigil-sidecar", level: "silent" }),
      defaultTimeouts: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 600_000 },
      now: Date.now,
    });
    const tunnel = async (subject: string) => {
      const user = await pairs.pair();
      const app = await pairs.pair();
      const p = principal({ subject, sessionClaim: { name: "sid", value: `sid-${subject}` } });
      connections.openFlow("tunnel", user.near, app.near, {
        sessionId: `s_${subject}`,
        principal: p,
        facts: { method: "CONNECT", path: "", host: "localhost", port: 22, clientIp: "10.0.0.1" },
        clientIp: "10.0.0.1",
        target: "localhost:22",
      });
      return { user, app };
    };
    const alice = [await tunnel("alice"), await tunnel("alice")];
    const bob = await tunnel("bob");

    const first = enforcement.onViewChange(
      { policiesChanged: false, newEpoch: false, newRevocations: [revocation("shop/end-alice/1", "alice")] },
      performance.now(),
    );
    expect(alice.every((t) => t.user.near.destroyed)).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(acks.sent.map((a) => a.terminationId)).toEqual(["shop/end-alice/1"]); // written, not answered yet

    void enforcement.onViewChange({ policiesChanged: false, newEpoch: false, newRevocations: [revocation("shop/end-bob/1", "bob")] }, performance.now());
    expect(bob.user.near.destroyed).toBe(true); // not after alice's acknowledgement
    expect(await bob.user.far.ended).toBe("ECONNRESET");

    acks.release();
    await new Promise((r) => setImmediate(r));
    acks.release();
    await first;
    expect(acks.sent.map((a) => [a.terminationId, a.connectionsClosed])).toEqual([
      ["shop/end-alice/1", 2],
      ["shop/end-bob/1", 1],
    ]);
    expect(enforcement.applied("shop/end-bob/1")).toMatchObject({ acked: true, connections: 1 });

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^vigil_sidecar_termination_reset_seconds_count 2$/m);
    const at = Number(/^vigil_sidecar_termination_last_reset_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(Math.abs(at * 1000 - Date.now())).toBeLessThan(5_000);
    await Promise.all([...alice, bob].map((t) => t.app.far.ended));
  });
});
