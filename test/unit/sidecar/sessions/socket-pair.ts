/**
 * Real TCP socket pairs on loopback for connection-table tests: `near` is the socket the table
 * tracks, `far` the peer that observes how it ended ("ECONNRESET" for an RST, "clean" for FIN).
 */
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface Observed {
  socket: Socket;
  ended: Promise<string>;
}

export interface SocketPairs {
  pair(): Promise<{ near: Socket; far: Observed }>;
  close(): Promise<void>;
}

export async function socketPairs(): Promise<SocketPairs> {
  const accepted: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const server: Server = createServer((s) => {
    s.on("error", () => undefined);
    const w = waiting.shift();
    if (w) w(s);
    else accepted.push(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    async pair() {
      const accept = new Promise<Socket>((resolve) => {
        const s = accepted.shift();
        if (s) resolve(s);
        else waiting.push(resolve);
      });
      const far = connect((server.address() as AddressInfo).port, "127.0.0.1");
      let code: string | undefined;
      far.on("error", (err: NodeJS.ErrnoException) => {
        code ??= err.code;
      });
      far.resume();
      const ended = new Promise<string>((resolve) =>
        far.once("close", () => {
          resolve(code ?? "clean");
        }),
      );
      return { near: await accept, far: { socket: far, ended } };
    },
    async close() {
      server.close();
      await once(server, "close");
    },
  };
}
