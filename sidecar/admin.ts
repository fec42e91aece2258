import type { Server } from "node:http";
import { http } from "../lib/node-http.ts";
import type { Registry } from "prom-client";

/** The admin port: /healthz (process alive), /readyz (`ready()`), /metrics (Prometheus). Never proxied. */
export function createAdminServer(registry: Registry, ready: () => boolean): Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    if (path === "/readyz") {
      const ok = ready();
      return void res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ready" : "not ready");
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
}
