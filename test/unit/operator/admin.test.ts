import { Registry, Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { startAdminServer, type AdminServer, type Readiness } from "../../../operator/admin.ts";
import { createLogger } from "../../../lib/log.ts";

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(readiness: () => Readiness | Promise<Readiness>) {
  const registry = new Registry();
  new Counter({ name: "vigil_test_total", help: "t", registers: [registry] }).inc(3);
  server = await startAdminServer({ port: 0, host: "127.0.0.1", registry, readiness, log: createLogger({ name: "vigil-operator", level: "silent" }) });
  return `http://127.0.0.1:${server.port}`;
}

describe("admin server", () => {
  it("serves /healthz, /metrics and a /readyz that follows the readiness function", async () => {
    let state: Readiness = { ready: false, reason: "informers not synced" };
    const base = await start(() => state);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain("informers not synced");
    state = { ready: true };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect(await metrics.text()).toContain("vigil_test_total 3");
  });

  it("treats a throwing readiness check as not ready, and answers 404/405 elsewhere", async () => {
    const base = await start(() => {
      throw new Error("redis ping failed");
    });
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("redis ping failed");
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
  });
});
