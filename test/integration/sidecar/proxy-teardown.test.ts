import { once } from "node:events";
import { Agent, request, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Revocation } from "../../../operator/api/bus/messages.ts";
import {
  createIssuer,
  echo,
  eventually,
  openTunnel,
  policy,
  rule,
  startEchoServer,
  startSidecar,
  startUpstreamApp,
  type EchoServer,
  type Issuer,
  type Sidecar,
  type UpstreamApp,
} from "./proxy-harness.ts";

/** How a client-side socket ended. */
interface Ending {
  closed: Promise<void>;
  errorCode: () => string | undefined;
}

function watch(socket: Socket): Ending {
  let code: string | undefined;
  socket.on("error", (err: NodeJS.ErrnoException) => {
    code ??= err.code;
  });
  // Not events.once: it would reject on the very error we want to observe.
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      resolve();
    }),
  );
  return { closed, errorCode: () => code };
}

async function openWebSocket(port: number, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${token}` } });
  ws.on("error", () => undefined);
  await once(ws, "open");
  return ws;
}

async function wsEcho(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = (await once(ws, "message")) as [Buffer];
  return data.toString();
}

/** A GET and the client socket it ran on (watched from the start, so its RST is seen). */
function httpGet(port: number, path: string, token: string, agent: Agent): Promise<{ res: IncomingMessage; ending: Ending }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { authorization: `Bearer ${token}` }, agent });
    let ending: Ending | undefined;
    req.once("socket", (socket: Socket) => {
      ending = watch(socket);
    });
    req.once("response", (res) => {
      res.on("error", () => undefined);
      resolve({ res, ending: ending! });
    });
    req.on("error", reject);
    req.end();
  });
}

function revocation(selector: Revocation["selector"]): Revocation {
  return { id: "shop/end-alice/uid-1", namespace: "shop", selector, reason: "offboarded", tokensIssuedBefore: Date.now(), expiresAt: Date.now() + 3_600_000 };
}

describe("sidecar proxy: live teardown", () => {
  let app: UpstreamApp;
  let tcp: EchoServer;
  let issuer: Issuer;
  let sidecar: Sidecar;

  beforeEach(async () => {
    app = await startUpstreamApp();
    tcp = await startEchoServer();
    issuer = await createIssuer();
    sidecar = await startSidecar({
      issuer,
      upstreamPort: app.port,
      policies: [
        policy(
          "shop-access",
          rule("staff-http", "Allow", { groups: ["staff"], paths: ["/*"] }),
          rule("ops-tunnels", "Allow", { groups: ["ops"], ports: [tcp.port] }),
          rule("dev-tunnels", "Allow", { groups: ["dev"], ports: [tcp.port] }),
        ),
      ],
    });
  });

  afterEach(async () => {
    await sidecar.close();
    await app.close();
    await tcp.close();
  });

  it("terminating one subject RSTs all of its sockets (keep-alive, download, WebSocket, tunnel) and only those", async () => {
    const alice = await issuer.token({ sub: "alice", sid: "a-1", groups: ["staff", "ops"] });
    const bob = await issuer.token({ sub: "bob", sid: "b-1", groups: ["staff", "dev"] });

    // alice: an idle keep-alive socket after one request (raw, so we see exactly what arrives)…
    const keepAliveSocket = connect(sidecar.port, "127.0.0.1");
    const idle = watch(keepAliveSocket);
    await once(keepAliveSocket, "connect");
    keepAliveSocket.write(`GET /orders HTTP/1.1\r\nHost: shop.test\r\nAuthorization: Bearer ${alice}\r\n\r\n`);
    const [firstAnswer] = (await once(keepAliveSocket, "data")) as [Buffer];
    expect(firstAnswer.toString()).toMatch(/^HTTP\/1\.1 200/);
    // …a streaming download in flight…
    const { res: download, ending: downloadEnd } = await httpGet(sidecar.port, "/stream", alice, new Agent({ keepAlive: false }));
    await once(download, "data");
    // …a WebSocket and a raw TCP connection through CONNECT.
    const aliceWs = await openWebSocket(sidecar.port, alice);
    expect(await wsEcho(aliceWs, "hi from alice")).toBe("hi from alice");
    const aliceTunnel = await openTunnel(sidecar.port, tcp.port, alice);
    expect(await echo(aliceTunnel, "ssh-alice")).toBe("ssh-alice");
    const aliceTunnelEnd = watch(aliceTunnel);

    // bob, on the same sidecar: a WebSocket and a tunnel.
    const bobWs = await openWebSocket(sidecar.port, bob);
    const bobTunnel = await openTunnel(sidecar.port, tcp.port, bob);
    expect(await echo(bobTunnel, "ssh-bob")).toBe("ssh-bob");

    await eventually(() => sidecar.connections.size === 6);
    expect(tcp.connections()).toBe(2);
    const streamsOpen = app.streamClosed.length;

    const aliceWsClosed = once(aliceWs, "close");
    const counts = sidecar.connections.terminate(revocation({ kind: "subject", subject: "alice", issuer: "https://idp.vigil.test" }), Date.now());
    expect(counts).toEqual({ sessions: 1, connections: 4 });

    await Promise.all([idle.closed, downloadEnd.closed, aliceTunnelEnd.closed]);
    expect(idle.errorCode()).toBe("ECONNRESET");
    expect(downloadEnd.errorCode()).toBe("ECONNRESET");
    expect(aliceTunnelEnd.errorCode()).toBe("ECONNRESET");
    const [wsCode] = (await aliceWsClosed) as [number];
    expect(wsCode).toBe(1006); // no closing handshake: the TCP connection was reset
    // Upstream sides are gone too: the app's stream response and alice's echo connection.
    await app.streamClosed[streamsOpen - 1];
    await eventually(() => tcp.connections() === 1);

    // bob is untouched.
    expect(await wsEcho(bobWs, "still here")).toBe("still here");
    expect(await echo(bobTunnel, "still-ssh")).toBe("still-ssh");
    expect(sidecar.connections.size).toBe(2);
    expect(sidecar.connections.list().every((c) => c.subject === "bob")).toBe(true);

    bobWs.terminate();
    bobTunnel.destroy();
  });

  it("a policy change that removes a group closes that group's tunnels; the others stay", async () => {
    const carol = await issuer.token({ sub: "carol", sid: "c-1", groups: ["ops"] });
    const dave = await issuer.token({ sub: "dave", sid: "d-1", groups: ["dev"] });
    const carolTunnel = await openTunnel(sidecar.port, tcp.port, carol);
    const daveTunnel = await openTunnel(sidecar.port, tcp.port, dave);
    const daveWs = await openWebSocket(sidecar.port, await issuer.token({ sub: "dave", sid: "d-1", groups: ["dev", "staff"] }));
    const carolEnd = watch(carolTunnel);

    sidecar.policies = [
      policy(
        "shop-access",
        rule("staff-http", "Allow", { groups: ["staff"], paths: ["/*"] }),
        rule("dev-tunnels", "Allow", { groups: ["dev"], ports: [tcp.port] }),
      ),
    ];
    const counts = sidecar.connections.reevaluate((flow) => sidecar.authorizeNow(flow));
    expect(counts).toEqual({ sessions: 1, connections: 1 });

    await carolEnd.closed;
    expect(carolEnd.errorCode()).toBe("ECONNRESET");
    expect(await echo(daveTunnel, "db-query")).toBe("db-query");
    expect(await wsEcho(daveWs, "ws-still")).toBe("ws-still");
    // And carol cannot open a new one.
    await expect(openTunnel(sidecar.port, tcp.port, carol)).rejects.toThrow(/403/);
    daveTunnel.destroy();
    daveWs.terminate();
  });
});
