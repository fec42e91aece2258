/**
 * A WebSocket to keep open during the demo (no wscat or nc needed):
 *
 *   source .vigil/demo/env && npx node scripts/demo/ws-client.ts alice
 *
 * Connects to `$SIDECAR/ws` with `$TOKEN_<USER>` as bearer token, sends a line every second and prints the echo,
 * until the connection ends; then says how it ended and exits (0 when the server closed it, 1 when it could not
 * connect). The token is read from the environment, never from the command line (where `ps` would show it).
 */
import WebSocket from "ws";

const user = (process.argv[2] ?? "alice").toLowerCase();
const sidecar = process.env["SIDECAR"];
const token = process.env[`TOKEN_${user.toUpperCase()}`];
if (sidecar === undefined || token === undefined || !/^[a-z]{1,32}$/.test(user)) {
  process.stderr.write(`usage: source .vigil/demo/env && npx node scripts/demo/ws-client.ts alice|bob\n`);
  process.exit(2);
}

const url = `${sidecar.replace(/^http/, "ws")}/ws`;
const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
let n = 0;
let opened = false;
let timer: ReturnType<typeof setInterval> | undefined;

ws.on("unexpected-response", (_req, res) => {
  process.stdout.write(`refused: HTTP ${res.statusCode ?? 0}\n`);
  res.resume();
  process.exit(1);
});
ws.on("open", () => {
  opened = true;
  process.stdout.write(`connected to ${url} as ${user}; sending a line every second (Ctrl-C to stop)\n`);
  timer = setInterval(() => {
    n += 1;
    ws.send(`ping ${n}`);
  }, 1000);
});
ws.on("message", (data: Buffer) => {
  process.stdout.write(`← ${data.toString()}\n`);
});
ws.on("error", (err) => {
  process.stdout.write(`error: ${err.message}\n`);
});
ws.on("close", (code) => {
  if (timer !== undefined) clearInterval(timer);
  process.stdout.write(`connection closed (code ${code}${code === 1006 ? ": reset, no closing handshake" : ""})\n`);
  process.exit(opened ? 0 : 1);
});
