/**
 * The webhook's HTTPS server over real TLS sockets: routes, refusals of bad requests (400 with a code, 413, 415,
 * 404, 405), health endpoints, decision logs without secrets, metrics, and certificate rotation at runtime.
 */
import { request } from "node:https";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { generateWebhookCerts } from "../../../operator/webhook/certs.ts";
import { startWebhookServer, type WebhookServer } from "../../../operator/webhook/server.ts";
import { admissionReview, configWith, pod, responseOf, withPorts } from "../../unit/operator/webhook/support.ts";

interface Reply {
  status: number;
  body: string;
}

function call(
  server: WebhookServer,
  ca: string,
  opts: { method?: string; path?: string; body?: string | Buffer; contentType?: string; chunks?: Buffer[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        method: opts.method ?? "POST",
        path: opts.path ?? "/mutate-pods",
        ca,
        agent: false,
        headers: { "content-type": opts.contentType ?? "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    req.on("error", reject);
    for (const chunk of opts.chunks ?? []) req.write(chunk);
    req.end(opts.body);
  });
}

describe("the webhook HTTPS server", () => {
  let server: WebhookServer;
  let ca: string;
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    name: "vigil-operator",
    level: "info",
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const config = configWith({ redis: { url: "redis://:hunter2-secret@redis:6379" } });
  const labels: Record<string, Record<string, string>> = { "team-a": { "vigil.dev/injection": "enabled" } };

  beforeAll(async () => {
    const certs = await generateWebhookCerts({ service: "vigil-webhook", namespace: "vigil-system" });
    ca = certs.ca.certPem;
    server = await startWebhookServer({
      tls: { key: certs.serving.keyPem, cert: certs.serving.certPem },
      host: "127.0.0.1",
      config,
      namespaceLabels: (name) => (name === "unreadable" ? Promise.reject(new Error('namespaces "unreadable" is forbidden')) : Promise.resolve(labels[name])),
      registry,
      log,
      maxBodyBytes: 64 * 1024,
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it("answers an AdmissionReview with the injection patch", async () => {
    const reply = await call(server, ca, { body: JSON.stringify(admissionReview(pod(withPorts(8080)), { uid: "u-1" })) });
    expect(reply.status).toBe(200);
    const response = responseOf(JSON.parse(reply.body));
    expect(response).toMatchObject({ uid: "u-1", allowed: true, patchType: "JSONPatch" });
  });

  it("logs each decision with the pod, namespace, result and reasons, and never a secret", async () => {
    await call(server, ca, { body: JSON.stringify(admissionReview(pod(), { uid: "u-2" })) });
    const decisions = lines.filter((l) => l["msg"] === "pod admission decision");
    expect(decisions).toContainEqual(expect.objectContaining({ namespace: "team-a", pod: "web", result: "injected", reasons: ["namespace_enabled"] }));
    expect(decisions).toContainEqual(expect.objectContaining({ namespace: "team-a", pod: "web", result: "refused", reasons: ["no_upstream_port"] }));
    expect(JSON.stringify(lines)).not.toContain("hunter2");
  });

  it("counts decisions and their latency", async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/vigil_webhook_injections_total\{result="injected",reason="namespace_enabled"\} 1/);
    expect(text).toMatch(/vigil_webhook_injections_total\{result="refused",reason="no_upstream_port"\} 1/);
    expect(text).toMatch(/vigil_webhook_admission_duration_seconds_bucket\{le="\+Inf",result="injected"\} 1/);
  });

  it("refuses a malformed review with 400 and a code, and keeps serving", async () => {
    const reply = await call(server, ca, { body: "{garbage" });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ code: "ADMISSION_BAD_JSON" });
    expect((await call(server, ca, { method: "GET", path: "/healthz" })).status).toBe(200);
  });

  it("refuses a body over the limit with 413, a non-JSON content type with 415", async () => {
    expect((await call(server, ca, { body: Buffer.alloc(100 * 1024, 0x20) })).status).toBe(413);
    expect((await call(server, ca, { body: "{}", contentType: "text/plain" })).status).toBe(415);
  });

  it("refuses a streamed body (no content-length) once it passes the limit, and keeps serving", async () => {
    const reply = await call(server, ca, { chunks: Array.from({ length: 10 }, () => Buffer.alloc(10 * 1024, 0x20)) });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ code: "ADMISSION_TOO_LARGE" });
    const ok = await call(server, ca, { chunks: [Buffer.from(JSON.stringify(admissionReview(pod(withPorts(8080)), { uid: "u-chunked" })))] });
    expect(responseOf(JSON.parse(ok.body))).toMatchObject({ uid: "u-chunked", allowed: true });
  });

  it("logs the exception behind an error decision once, at the edge, with the decision", async () => {
    const reply = await call(server, ca, {
      body: JSON.stringify(
        admissionReview(
          pod(withPorts(8080), (p) => void (p.metadata!.namespace = "unreadable")),
          { uid: "u-err", namespace: "unreadable" },
        ),
      ),
    });
    expect(responseOf(JSON.parse(reply.body))).toMatchObject({ uid: "u-err", allowed: false, status: { code: 500 } });
    const about = lines.filter((l) => JSON.stringify(l).includes("unreadable"));
    expect(about).toHaveLength(1);
    expect(about[0]).toMatchObject({
      level: "warn",
      msg: "pod admission decision",
      result: "error",
      reason: "namespace_lookup_failed",
      err: 'namespaces "unreadable" is forbidden',
    });
  });

  it("serves /healthz and /readyz, 404 elsewhere, 405 for wrong methods", async () => {
    expect(await call(server, ca, { method: "GET", path: "/healthz" })).toEqual({ status: 200, body: "ok\n" });
    expect((await call(server, ca, { method: "GET", path: "/readyz" })).status).toBe(200);
    expect((await call(server, ca, { method: "GET", path: "/metrics" })).status).toBe(404);
    expect((await call(server, ca, { method: "GET", path: "/mutate-pods" })).status).toBe(405);
    expect((await call(server, ca, { method: "POST", path: "/healthz" })).status).toBe(405);
  });

  it("swaps its certificate at runtime: new connections get the new one", async () => {
    const next = await generateWebhookCerts({ service: "vigil-webhook", namespace: "vigil-system" });
    server.setCertificate({ key: next.serving.keyPem, cert: next.serving.certPem });
    expect((await call(server, next.ca.certPem, { method: "GET", path: "/healthz" })).status).toBe(200);
    await expect(call(server, ca, { method: "GET", path: "/healthz" })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    ca = next.ca.certPem;
  });
});
