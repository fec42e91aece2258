/**
 * Runs inside the test node's network namespace (node-exec.sh) and relays connections from listening sockets that the
 * harness opened on the HOST's loopback and handed over through the IPC channel, to a port on the node's own loopback:
 * the host reaches the node's API server (and etcd, Redis) without an interface, address or route being added to the
 * host. Exits when the harness disconnects.
 */
import { connect, Server, type Socket } from "node:net";

process.on("message", (message: { target?: number }, handle: unknown) => {
  const target = message.target;
  if (!(handle instanceof Server) || target === undefined) return;
  handle.on("connection", (client: Socket) => {
    const upstream = connect(target, "127.0.0.1");
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream).pipe(client);
  });
});
process.on("disconnect", () => process.exit(0));
process.send?.("ready");
