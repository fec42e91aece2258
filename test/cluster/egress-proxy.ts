/**
 * The test control plane's `cluster` egress: an HTTP CONNECT proxy on a Unix socket that kube-apiserver dials for
 * everything it sends to a Service (aggregated APIs, webhooks given by Service). There is no kubelet and no
 * kube-proxy, so a Service's address leads nowhere on its own; this proxy maps the Services that tests registered
 * (service-route.ts) to local ports on 127.0.0.1 and refuses everything else — no connection ever leaves loopback.
 *
 *   node test/cluster/egress-proxy.ts <socket path> <routes dir>
 *
 * Routes are files in <routes dir>, one per target the API server may ask for (`<clusterIP>:<port>` or
 * `<name>.<namespace>.svc:<port>`, URI-encoded), each holding the local port; read on every CONNECT, so tests in
 * other processes add and remove them at any time. Each CONNECT is logged (target, decision) on stdout.
 */
import { readFileSync, rmSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { routeFile } from "./egress-routes.ts";

const [socketPath, routesDir] = process.argv.slice(2);
if (socketPath === undefined || routesDir === undefined) {
  console.error("usage: egress-proxy.ts <socket> <routes dir>");
  process.exit(2);
}

function localPortFor(authority: string): number | undefined {
  try {
    const port = Number(readFileSync(routeFile(routesDir ?? "", authority), "utf8").trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

function refuse(client: Socket, status: string, why: string): void {
  client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${why}\n`);
}

function onConnection(client: Socket): void {
  client.on("error", () => undefined);
  let head = "";
  const onData = (chunk: Buffer): void => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > 8192) refuse(client, "431 Request Header Fields Too Large", "header too large");
      return;
    }
    client.off("data", onData);
    const rest = Buffer.from(head.slice(end + 4), "latin1");
    const match = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(head);
    const authority = match?.[1];
    if (authority === undefined) {
      refuse(client, "405 Method Not Allowed", "only CONNECT");
      return;
    }
    const port = localPortFor(authority);
    if (port === undefined) {
      console.log(`${new Date().toISOString()} CONNECT ${authority} refused: no route`);
      refuse(client, "502 Bad Gateway", `no route for ${authority}`);
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port }, () => {
      console.log(`${new Date().toISOString()} CONNECT ${authority} -> 127.0.0.1:${port}`);
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on("error", (err) => {
      console.log(`${new Date().toISOString()} CONNECT ${authority} -> 127.0.0.1:${port} failed: ${err.message}`);
      if (client.writable) refuse(client, "502 Bad Gateway", err.message);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };
  client.on("data", onData);
}

rmSync(socketPath, { force: true });
const server = createServer(onConnection);
server.listen(socketPath, () => {
  console.log(`egress proxy listening on ${socketPath}, routes in ${routesDir}`);
});
const stop = (): void => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
