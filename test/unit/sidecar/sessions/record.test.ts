import { describe, expect, it } from "vitest";
import { end, newRecord, standing, strictestTimeouts, touch } from "../../../../sidecar/sessions/record.ts";
import { principal } from "../../../builders/principal.ts";

const MIN = 60_000;
const t0 = 1_700_000_000_000;
const timeouts = { idleTimeoutMs: 15 * MIN, absoluteTimeoutMs: 8 * 60 * MIN };
const seen = (now: number, clientIp = "10.0.0.7", workload = "shop/web-1") => ({ now, clientIp, userAgent: "curl/8", workload });

describe("a session record", () => {
  const fresh = newRecord("s_AAAAAAAAAAAAAAAAAAAAAA", "key-alice", principal(), timeouts, seen(t0));

  it("starts with the identity, the first client IP and the workload", () => {
    expect(fresh).toMatchObject({
      subject: "alice",
      email: "alice@example.test",
      firstIp: "10.0.0.7",
      lastIp: "10.0.0.7",
      workloads: ["shop/web-1"],
      startedAt: t0,
      absoluteExpiresAt: t0 + 8 * 60 * MIN,
    });
  });

  it("stays usable until one second before the idle timeout and ends at it", () => {
    expect(standing(fresh, t0 + 15 * MIN - 1000)).toEqual({ ok: true });
    expect(standing(fresh, t0 + 15 * MIN)).toEqual({ ok: false, reason: "idle" });
  });

  it("slides the idle window with activity but never past the absolute expiry", () => {
    let r = fresh;
    for (let t = t0; t < t0 + 8 * 60 * MIN; t += 10 * MIN) r = touch(r, seen(t));
    expect(standing(r, t0 + 8 * 60 * MIN - 1)).toEqual({ ok: true });
    expect(standing(r, t0 + 8 * 60 * MIN)).toEqual({ ok: false, reason: "absolute" });
  });

  it("records the latest client IP and every workload touched", () => {
    const r = touch(touch(fresh, seen(t0 + 1000, "10.0.0.8", "shop/api-1")), seen(t0 + 2000, "10.0.0.9", "shop/web-1"));
    expect(r).toMatchObject({ firstIp: "10.0.0.7", lastIp: "10.0.0.9", workloads: ["shop/web-1", "shop/api-1"], lastActivityAt: t0 + 2000 });
  });

  it("returns the same object when a request changes nothing (no write-behind)", () => {
    expect(touch(fresh, seen(t0))).toBe(fresh);
  });

  it("stays ended with its first reason", () => {
    const ended = end(end(fresh, "terminated", t0 + 5), "idle", t0 + 10);
    expect(ended).toMatchObject({ endReason: "terminated", endedAt: t0 + 5 });
    expect(standing(ended, t0 + 6)).toEqual({ ok: false, reason: "terminated" });
  });
});

describe("the timeouts of a workload", () => {
  const policy = (idle: number, absolute: number) => ({ session: { idleTimeoutSeconds: idle, absoluteTimeoutSeconds: absolute } });

  it("are the strictest of the selecting policies", () => {
    expect(strictestTimeouts([policy(1800, 28800), policy(600, 36000)], timeouts)).toEqual({ idleTimeoutMs: 600_000, absoluteTimeoutMs: 28_800_000 });
  });

  it("fall back to the defaults when no policy selects the workload", () => {
    expect(strictestTimeouts([], timeouts)).toBe(timeouts);
  });
});
