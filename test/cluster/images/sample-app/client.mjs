// The journey's client, run in a client pod with `kubectl exec` (no dependencies). The token comes from $TOKEN.
//   node client.mjs get URL                        → one GET; prints {"status":…,"body":…}
//   node client.mjs hold-ws URL                    → WebSocket: one echo, prints "open", then "closed <why>" when it ends
//   node client.mjs hold-tunnel HOST PORT TARGET   → CONNECT 127.0.0.1:TARGET through HOST:PORT (token in
//                                                    Proxy-Authorization): one echo, "open", then "closed <why>"
//   node client.mjs load URL SECONDS CONNECTIONS   → closed-loop GETs over CONNECTIONS keep-alive connections for
//                                                    SECONDS, tokens round-robin from stdin (one per line); prints a
//                                                    JSON summary (requests, rps, statuses, errors)
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { connect } from "node:net";

const [command, ...args] = process.argv.slice(2);
const token = process.env.TOKEN ?? "";
const out = (line) => process.stdout.write(`${line}\n`);

function get(url, bearer, agent) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: bearer ? { authorization: `Bearer ${bearer}` } : {}, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Holds `socket` open and reports how it ends; exits 0 once it has ended. */
function holdUntilClosed(socket) {
  let why = "end";
  socket.on("error", (err) => {
    why = err.code ?? err.message;
  });
  socket.on("close", () => {
    out(`closed ${why}`);
    process.exit(0);
  });
}

function waitFor(socket, predicate) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const result = predicate(buf);
      if (result !== undefined) {
        socket.off("data", onData);
        socket.off("close", onClose);
        resolve(result);
      }
    };
    const onClose = () => reject(new Error(`closed early: ${buf.toString("latin1").split("\r\n")[0]}`));
    socket.on("data", onData);
    socket.on("close", onClose);
  });
}

async function holdWs(url) {
  const u = new URL(url);
  const socket = connect(Number(u.port || 80), u.hostname);
  socket.on("error", () => undefined);
  await new Promise((r) => socket.once("connect", r));
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  const head = await waitFor(socket, (b) => {
    const i = b.indexOf("\r\n\r\n");
    return i < 0 ? undefined : b.subarray(0, i).toString("latin1");
  });
  if (!head.startsWith("HTTP/1.1 101")) {
    out(`refused ${head.split("\r\n")[0]}`);
    process.exit(1);
  }
  const payload = Buffer.from("hello");
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  const echoed = await waitFor(socket, (b) => (b.length >= 2 + payload.length ? b.subarray(2, 2 + payload.length).toString() : undefined));
  if (echoed !== "hello") {
    out(`bad echo ${echoed}`);
    process.exit(1);
  }
  out("open");
  holdUntilClosed(socket);
}

async function holdTunnel(host, port, target) {
  const socket = connect(Number(port), host);
  socket.on("error", () => undefined);
  await new Promise((r) => socket.once("connect", r));
  socket.write(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`);
  const head = await waitFor(socket, (b) => {
    const i = b.indexOf("\r\n\r\n");
    return i < 0 ? undefined : b.subarray(0, i).toString("latin1");
  });
  if (!head.startsWith("HTTP/1.1 200")) {
    out(`refused ${head.split("\r\n")[0]}`);
    process.exit(1);
  }
  socket.write("ping");
  const echoed = await waitFor(socket, (b) => (b.length >= 4 ? b.subarray(0, 4).toString() : undefined));
  if (echoed !== "ping") {
    out(`bad echo ${echoed}`);
    process.exit(1);
  }
  out("open");
  holdUntilClosed(socket);
}

async function load(url, seconds, connections) {
  const tokens = (
    await new Promise((resolve) => {
      const chunks = [];
      process.stdin.on("data", (c) => chunks.push(c));
      process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString()));
    })
  )
    .split("\n")
    .filter((l) => l.trim() !== "");
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const statuses = {};
  let requests = 0;
  let errors = 0;
  let next = 0;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const bearer = tokens.length > 0 ? tokens[next++ % tokens.length] : "";
      try {
        const { status } = await get(url, bearer, agent);
        statuses[status] = (statuses[status] ?? 0) + 1;
        requests++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (Date.now() - started) / 1000;
  out(JSON.stringify({ requests, rps: Math.round(requests / elapsed), seconds: elapsed, connections, tokens: tokens.length, statuses, errors }));
  agent.destroy();
}

const commands = {
  get: async (url) => out(JSON.stringify(await get(url, token))),
  "hold-ws": holdWs,
  "hold-tunnel": holdTunnel,
  load: (url, seconds, connections) => load(url, Number(seconds), Number(connections)),
};
const run = commands[command];
if (run === undefined) {
  process.stderr.write("usage: client.mjs get URL | hold-ws URL | hold-tunnel HOST PORT TARGET | load URL SECONDS CONNECTIONS\n");
  process.exit(2);
}
run(...args).catch((err) => {
  out(`error ${err.message}`);
  process.exit(1);
});
