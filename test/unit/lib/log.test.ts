import { describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { redactSecrets } from "../../../lib/redact.ts";
import { capture } from "./capture.ts";

describe("the one logger factory", () => {
  it("writes one shape for both programs: string level, ISO time, the program as name, pid", () => {
    for (const name of ["vigil-operator", "vigil-sidecar"]) {
      const { lines, destination } = capture();
      createLogger({ name, level: "info", destination }).child({ component: "proxy" }).warn({ event: "x" }, "hello");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: "warn", name, pid: process.pid, component: "proxy", event: "x", msg: "hello" });
      expect(lines[0]?.["time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Object.keys(lines[0] ?? {}).slice(0, 4)).toEqual(["level", "time", "pid", "name"]);
    }
  });

  it("redacts authorization, token and password fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ name: "vigil-operator", level: "info", destination });
    log.info({ token: "t0k", req: { headers: { authorization: "Bearer abc" } }, redis: { password: "pw" } }, "x");
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain("t0k");
    expect(text).not.toContain("Bearer abc");
    expect(text).not.toContain('"pw"');
    expect(text).toContain("[REDACTED]");
  });

  it("redacts headers in any spelling, cookies, secrets, key material and session ids, and keeps the rest", () => {
    const { lines, destination } = capture();
    createLogger({ name: "vigil-sidecar", level: "info", destination }).info(
      {
        headers: { "Proxy-Authorization": "Bearer p", Cookie: "sid=c", "set-cookie": ["a=b"], "X-Api-Key": "k1" },
        issuer: { clientSecret: "cs-value", keys: [{ d: "jwk-d-value" }] },
        ring: { list: [{ privateKey: "pem-body" }] },
        sessionId: "s_0123",
        claims: { sid: "idp-session" },
        session: "hashed-id",
        key: "team-a/web",
      },
      "request",
    );
    const line = lines[0] ?? {};
    for (const secret of ["Bearer p", "sid=c", "a=b", "k1", "cs-value", "jwk-d-value", "pem-body", "s_0123", "idp-session"])
      expect(JSON.stringify(line)).not.toContain(secret);
    expect(line).toMatchObject({ session: "hashed-id", key: "team-a/web", issuer: { clientSecret: "[REDACTED]", keys: "[REDACTED]" } });
  });

  it("leaves errors to pino's serializer", () => {
    const { lines, destination } = capture();
    createLogger({ name: "vigil-operator", level: "info", destination }).error({ err: new Error("boom") }, "failed");
    expect(lines[0]?.["err"]).toMatchObject({ type: "Error", message: "boom" });
  });

  it("respects the level and falls back to info for an unknown one", () => {
    const a = capture();
    createLogger({ name: "vigil-operator", level: "warn", destination: a.destination }).info("hidden");
    expect(a.lines).toHaveLength(0);
    const b = capture();
    createLogger({ name: "vigil-operator", level: "nonsense", destination: b.destination }).info("shown");
    expect(b.lines).toHaveLength(1);
  });
});

describe("redactSecrets", () => {
  it("returns the same object when nothing is secret, a redacted copy otherwise", () => {
    const clean = { a: 1, b: { c: [1, { d: "x" }] } };
    expect(redactSecrets(clean)).toBe(clean);
    const dirty = { a: 1, b: { c: [1, { password: "x" }] } };
    expect(redactSecrets(dirty)).toEqual({ a: 1, b: { c: [1, { password: "[REDACTED]" }] } });
    expect(dirty.b.c[1]).toEqual({ password: "x" });
  });

  it("does not walk into class instances", () => {
    class Holder {
      token = "inside";
    }
    const holder = new Holder();
    expect(redactSecrets({ holder }).holder).toBe(holder);
  });
});
