/** Benchmark upstream: a minimal Node http server answering `ok` (2 bytes) on 127.0.0.1; prints {"port":N}. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
  res.end("ok");
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => process.exit(0));
