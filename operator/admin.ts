/**
 * The admin HTTP server (plain HTTP on the admin port; no secrets served):
 *   GET /healthz → 200 "ok" while the process is alive and its event loop turns;
 *   GET /readyz  → 200 "ok" when `ready()` says so, else 503 with the reason (e.g. "informers not synced");
 *   GET /metrics → the Prometheus registry in text format.
 * Anything else → 404; methods other than GET/HEAD → 405. A throwing readiness function means not ready.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { http } from "../lib/node-http.ts";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { describeError, errorFields } from "./errors.ts";
import type { Logger } from "../lib/log.ts";

export type Readiness = { ready: true } | { ready: false; reason: string };

export interface AdminServerOptions {
  port: number;
  /** Default 0.0.0.0 (kubelet probes and Prometheus scrape the pod IP). */
  host?: string;
  registry: Registry;
  readiness: () => Readiness | Promise<Readiness>;
  log: Logger;
}

export interface AdminServer {
  readonly server: Server;
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse, o: AdminServerOptions): Promise<void> {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "method not allowed\n");
    return;
  }
  switch (path) {
    case "/healthz":
      send(res, 200, "ok\n");
      return;
    case "/readyz": {
      let state: Readiness;
      try {
        state = await o.readiness();
      } catch (err) {
        state = { ready: false, reason: `readiness check failed: ${describeError(err)}` };
      }
      if (state.ready) send(res, 200, "ok\n");
      else send(res, 503, `not ready: ${state.reason}\n`);
      return;
    }
    case "/metrics":
      send(res, 200, await o.registry.metrics(), o.registry.contentType);
      return;
    default:
      send(res, 404, "not found\n");
  }
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      options.log.error(errorFields(err), "admin request failed");
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.log.info({ port }, "admin server listening");
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
