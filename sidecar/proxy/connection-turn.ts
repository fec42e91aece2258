/**
 * Requests on one client connection are handled one at a time, in order, and nothing read after a closing answer
 * is handled at all.
 *
 * Node's HTTP server parses ahead: it emits `request` for every request it reads, also for one pipelined behind a
 * request whose response is still pending (the new response waits in a queue until the earlier one finishes), and
 * it keeps parsing what follows a response that closes the connection until the socket is actually gone. It also
 * emits `upgrade` / `connect` for a handshake pipelined behind a pending response. Left alone, a request pipelined
 * behind a refusal that answers `Connection: close` reached the application with its own token, although the client
 * can never see its answer.
 *
 * Contract:
 * - `onHttpTurn(req, res, go)` calls `go` once this request's response owns the socket (at once for the usual,
 *   non-pipelined request: two property reads, no allocation), unless the connection's write side has ended
 *   or the socket is gone, in which case the request is dropped: not admitted, not forwarded, never answered.
 * - `onRawTurn(socket, go)` does the same for an upgrade or CONNECT: it waits for a response still pending on the
 *   socket, then calls `go`, or — if that response closed the connection — lets the socket close once the closing
 *   answer is flushed.
 * Both return whether the request was dropped at once (for logging); a request dropped later is dropped silently.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** The connection said its last word (a closing answer was written) or is gone. */
export function connectionClosing(socket: Socket): boolean {
  return socket.writableEnded || socket.destroyed;
}

export function onHttpTurn(req: IncomingMessage, res: ServerResponse, go: () => void): boolean {
  const socket = req.socket;
  if (connectionClosing(socket)) return true;
  if (res.socket !== null) {
    go();
    return false;
  }
  // Pipelined: Node assigns the socket once every earlier response has finished without closing the connection.
  res.once("socket", () => {
    if (!connectionClosing(socket)) go();
  });
  return false;
}

export function onRawTurn(socket: Socket, go: () => void): boolean {
  if (connectionClosing(socket)) {
    socket.destroySoon(); // once the closing answer is flushed; destroying now could cut it short
    return true;
  }
  const pending = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (pending === undefined || pending === null) {
    go();
    return false;
  }
  // `finish` listeners run after Node's own, which has already ended the socket if that response closes it.
  pending.once("finish", () => {
    if (connectionClosing(socket)) {
      socket.destroySoon();
      return;
    }
    socket.setTimeout(0); // Node armed its keep-alive timer for the HTTP connection this socket no longer is
    go();
  });
  return false;
}
