/**
 * A protected sidecar for the session-protection tests: the real sidecar assembly (sidecar/app.ts buildSidecar, as
 * main.ts runs it) in this process, so the test can move the protections' clock. Its findings travel the real path:
 * the sidecar's audit reports them as `protection.*` events into the sealed `P audit` stream in real Redis, and the
 * operator's own audit ingest (operator/audit/ingest.ts) folds them into a real SessionIndex, the sessions API's
 * (`startAuditPath`). Real Redis, a real signed bus (BusPublisher), real sockets, real JWTs, the MaxMind test
 * databases. Clients reach it from 127.0.0.1, a trusted proxy: the client address is the `X-Forwarded-For` the test
 * sends, exactly as behind an ingress.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { AuditEvent } from "../../../operator/api/audit/events.ts";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import type { CompiledPolicy } from "../../../operator/api/compiled-policy.ts";
import { AuditIngest } from "../../../operator/audit/ingest.ts";
import { openAuditEntry, SequenceMemory } from "../../../operator/audit/open-entry.ts";
import type { SessionSettings } from "../../../operator/api/v1alpha1/index.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { compileAccessPolicy } from "../../../operator/policy/compile.ts";
import { SessionIndex } from "../../../operator/sessions-api/index/session-index.ts";
import { createKeyRing, type KeyRing } from "../../../lib/sealing.ts";
import { buildSidecar, type RunningSidecar, type Sidecar } from "../../../sidecar/app.ts";
import type { IssuerConfig } from "../../../sidecar/auth/issuer-config.ts";
import { parseSidecarConfig } from "../../../sidecar/config.ts";
import { openGeo, type Geo } from "../../../sidecar/protect/geo.ts";
import { accessPolicy, allow, inNamespace, withRule, withSelector, withSession } from "../../builders/access-policy.ts";
import { keepEpochFresh, ringOf, verifyingOf } from "../../builders/bus-keys.ts";
import { vi } from "vitest";
import { freePort } from "../../cluster/ports.ts";
import { AUDIENCE, ISSUER, type Issuer } from "../sidecar/proxy-harness.ts";

export const GEOIP = join(import.meta.dirname, "../../fixtures/geoip");
export const NS = "shop";
export const CERT_HEADER = "x-client-cert-sha256";

export function protectedPolicy(app: string, session: SessionSettings, tunnelPort: number): CompiledPolicy {
  const r = compileAccessPolicy(
    accessPolicy(
      app,
      inNamespace(NS),
      withSelector({ matchLabels: { app } }),
      withSession(session),
      withRule(
        allow("staff", {
          identities: [{ group: "staff" }],
          requests: [{ paths: ["/*"] }, { methods: ["GET"] }, { methods: ["CONNECT"], ports: [tunnelPort] }],
        }),
      ),
    ),
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}

export interface Bus {
  redis: Redis;
  prefix: string;
  publisher: BusPublisher;
  stop(): Promise<void>;
}

export async function startBus(redisUrl: string, policies: CompiledPolicy[]): Promise<Bus> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  const prefix = `protect-${randomBytes(4).toString("hex")}:`;
  const publisher = new BusPublisher({ redis, prefix, keys: () => ringOf() });
  await openBus(publisher);
  for (const p of policies) await publisher.upsertPolicy(p);
  const stopFresh = keepEpochFresh(publisher, 200);
  return {
    redis,
    prefix,
    publisher,
    stop: async () => {
      stopFresh();
      await redis.quit();
    },
  };
}

export const ringOfKey = (sessionKey: Buffer): KeyRing => createKeyRing({ keys: [{ id: "k1", key: sessionKey }], primary: "k1" });

/** Stream ids (`<ms>-<seq>`) in order. */
function idAtLeast(id: string, target: string): boolean {
  const [a = 0n, b = 0n] = id.split("-").map(BigInt);
  const [c = 0n, d = 0n] = target.split("-").map(BigInt);
  return a > c || (a === c && b >= d);
}

export interface AuditPath {
  /** The sessions API's index, fed by the operator's ingest from the stream alone. */
  index: SessionIndex;
  ingest: AuditIngest;
  /** Every event in the stream, each entry opened as the operator opens it (the audit trail itself). */
  events(): Promise<AuditEvent[]>;
  /** Barrier: what the sidecars queued so far is in the stream, and the ingest has applied all of it. */
  settle(sidecars: readonly Pick<Sidecar, "flushAudit">[]): Promise<void>;
  stop(): Promise<void>;
}

/** The operator's side of the audit stream: its real ingest (its own blocking connection) into a real SessionIndex. */
export function startAuditPath(o: { redisUrl: string; prefix: string; sessionKey: Buffer; publisher: BusPublisher }): AuditPath {
  const ring = ringOfKey(o.sessionKey);
  const streamKey = busKeys(o.prefix).audit;
  const reader = new Redis(o.redisUrl, { maxRetriesPerRequest: 1 });
  reader.on("error", () => undefined);
  const blocking = new Redis(o.redisUrl);
  blocking.on("error", () => undefined);
  const index = new SessionIndex();
  const ingest = new AuditIngest({
    redis: blocking,
    streamKey,
    keyRing: ring,
    index,
    liveSidecars: () => o.publisher.liveSidecars(Date.now(), 5000),
    log: pino({ level: process.env["VIGIL_TEST_LOG"] ?? "silent" }),
    blockMs: 200,
    livenessMs: 500,
  });
  ingest.start();
  return {
    index,
    ingest,
    async events() {
      const sealer = ring.for("audit");
      const memory = new SequenceMemory();
      const out: AuditEvent[] = [];
      for (const [, fields] of await reader.xrange(streamKey, "-", "+")) {
        const opened = openAuditEntry(sealer, fields, memory);
        if (!opened.ok) throw new Error(`audit entry refused: ${opened.code}`);
        out.push(...opened.events);
      }
      return out;
    },
    async settle(sidecars) {
      for (const s of sidecars) await s.flushAudit();
      const [last] = await reader.xrevrange(streamKey, "+", "-", "COUNT", 1);
      if (last === undefined) return;
      await vi.waitFor(
        () => {
          if (!idAtLeast(ingest.stats().lastId, last[0])) throw new Error(`ingest at ${ingest.stats().lastId}, stream at ${last[0]}`);
        },
        { timeout: 10_000, interval: 10 },
      );
    },
    async stop() {
      await ingest.stop();
      await reader.quit();
    },
  };
}

export interface ProtectedSidecar {
  port: number;
  sidecar: Sidecar;
  running: RunningSidecar;
  geo: Geo;
  stop(): Promise<void>;
}

/** A sidecar of this rig: the real assembly for one pod, following the bus at `prefix`, reporting to its audit stream. */
export interface RigSidecarSpec {
  namespace: string;
  pod: string;
  labels: Record<string, string>;
  redisUrl: string;
  prefix: string;
  upstreamPort: number;
  issuers: IssuerConfig[];
  sessionKey: Buffer;
  /** More VIGIL_* settings. */
  env?: Record<string, string>;
  /** The protections' clock. */
  clock?: () => number;
}

export async function startRigSidecar(o: RigSidecarSpec): Promise<ProtectedSidecar> {
  const config = parseSidecarConfig({
    argv: [],
    env: {
      VIGIL_POD_NAME: o.pod,
      VIGIL_POD_NAMESPACE: o.namespace,
      VIGIL_POD_LABELS_FILE: "/unused",
      VIGIL_ISSUERS_FILE: "/unused",
      VIGIL_KEY_RING_DIR: "/unused",
      VIGIL_BUS_KEYS_DIR: "/unused",
      VIGIL_UPSTREAM_PORT: String(o.upstreamPort),
      VIGIL_LISTEN_HOST: "127.0.0.1",
      VIGIL_LISTEN_PORT: String(await freePort()),
      VIGIL_ADMIN_PORT: String(await freePort()),
      VIGIL_REDIS_URL: o.redisUrl,
      VIGIL_BUS_PREFIX: o.prefix,
      VIGIL_HEARTBEAT_INTERVAL_MS: "300",
      ...o.env,
    },
  });
  const logger = pino({ level: process.env["VIGIL_TEST_LOG"] ?? "silent" });
  const geo = await openGeo({ cityPath: config.geoipCityDatabase, asnPath: config.geoipAsnDatabase, log: logger });
  const sidecar = buildSidecar({
    config,
    labels: o.labels,
    issuers: o.issuers,
    keyRing: ringOfKey(o.sessionKey),
    busKeys: () => verifyingOf(),
    logger,
    geo,
    ...(o.clock === undefined ? {} : { protectionClock: o.clock }),
  });
  const running = await sidecar.listen();
  return { port: running.proxyAddress.port, sidecar, running, geo, stop: () => running.stop() };
}

/** A sidecar of namespace `shop` behind a trusted ingress (127.0.0.1), with the MaxMind test databases. */
export function startProtectedSidecar(o: {
  redisUrl: string;
  prefix: string;
  pod: string;
  app: string;
  upstreamPort: number;
  issuer: Issuer;
  sessionKey: Buffer;
  clock: () => number;
}): Promise<ProtectedSidecar> {
  return startRigSidecar({
    ...o,
    namespace: NS,
    labels: { app: o.app },
    issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: o.issuer.jwks }],
    env: {
      VIGIL_TRUSTED_PROXIES: "127.0.0.1/32",
      VIGIL_CLIENT_CERT_HEADER: CERT_HEADER,
      VIGIL_GEOIP_CITY_DATABASE: join(GEOIP, "GeoIP2-City-Test.mmdb"),
      VIGIL_GEOIP_ASN_DATABASE: join(GEOIP, "GeoLite2-ASN-Test.mmdb"),
    },
  });
}
