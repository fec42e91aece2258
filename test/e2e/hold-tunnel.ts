/**
 * Holds one CONNECT tunnel open through a Vigil sidecar, for the kind journey (test/e2e/kind.sh).
 *
 *   E2E_TOKEN=<jwt> node test/e2e/hold-tunnel.ts <proxy-port> <target-port>
 *
 * Connects to 127.0.0.1:<proxy-port> (a port-forward to the sidecar), sends `CONNECT 127.0.0.1:<target-port>` with
 * the token as `Proxy-Authorization: Bearer` (read from the environment so it never shows in `ps`), checks one echo
 * round trip, prints `tunnel open`, then waits. When the sidecar ends the tunnel it prints `tunnel closed` (with
 * the error code, e.g. ECONNRESET) and exits 0. Refused or broken before opening: prints why, exits 1.
 */
import { connect } from "node:net";

const [proxyPort, targetPort] = process.argv.slice(2).map(Number);
const token = process.env["E2E_TOKEN"] ?? "";
if (proxyPort === undefined || targetPort === undefined || !Number.isInteger(proxyPort) || !Number.isInteger(targetPort) || token === "") {
  process.stderr.write("usage: E2E_TOKEN=<jwt> node test/e2e/hold-tunnel.ts <proxy-port> <target-port>\n");
  process.exit(2);
}

let state: "connecting" | "echo" | "open" = "connecting";
let errorCode = "";
const socket = connect(proxyPort, "127.0.0.1", () => {
  socket.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`);
});
socket.on("data", (chunk: Buffer) => {
  const text = chunk.toString("latin1");
  if (state === "connecting") {
    const status = text.split("\r\n")[0] ?? "";
    if (!status.startsWith("HTTP/1.1 200")) {
      process.stdout.write(`tunnel refused: ${status}\n`);
      process.exit(1);
    }
    state = "echo";
    socket.write("vigil-ping\n");
  } else if (state === "echo" && text.includes("vigil-ping")) {
    state = "open";
    process.stdout.write("tunnel open\n");
  }
});
socket.on("error", (err: NodeJS.ErrnoException) => {
  errorCode = err.code ?? err.message;
});
socket.on("close", () => {
  if (state !== "open") {
    process.stdout.write(`tunnel failed before opening (${errorCode || "closed"})\n`);
    process.exit(1);
  }
  process.stdout.write(`tunnel closed (${errorCode || "FIN"})\n`);
  process.exit(0);
});
