/**
 * Baseline: bare `http-proxy` 1.18.1 with a keep-alive agent in front of the upstream, nothing else
 * (no auth, no header work). Usage: node bench/servers/bare-proxy.ts <upstreamPort>; prints {"port":N}.
 */
import { Agent, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import httpProxy from "http-proxy";

const upstreamPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
proxy.on("error", (_err, _req, res) => {
  if ("writeHead" in res && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = createServer((req, res) => {
  proxy.web(req, res);
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => process.exit(0));
