// Sample application behind the Vigil sidecar (no dependencies):
//   - HTTP on 0.0.0.0:8080 (APP_PORT): any GET answers JSON with the path and the identity headers the sidecar set;
//   - WebSocket echo on the same port (any path, text frames up to 64 KiB);
//   - TCP echo on 127.0.0.1:7000 (TCP_ECHO_PORT), the target of CONNECT tunnels;
//   - at start it asks the sidecar's /readyz (127.0.0.1:15090, SIDECAR_ADMIN_PORT) once and logs the answer, so the
//     journey can tell that the native sidecar was Ready before the application started.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";

const port = Number(process.env.APP_PORT ?? 8080);
const tcpPort = Number(process.env.TCP_ECHO_PORT ?? 7000);
const sidecarAdmin = Number(process.env.SIDECAR_ADMIN_PORT ?? 15090);
const log = (fields) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);

const server = createServer((req, res) => {
  const identity = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-vigil-")));
  const body = JSON.stringify({ ok: true, path: req.url, identity });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  req.resume();
});

server.on("upgrade", (req, socket) => {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || (req.headers.upgrade ?? "").toLowerCase() !== "websocket") return socket.destroy();
  const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const frame = readFrame(buffered);
      if (frame === undefined) return;
      buffered = buffered.subarray(frame.length);
      if (frame.opcode === 0x8) return void socket.end(Buffer.from([0x88, 0x00]));
      if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
      else if (frame.opcode === 0x1 || frame.opcode === 0x2) socket.write(encodeFrame(frame.opcode, frame.payload));
    }
  });
  socket.on("error", () => undefined);
});

/** One client frame (masked, FIN assumed) from the start of `buf`, or undefined when incomplete. */
function readFrame(buf) {
  if (buf.length < 2) return undefined;
  const opcode = buf[0] & 0x0f;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    throw new Error("frame too large for the sample app");
  }
  const masked = (buf[1] & 0x80) !== 0;
  const end = offset + (masked ? 4 : 0) + len;
  if (buf.length < end) return undefined;
  const payload = Buffer.from(buf.subarray(end - len, end));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[offset + (i % 4)];
  return { opcode, payload, length: end };
}

function encodeFrame(opcode, payload) {
  const head =
    payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

const tcp = createTcpServer((socket) => {
  socket.on("error", () => undefined);
  socket.pipe(socket);
});

async function sidecarReady() {
  try {
    const res = await fetch(`http://127.0.0.1:${sidecarAdmin}/readyz`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

const readyAtStart = await sidecarReady();
server.listen(port, "0.0.0.0", () => {
  tcp.listen(tcpPort, "127.0.0.1", () => {
    log({ event: "started", port, tcpEchoPort: tcpPort, sidecarReadyAtStart: readyAtStart });
  });
});
for (const signal of ["SIGTERM", "SIGINT"])
  process.once(signal, () => {
    server.close();
    tcp.close();
    process.exit(0);
  });
