/**
 * A TCP relay between a client and the API server, so a test can cut live connections (a watch dropped
 * mid-stream) or refuse new ones for a while (an API server that is unreachable). TLS passes through untouched.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpRelay {
  readonly port: number;
  /** Destroy every open connection (both sides). */
  cut(): void;
  /** Cut and refuse new connections until resume(). */
  pause(): void;
  resume(): void;
  /** Connections accepted so far (while not paused). */
  readonly accepted: number;
  /** Connections refused so far (while paused). */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startRelay(targetHost: string, targetPort: number): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let paused = false;
  let accepted = 0;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (paused) {
      refused++;
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: targetHost, port: targetPort });
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cut = (): void => {
    for (const s of [...open]) s.destroy();
    open.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    cut,
    pause() {
      paused = true;
      cut();
    },
    resume() {
      paused = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => {
          resolve();
        });
      }),
  };
}
