/**
 * A signal that arrives before the operator knows where sessions live is answered as retryable, never as applied:
 * the real signals server (operator/signals/server.ts, real HTTPS sockets) with the real back-channel logout and SSF
 * receivers, the real replay guard in Redis, real SessionTerminations in the API server, and the real
 * `busNamespaces` over a bus publisher that has not loaded the bus (a replica before the bus was ever built).
 *
 * - nothing built yet: a valid logout token → 503 `temporarily_unavailable`, a valid SET → 503 `{err:
 *   "temporarily_unavailable"}`; nothing created, the jti not remembered;
 * - the leader then builds the bus (this replica's publisher still has not loaded it, as on a standby): the same
 *   token and SET delivered again are applied (200 / 202) and create SessionTerminations.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import { SIGNAL_SOURCE_LABEL } from "../../../operator/api/annotations.ts";
import { GROUP, SESSION_TERMINATION, VERSION, type SessionTermination } from "../../../operator/api/v1alpha1/index.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { BACKCHANNEL_EVENT, backChannelReceiver } from "../../../operator/signals/backchannel.ts";
import { busNamespaces } from "../../../operator/signals/bus-namespaces.ts";
import { parseSignalsConfig } from "../../../operator/signals/config.ts";
import { ReplayGuard } from "../../../operator/signals/replay.ts";
import { startSignalsServer, type SignalsServer } from "../../../operator/signals/server.ts";
import { TransmitterClient } from "../../../operator/signals/ssf/client.ts";
import { SsfReceiver } from "../../../operator/signals/ssf/receiver.ts";
import { StreamVerification } from "../../../operator/signals/ssf/verification.ts";
import { SignalTerminations } from "../../../operator/signals/terminations.ts";
import { ringOf } from "../../builders/bus-keys.ts";
import { clusterEnv } from "../../cluster/env.ts";
import { Connections, uniquePrefix } from "../bus/support.ts";
import { createNamespace, kubeConfig, quietLog } from "../operator/kube-support.ts";
import { applyVigilCrds } from "../operator/operator-support.ts";
import { postTrusting, writeServingCert, type HttpAnswer } from "./signals-tls.ts";
import { PUSH, SsfTransmitter } from "./ssf-transmitter.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const api = kc.makeApiClient(CustomObjectsApi);
const connections = new Connections(env.redisUrl);
const prefix = uniquePrefix();
const keys = busKeys(prefix);
const IDP = "https://idp.example.com";
const AUDIENCE = "https://vigil.example/ssf";
const PUSH_TOKEN = randomBytes(16).toString("hex");

let ns: string;
let cert: string;
let server: SignalsServer;
let tx: SsfTransmitter;
let idpKey: CryptoKey;
let transmitter: TransmitterClient;
let streamId: string;
const counted: string[] = [];

async function terminations(): Promise<SessionTermination[]> {
  const list = (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural, namespace: ns })) as {
    items: SessionTermination[];
  };
  return list.items.filter((t) => t.metadata.labels?.[SIGNAL_SOURCE_LABEL] !== undefined);
}

async function logout(token: string): Promise<HttpAnswer> {
  return postTrusting(
    `https://127.0.0.1:${server.port}/oidc/backchannel-logout`,
    cert,
    { "content-type": "application/x-www-form-urlencoded" },
    new URLSearchParams({ logout_token: token }).toString(),
  );
}

beforeAll(async () => {
  await applyVigilCrds(env);
  ns = await createNamespace(env);
  const dir = mkdtempSync(join(tmpdir(), "vigil-signals-"));
  cert = writeServingCert(dir);
  const idp = await generateKeyPair("RS256");
  idpKey = idp.privateKey;
  tx = await SsfTransmitter.start({ audience: AUDIENCE, managementToken: "m", receiverCa: cert });
  const config = parseSignalsConfig({
    backChannelLogout: [{ issuer: IDP, audiences: ["vigil"], algorithms: ["RS256"], jwks: { keys: [{ ...(await exportJWK(idp.publicKey)), kid: "idp-1" }] } }],
    ssf: [
      {
        name: "idp",
        transmitter: tx.issuer,
        audience: AUDIENCE,
        algorithms: ["ES256"],
        subjectIssuer: IDP,
        delivery: "push",
        managementTokenFile: "/unused",
        pushTokenFile: "/unused",
        pushUrl: "https://127.0.0.1/ssf/push/idp",
      },
    ],
  });
  const redis = connections.raw();
  const replay = new ReplayGuard(redis, keys);
  // This replica's publisher has not loaded the bus; its one live sidecar is in `ns`.
  const publisher = new BusPublisher({ redis: connections.open("replica").commands, prefix, keys: () => ringOf() });
  const namespaces = busNamespaces({ liveSidecars: () => Promise.resolve([{ namespace: ns }]), publisher }, redis, keys);
  const signalTerminations = new SignalTerminations(api, quietLog);
  const client = new TransmitterClient(tx.issuer, () => Promise.resolve("m"));
  const stream = config.ssf[0];
  if (stream === undefined) throw new Error("no stream");
  const receiver = new SsfReceiver({
    config: stream,
    discover: () => client.discover(),
    replay,
    end: (s) => signalTerminations.end(s),
    namespaces,
    health: { status: "unknown", streamId: undefined, lastEventAt: undefined, verifiedAt: undefined },
    verification: new StreamVerification(redis, keys, "idp"),
    count: (result) => counted.push(`set:${result}`),
    log: quietLog,
  });
  server = await startSignalsServer({
    tls: { cert, key: readFileSync(join(dir, "tls.key"), "utf8") },
    host: "127.0.0.1",
    port: 0,
    backChannel: backChannelReceiver(config.backChannelLogout, replay),
    streams: new Map([["idp", { receiver, pushToken: PUSH_TOKEN }]]),
    end: (s) => signalTerminations.end(s),
    namespaces,
    count: (name, result) => counted.push(`${name}:${result}`),
    log: quietLog,
  });
  // The push stream at the transmitter, created with the receiver's real client.
  transmitter = client;
  const created = await client.createStream(await client.discover(), {
    delivery: { method: PUSH, endpoint_url: `https://127.0.0.1:${server.port}/ssf/push/idp`, authorization_header: `Bearer ${PUSH_TOKEN}` },
    events_requested: [],
    description: "test",
  });
  streamId = created.stream_id;
});

afterAll(async () => {
  await server.close();
  await tx.close();
  await connections.closeAll();
});

describe("a signal before the bus is loaded", () => {
  it("is answered 503 temporarily_unavailable, creates nothing, and is applied when delivered again once the bus exists", async () => {
    const now = Math.floor(Date.now() / 1000);
    const logoutToken = await new SignJWT({
      iss: IDP,
      aud: "vigil",
      iat: now,
      jti: randomBytes(8).toString("hex"),
      sid: "sid-1",
      events: { [BACKCHANNEL_EVENT]: {} },
    })
      .setProtectedHeader({ alg: "RS256", kid: "idp-1", typ: "logout+jwt" })
      .sign(idpKey);
    const set = await tx.sign(tx.claims("session-revoked", { format: "iss_sub", iss: IDP, sub: "alice" }, {}));

    expect(await logout(logoutToken)).toEqual({
      status: 503,
      json: { error: "temporarily_unavailable", error_description: expect.any(String) as unknown },
    });
    expect(await tx.push(set)).toEqual({ status: 503, json: { err: "temporarily_unavailable", description: expect.any(String) as unknown } });
    expect(await terminations()).toEqual([]);
    expect(counted).toEqual(expect.arrayContaining(["backchannel-logout:not_applied", "set:not_ready", "ssf/idp:not_ready"]));

    // The leader builds the bus; this replica still has not loaded it and reads it from Redis.
    await openBus(new BusPublisher({ redis: connections.open("leader").commands, prefix, keys: () => ringOf() }));
    expect(await logout(logoutToken)).toEqual({ status: 200, json: undefined });
    expect(await tx.push(set)).toEqual({ status: 202, json: undefined });
    expect((await terminations()).map((t) => t.spec.target)).toEqual(
      expect.arrayContaining([
        { idpSessionID: "sid-1", issuer: IDP },
        { subject: "alice", issuer: IDP },
      ]),
    );
    expect(counted).toEqual(expect.arrayContaining(["backchannel-logout:accepted", "ssf/idp:accepted"]));
  });
});

describe("stream verification across replicas", () => {
  it("matches a verification event pushed to a replica that did not ask for it, and the asking replica sees when", async () => {
    // Another replica (the leader) asks; the transmitter pushes the event to this one, behind the same Service.
    const leader = new StreamVerification(connections.raw(), keys, "idp");
    const accepted = (): number => counted.filter((c) => c === "ssf/idp:accepted").length;
    const acceptedBefore = accepted();
    const discovery = await transmitter.discover();
    await transmitter.requestVerification(discovery, streamId, "a-state-nobody-asked-for");
    await expect.poll(accepted).toBe(acceptedBefore + 1);
    expect(await leader.verifiedAt()).toBeUndefined();

    const before = Date.now();
    await transmitter.requestVerification(discovery, streamId, await leader.ask());
    await expect.poll(() => leader.verifiedAt()).toBeGreaterThanOrEqual(before);
  });
});
