/** TCP echo service reached through CONNECT tunnels in the termination scenario; prints {"port":N}. */
import { createServer, type AddressInfo } from "node:net";

const server = createServer((socket) => {
  socket.on("error", () => undefined);
  socket.pipe(socket);
});
server.maxConnections = 100_000;
server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => process.exit(0));
