/**
 * A protected sidecar for the session-protection tests: the real sidecar assembly (sidecar/app.ts buildSidecar, as
 * main.ts runs it) in this process, so the test can move the protections' clock and receive its findings through
 * the ProtectionEvents interface — fed into a real SessionIndex, the sessions API's own (the minimal adapter until
 * the audit stream carries findings: feedIndex). Real Redis, a real signed bus (BusPublisher), real sockets, real
 * JWTs, the MaxMind test databases. Clients reach it from 127.0.0.1, a trusted proxy: the client address is the
 * `X-Forwarded-For` the test sends, exactly as behind an ingress.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { SessionFinding } from "../../../operator/api/protections/findings.ts";
import type { CompiledPolicy } from "../../../operator/api/compiled-policy.ts";
import type { SessionSettings } from "../../../operator/api/v1alpha1/index.ts";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { compileAccessPolicy } from "../../../operator/policy/compile.ts";
import { SessionIndex } from "../../../operator/sessions-api/index/session-index.ts";
import { createKeyRing } from "../../../lib/sealing.ts";
import { buildSidecar, type RunningSidecar, type Sidecar } from "../../../sidecar/app.ts";
import { parseSidecarConfig } from "../../../sidecar/config.ts";
import type { ProtectionEvents } from "../../../sidecar/protect/events.ts";
import { openGeo, type Geo } from "../../../sidecar/protect/geo.ts";
import { accessPolicy, allow, inNamespace, withRule, withSelector, withSession } from "../../builders/access-policy.ts";
import { keepEpochFresh, ringOf, verifyingOf } from "../../builders/bus-keys.ts";
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

/**
 * The minimal adapter: a sidecar's protection events into the sessions API's index (the audit stream's job once
 * merged). Events of a session the index does not know yet (its first request is still being answered; the audit
 * stream would carry the session's start first) wait until `replay()`, which the test calls once it reported the
 * session.
 */
export function feedIndex(index: SessionIndex, found: SessionFinding[]): { events: ProtectionEvents; replay(): void } {
  let pending: (() => boolean)[] = [];
  const apply = (fn: () => boolean): void => {
    if (!fn()) pending.push(fn);
  };
  return {
    events: {
      finding(f) {
        found.push(f);
        apply(() => index.recordFinding(f));
      },
      located(e) {
        apply(() => index.locate({ sessionId: e.sessionId, time: e.time, location: e.location }));
      },
    },
    replay() {
      const again = pending;
      pending = [];
      for (const fn of again) apply(fn);
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

export async function startProtectedSidecar(o: {
  redisUrl: string;
  prefix: string;
  pod: string;
  app: string;
  upstreamPort: number;
  issuer: Issuer;
  sessionKey: Buffer;
  events: ProtectionEvents;
  clock: () => number;
}): Promise<ProtectedSidecar> {
  const config = parseSidecarConfig({
    argv: [],
    env: {
      VIGIL_POD_NAME: o.pod,
      VIGIL_POD_NAMESPACE: NS,
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
      VIGIL_TRUSTED_PROXIES: "127.0.0.1/32",
      VIGIL_CLIENT_CERT_HEADER: CERT_HEADER,
      VIGIL_GEOIP_CITY_DATABASE: join(GEOIP, "GeoIP2-City-Test.mmdb"),
      VIGIL_GEOIP_ASN_DATABASE: join(GEOIP, "GeoLite2-ASN-Test.mmdb"),
      VIGIL_HEARTBEAT_INTERVAL_MS: "300",
    },
  });
  const logger = pino({ level: process.env["VIGIL_TEST_LOG"] ?? "silent" });
  const geo = await openGeo({ cityPath: config.geoipCityDatabase, asnPath: config.geoipAsnDatabase, log: logger });
  const sidecar = buildSidecar({
    config,
    labels: { app: o.app },
    issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ["ES256"], jwks: o.issuer.jwks }],
    keyRing: createKeyRing({ keys: [{ id: "k1", key: o.sessionKey }], primary: "k1" }),
    busKeys: () => verifyingOf(),
    logger,
    geo,
    protectionEvents: o.events,
    protectionClock: o.clock,
  });
  const running = await sidecar.listen();
  return { port: running.proxyAddress.port, sidecar, running, geo, stop: () => running.stop() };
}
