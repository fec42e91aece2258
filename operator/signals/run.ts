/**
 * Assembly of the identity-provider signal receivers (wiring only): the configuration file, the back-channel
 * logout receiver, one SSF receiver + stream controller per configured stream, the HTTPS server (certificate from
 * `certDir`: tls.crt/tls.key, re-read every minute), and metrics. `prepareSignals` runs before the operator is
 * assembled (the stream controllers are leader-only controllers of its Manager); `startSignals` starts the server
 * once the operator can create SessionTerminations.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../../lib/log.ts";
import { busKeys, type BusKeys } from "../api/bus/keys.ts";
import type { OperatorConfig } from "../config.ts";
import type { Reconciler } from "../controller/reconciler.ts";
import { busNamespaces, notReady, type BusNamespaces } from "./bus-namespaces.ts";
import { backChannelReceiver, type BackChannelReceiver } from "./backchannel.ts";
import { readSignalsConfig } from "./config.ts";
import { ReplayGuard } from "./replay.ts";
import { startSignalsServer, type SignalsServer } from "./server.ts";
import { TransmitterClient, type Discovery } from "./ssf/client.ts";
import { SsfReceiver, type StreamHealth } from "./ssf/receiver.ts";
import { ssfStreamKey, SsfStreamController } from "./ssf/stream.ts";
import { StreamVerification } from "./ssf/verification.ts";
import type { Signal, SignalOutcome } from "./terminations.ts";

export interface SignalsSettings {
  configFile: string;
  certDir: string;
  host: string;
  port: number;
}

export interface PreparedSignals {
  backChannel: BackChannelReceiver | undefined;
  streams: Map<string, { receiver: SsfReceiver; pushToken: string | undefined; health: StreamHealth }>;
  /** Leader-only controllers (one synthetic key each). */
  controllers: { name: string; key: string; reconciler: Reconciler }[];
}

/** What the receivers need from the operator once it exists (set by main.ts before the first signal). */
export interface SignalSink {
  end: (signal: Signal) => Promise<SignalOutcome>;
  namespaces: () => Promise<string[]>;
}

/** What the receivers are built from (both phases). */
export interface SignalsContext {
  settings: SignalsSettings;
  /** Replay guard and SSF stream state. */
  redis: Redis;
  keys: BusKeys;
  sink: SignalSink;
  log: Logger;
  registry: Registry;
}

export async function prepareSignals(ctx: SignalsContext): Promise<PreparedSignals> {
  const { settings, redis, keys, sink, log, registry } = ctx;
  const config = await readSignalsConfig(settings.configFile);
  const replay = new ReplayGuard(redis, keys);
  const received = new Counter({
    name: "vigil_operator_signals_total",
    help: "Identity-provider signals received, by receiver and result (accepted, or why refused).",
    labelNames: ["receiver", "result"],
    registers: [registry],
  });
  const streams: PreparedSignals["streams"] = new Map();
  const controllers: PreparedSignals["controllers"] = [];
  for (const stream of config.ssf) {
    const client = new TransmitterClient(stream.transmitter, async () => (await readFile(stream.managementTokenFile, "utf8")).trim());
    const health: StreamHealth = { status: "unknown", streamId: undefined, lastEventAt: undefined, verifiedAt: undefined };
    const verification = new StreamVerification(redis, keys, stream.name);
    const discover = cachedDiscovery(() => client.discover());
    const receiver = new SsfReceiver({
      config: stream,
      discover,
      replay,
      end: (s) => sink.end(s),
      namespaces: () => sink.namespaces(),
      health,
      verification,
      count: (result) => {
        received.inc({ receiver: `ssf/${stream.name}`, result });
      },
      log,
    });
    const pushToken = stream.pushTokenFile === undefined ? undefined : (await readFile(stream.pushTokenFile, "utf8")).trim();
    streams.set(stream.name, { receiver, pushToken, health });
    controllers.push({
      name: `ssf-${stream.name}`,
      key: ssfStreamKey(stream.name),
      reconciler: new SsfStreamController({ config: stream, client, discover, receiver, health, verification, redis, keys, log }),
    });
  }
  healthGauges(registry, streams);
  return { backChannel: config.backChannelLogout.length === 0 ? undefined : backChannelReceiver(config.backChannelLogout, replay), streams, controllers };
}

function healthGauges(registry: Registry, streams: PreparedSignals["streams"]): void {
  const each = (read: (h: StreamHealth) => number | undefined) =>
    function (this: Gauge<"stream">): void {
      for (const [name, { health }] of streams) {
        const v = read(health);
        if (v !== undefined) this.set({ stream: name }, v);
      }
    };
  new Gauge({
    name: "vigil_operator_ssf_stream_enabled",
    help: "1 while the SSF stream's transmitter reports it enabled, 0 when paused or disabled, -1 unknown.",
    labelNames: ["stream"],
    registers: [registry],
    collect: each((h) => (h.status === "enabled" ? 1 : h.status === "unknown" ? -1 : 0)),
  });
  new Gauge({
    name: "vigil_operator_ssf_last_event_timestamp_seconds",
    help: "When the last SET of the stream was accepted.",
    labelNames: ["stream"],
    registers: [registry],
    collect: each((h) => (h.lastEventAt === undefined ? undefined : h.lastEventAt / 1000)),
  });
  new Gauge({
    name: "vigil_operator_ssf_last_verified_timestamp_seconds",
    help: "When the stream last delivered the verification event Vigil asked for.",
    labelNames: ["stream"],
    registers: [registry],
    collect: each((h) => (h.verifiedAt === undefined ? undefined : h.verifiedAt / 1000)),
  });
}

/** Discovery once, again only after a failure or an hour. */
function cachedDiscovery(fetch: () => Promise<Discovery>): () => Promise<Discovery> {
  let cached: { at: number; value: Promise<Discovery> } | undefined;
  return () => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > 3_600_000) {
      const value = fetch();
      cached = { at: now, value };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
}

export async function startSignals(ctx: SignalsContext, prepared: PreparedSignals): Promise<SignalsServer> {
  const { settings, sink, log, registry } = ctx;
  const load = async (): Promise<{ cert: string; key: string }> => ({
    cert: await readFile(join(settings.certDir, "tls.crt"), "utf8"),
    key: await readFile(join(settings.certDir, "tls.key"), "utf8"),
  });
  const requests = new Counter({
    name: "vigil_operator_signal_requests_total",
    help: "Requests to the signal endpoints by receiver and result.",
    labelNames: ["receiver", "result"],
    registers: [registry],
  });
  let tls = await load();
  const server = await startSignalsServer({
    tls,
    host: settings.host,
    port: settings.port,
    backChannel: prepared.backChannel,
    streams: prepared.streams,
    end: (s) => sink.end(s),
    namespaces: () => sink.namespaces(),
    count: (receiver, result) => {
      requests.inc({ receiver, result });
    },
    log,
  });
  const refresh = setInterval(() => {
    load().then(
      (next) => {
        if (next.cert !== tls.cert) {
          server.setTls(next);
          tls = next;
          log.info({ event: "signals.tls_reloaded" }, "signals serving certificate reloaded");
        }
      },
      (err: unknown) => {
        log.warn({ event: "signals.tls_failed", err: err instanceof Error ? err.message : String(err) }, "could not re-read the signals certificate");
      },
    );
  }, 60_000);
  refresh.unref();
  log.info(
    { event: "signals.started", port: server.port, backChannelLogout: prepared.backChannel !== undefined, ssfStreams: [...prepared.streams.keys()] },
    "identity-provider signal receivers serving",
  );
  return {
    ...server,
    async close() {
      clearInterval(refresh);
      await server.close();
    },
  };
}

export interface SignalsHandle {
  controllers: PreparedSignals["controllers"];
  /** Signals reach SessionTerminations through the assembled operator. */
  connect(app: { signalTerminations: { end: SignalSink["end"] }; bus: BusNamespaces }): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Everything main.ts needs of the receivers (nothing at all when signalsPort is 0). */
export async function signalsHandle(config: OperatorConfig, redis: Redis, log: Logger, registry: Registry): Promise<SignalsHandle> {
  const settings = { configFile: config.signalsConfigFile, certDir: config.signalsCertDir, host: config.signalsHost, port: config.signalsPort };
  let connected: SignalSink | undefined;
  const sink: SignalSink = {
    end: (s) => connected?.end(s) ?? Promise.resolve({ created: [], existing: [], failed: ["the operator is not ready"] }),
    namespaces: () => connected?.namespaces() ?? Promise.reject(notReady()),
  };
  const ctx: SignalsContext = { settings, redis, keys: busKeys(config.busPrefix), sink, log, registry };
  const prepared = settings.port === 0 ? undefined : await prepareSignals(ctx);
  let server: SignalsServer | undefined;
  return {
    controllers: prepared?.controllers ?? [],
    connect(app) {
      connected = {
        end: (s) => app.signalTerminations.end(s),
        namespaces: busNamespaces(app.bus, redis, ctx.keys),
      };
    },
    async start() {
      if (prepared !== undefined) server = await startSignals(ctx, prepared);
    },
    async close() {
      await server?.close();
    },
  };
}
