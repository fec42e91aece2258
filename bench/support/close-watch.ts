/** Times when a set of sockets closes (a termination's resets), for the benchmarks. */
import type { Socket } from "node:net";

export interface Watch {
  all: Promise<boolean>;
  closed(): number;
  resets(): number;
  firstAt(): number;
  lastAt(): number;
}

/** Watches sockets for close; `all` resolves true when every one closed, false after the timeout. */
export function watchClose(sockets: Socket[], timeoutMs: number): Watch {
  let closed = 0;
  let resets = 0;
  let firstAt = Number.NaN;
  let lastAt = Number.NaN;
  let done: (ok: boolean) => void = () => undefined;
  const all = new Promise<boolean>((r) => (done = r));
  for (const socket of sockets) {
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET") resets++;
    });
    socket.once("close", () => {
      const t = performance.now();
      closed++;
      if (closed === 1) firstAt = t;
      if (closed === sockets.length) {
        lastAt = t;
        done(true);
      }
    });
  }
  return {
    all: Promise.race([
      all,
      new Promise<boolean>((r) =>
        setTimeout(() => {
          r(false);
        }, timeoutMs).unref(),
      ),
    ]),
    closed: () => closed,
    resets: () => resets,
    firstAt: () => firstAt,
    lastAt: () => lastAt,
  };
}
