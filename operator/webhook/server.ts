/**
 * The injection webhook's HTTPS server (node:https).
 *
 *   POST /mutate-pods → AdmissionReview in, AdmissionReview out (handler.ts); 400 with `{code, message}` for a
 *                       malformed review; 413 over `maxBodyBytes`; 415 for a non-JSON content type;
 *   GET  /healthz     → 200 while the process serves;  GET /readyz → 200, 503 once closing;
 *   anything else     → 404, other methods → 405.
 * This is the edge: every decision is logged here once (namespace, pod name or generateName, result, reasons and,
 * for errors, the exception behind them; never the pod body or a secret) and counted in `vigil_webhook_injections_total{result,reason}` with the handling time in
 * `vigil_webhook_admission_duration_seconds` on the given registry. Slow clients are cut by `requestTimeoutMs`;
 * a handler that outlives `handlerTimeoutMs` answers a 500-coded refusal (never an unprotected allow). Refusal codes
 * and their HTTP statuses are in operator/errors.ts (ADMISSION_ERROR_STATUS). The body is read with
 * node:stream/consumers, cut off at `maxBodyBytes` (declared or streamed).
 * `setCertificate({key, cert})` swaps the TLS material for new connections (rotation without restart).
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Logger } from "../../lib/log.ts";
import { ADMISSION_ERROR_STATUS, errorFields, type AdmissionErrorCode } from "../errors.ts";
import { handleAdmission, type HandlerAnswer, type HandlerDeps, type Outcome } from "./handler.ts";
import { HEALTHZ_PATH, MUTATE_PODS_PATH, READYZ_PATH } from "./paths.ts";

export interface TlsMaterial {
  /** PEM private key. */
  key: string;
  /** PEM certificate chain. */
  cert: string;
}

export interface WebhookServerOptions extends HandlerDeps {
  tls: TlsMaterial;
  /** Default 0.0.0.0; port default 0 (any free port). */
  host?: string;
  port?: number;
  registry: Registry;
  log: Logger;
  /** Default 4 MiB (an AdmissionReview of a large pod stays far below). */
  maxBodyBytes?: number;
  /** Whole-request timeout for a client (default 10 s). */
  requestTimeoutMs?: number;
  /** Longest a decision may take (default 4 s; below the webhook's timeoutSeconds). */
  handlerTimeoutMs?: number;
}

export interface WebhookServer {
  readonly server: Server;
  readonly port: number;
  /** `https://<host>:<port>`. */
  readonly url: string;
  setCertificate(tls: TlsMaterial): void;
  close(): Promise<void>;
}

export { MUTATE_PODS_PATH } from "./paths.ts";

interface Metrics {
  injections: Counter<"result" | "reason">;
  latency: Histogram<"result">;
}

function metricsOn(registry: Registry): Metrics {
  const existing = registry.getSingleMetric("vigil_webhook_injections_total");
  if (existing !== undefined) {
    return {
      injections: existing as Counter<"result" | "reason">,
      latency: registry.getSingleMetric("vigil_webhook_admission_duration_seconds") as Histogram<"result">,
    };
  }
  return {
    injections: new Counter({
      name: "vigil_webhook_injections_total",
      help: "Pod admission decisions of the sidecar injection webhook, by result (injected, skipped, refused, error) and reason.",
      labelNames: ["result", "reason"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "vigil_webhook_admission_duration_seconds",
      help: "Time to answer a pod admission request, by result.",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

class BodyTooLarge extends Error {}

/** The request's chunks, failing once more than `limit` bytes arrived (the stream is left open for draining). */
async function* limited(req: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > limit) throw new BodyTooLarge();
    yield bytes;
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? "0") > limit) throw new BodyTooLarge();
  try {
    return await buffer(limited(req, limit));
  } catch (err) {
    if (err instanceof BodyTooLarge) req.resume();
    throw err;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function refuse(res: ServerResponse, code: AdmissionErrorCode, message: string): void {
  send(res, ADMISSION_ERROR_STATUS[code], { code, message });
}

function withDeadline(work: Promise<HandlerAnswer>, ms: number): Promise<HandlerAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<HandlerAnswer>((resolve) => {
    timer = setTimeout(() => {
      resolve({
        status: ADMISSION_ERROR_STATUS.ADMISSION_TIMEOUT,
        body: { code: "ADMISSION_TIMEOUT", message: `vigil: no injection decision within ${ms} ms` },
      });
    }, ms);
  });
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}

/** What answering a review needs: the options (the handler's dependencies, the log), the metrics and the limits in force. */
interface Admission {
  opts: WebhookServerOptions;
  metrics: Metrics;
  maxBody: number;
  handlerTimeout: number;
}

/** The edge's one log line and count per decision. */
function record(a: Admission, outcome: Outcome | undefined, seconds: number): void {
  if (outcome === undefined) return;
  a.metrics.injections.inc({ result: outcome.result, reason: outcome.reason });
  a.metrics.latency.observe({ result: outcome.result }, seconds);
  const fields = { namespace: outcome.namespace, pod: outcome.pod, result: outcome.result, reasons: outcome.reasons, dryRun: outcome.dryRun };
  if (outcome.result === "error")
    a.opts.log.warn({ ...fields, reason: outcome.reason, ...(outcome.cause === undefined ? {} : errorFields(outcome.cause)) }, "pod admission decision");
  else a.opts.log.info(fields, "pod admission decision");
}

/** POST /mutate-pods: check the content type, read the body within its limit, decide within the deadline. */
async function mutate(a: Admission, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    refuse(res, "ADMISSION_BAD_CONTENT_TYPE", "expected application/json");
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(req, a.maxBody);
  } catch (err) {
    if (err instanceof BodyTooLarge) refuse(res, "ADMISSION_TOO_LARGE", `the body exceeds ${a.maxBody} bytes`);
    else res.destroy();
    return;
  }
  const answer = await withDeadline(handleAdmission(body, a.opts), a.handlerTimeout);
  if (answer.status !== 200) a.opts.log.warn({ status: answer.status, body: answer.body }, "admission request not answered normally");
  send(res, answer.status, answer.body);
  record(a, answer.outcome, Number(process.hrtime.bigint() - started) / 1e9);
}

/** The server's request listener: the paths of the file comment; readiness fails once `closing()`. */
function router(a: Admission, closing: () => boolean): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const method = req.method ?? "GET";
    if (path === MUTATE_PODS_PATH) {
      if (method !== "POST") send(res, 405, "method not allowed\n");
      else
        mutate(a, req, res).catch((err: unknown) => {
          a.opts.log.error(errorFields(err), "admission handling failed");
          if (!res.headersSent) refuse(res, "ADMISSION_INTERNAL", "internal error");
        });
    } else if (path === HEALTHZ_PATH || path === READYZ_PATH) {
      if (method !== "GET" && method !== "HEAD") send(res, 405, "method not allowed\n");
      else if (path === READYZ_PATH && closing()) send(res, 503, "shutting down\n");
      else send(res, 200, "ok\n");
    } else {
      send(res, 404, "not found\n");
    }
  };
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const admission: Admission = {
    opts,
    metrics: metricsOn(opts.registry),
    maxBody: opts.maxBodyBytes ?? 4 << 20,
    handlerTimeout: opts.handlerTimeoutMs ?? 4000,
  };
  let closing = false;

  const server = createServer(
    { key: opts.tls.key, cert: opts.tls.cert, minVersion: "TLSv1.2" },
    router(admission, () => closing),
  );
  server.requestTimeout = opts.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 5_000);
  server.keepAliveTimeout = 30_000;
  server.on("tlsClientError", (err) => {
    opts.log.debug({ err: err.message }, "TLS handshake failed");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    server,
    port: address.port,
    url: `https://${hostForUrl}:${address.port}`,
    setCertificate(tls: TlsMaterial): void {
      server.setSecureContext({ key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" });
    },
    close(): Promise<void> {
      closing = true;
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };
}
