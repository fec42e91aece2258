#!/usr/bin/env node
/**
 * vigil-operator: wiring only. config → logger → kube config → Redis → operator (app.ts) → admin server →
 * injection webhook (when VIGIL_WEBHOOK_PORT is set) → sessions API over the session index, fed by the audit
 * ingest from the sidecars' audit stream (when VIGIL_SESSIONS_API_PORT is set) → run.
 *
 *   KUBECONFIG=… VIGIL_REDIS_URL=redis://… node operator/main.ts [--key=value …]
 *
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT: controllers drain, the Lease is released), 1 when
 * leadership was lost (the process must restart clean: it stopped acting before anyone else could start) or on an
 * unexpected error, 2 for bad configuration (the message names the key).
 */
import { hostname } from "node:os";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createLogger, type Logger } from "../lib/log.ts";
import { startAdminServer } from "./admin.ts";
import { assembleOperator, type OperatorApp } from "./app.ts";
import { createBusRedis, type BusRedisConnections } from "../lib/redis.ts";
import { loadSigningKeys, type SigningKeyRing } from "./bus/signing-keys.ts";
import { loadKeyRingFromDir } from "../lib/key-ring-dir.ts";
import { KeyRingError, type KeyRing } from "../lib/sealing.ts";
import { parseConfig, safeUrl, type OperatorConfig } from "./config.ts";
import { ConfigError, errorFields } from "./errors.ts";
import { loadKubeConfig } from "./kube/clients.ts";
import { runWebhook } from "./webhook/run.ts";
import { SessionIndex } from "./sessions-api/index/session-index.ts";
import { runSessionsApi } from "./sessions-api/run.ts";
import { AuditIngest } from "./audit/ingest.ts";
import { sessionIndexOptions, sessionsApiSettings } from "./sessions-api/settings.ts";

const SHUTDOWN_GRACE_MS = 20_000;

function configure(): { config: OperatorConfig; kc: ReturnType<typeof loadKubeConfig> } | number {
  try {
    return { config: parseConfig({ argv: process.argv.slice(2), env: process.env, hostname: hostname() }), kc: loadKubeConfig(process.env) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil-operator: bad configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function main(): Promise<number> {
  const configured = configure();
  if (typeof configured === "number") return configured;
  const { config, kc } = configured;
  const log = createLogger({ name: "vigil-operator", level: config.logLevel });
  log.info(
    { identity: config.identity, redis: safeUrl(config.redisUrl), busPrefix: config.busPrefix, watchNamespace: config.watchNamespace || "(all)", resyncSeconds: config.resyncSeconds },
    "vigil-operator starting",
  );
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const redis = createBusRedis({
    url: config.redisUrl,
    log,
    connectionName: `vigil-operator-${config.identity}`.slice(0, 100),
    ...(config.redisSentinelName === "" ? {} : { sentinel: { name: config.redisSentinelName, sentinels: config.redisSentinels } }),
  });
  let signingKeys: SigningKeyRing;
  let sessionKeys: KeyRing;
  try {
    signingKeys = await loadSigningKeys(config.busSigningKeysDir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vigil-operator: bad configuration: VIGIL_BUS_SIGNING_KEYS_DIR: ${err.message}\n`);
    return 2;
  }
  try {
    sessionKeys = await loadKeyRingFromDir(config.sessionKeyRingDir);
  } catch (err) {
    if (!(err instanceof KeyRingError)) throw err;
    process.stderr.write(`vigil-operator: bad configuration: VIGIL_SESSION_KEY_RING_DIR: ${err.message}\n`);
    return 2;
  }
  // The Secret volume is updated in place on rotation: re-read it; a bad file keeps the previous ring.
  const keysReload = setInterval(() => {
    loadSigningKeys(config.busSigningKeysDir).then(
      (ring) => {
        signingKeys = ring;
      },
      (err: unknown) => {
        log.warn(errorFields(err), "the bus signing keys could not be re-read; keeping the previous ring");
      },
    );
  }, 30_000);
  keysReload.unref();
  const app = assembleOperator({ config, log, kc, registry, redis, signingKeys: () => signingKeys, sessionKeys });
  const admin = await startAdminServer({ port: config.adminPort, registry, readiness: () => app.readiness(), log });

  const webhook =
    config.webhookPort === 0
      ? undefined
      : await runWebhook(
          kc,
          {
            port: config.webhookPort,
            host: config.webhookHost,
            injectionConfigFile: config.injectionConfigFile,
            certMode: config.webhookCertMode,
            certDir: config.webhookCertDir,
            tls: {
              namespace: config.leaseNamespace,
              secretName: config.webhookTlsSecret,
              service: config.webhookServiceName,
              configurationName: config.webhookConfigurationName,
            },
          },
          log,
          registry,
        );

  // Every replica keeps the whole index and serves the sessions API from it (fed from the sidecars' audit stream).
  const sessions = new SessionIndex(sessionIndexOptions(config));
  const sessionsApi = config.sessionsApiPort === 0 ? undefined : await runSessionsApi(kc, sessionsApiSettings(config), sessions, log, registry);
  const auditIngest = sessionsApi === undefined ? undefined : startAuditIngest(config, redis, app, sessionKeys, sessions, log, registry);

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    log.info({ signal }, "shutting down");
    stop.abort();
    setTimeout(() => {
      log.error({ graceMs: SHUTDOWN_GRACE_MS }, "shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const outcome = await app.run(stop.signal);
  clearInterval(keysReload);
  await admin.close();
  await webhook?.stop();
  await auditIngest?.stop();
  await sessionsApi?.stop();
  await redis.close();
  if (outcome === "lost") {
    log.error("leadership lost: exiting so that a fresh process rejoins the election");
    return 1;
  }
  log.info("stopped");
  return 0;
}

/** Every replica reads the sidecars' audit stream into its own index; XREAD BLOCK holds its connection: one of its own. */
function startAuditIngest(config: OperatorConfig, redis: BusRedisConnections, app: OperatorApp, keyRing: KeyRing, index: SessionIndex, log: Logger, registry: Registry): AuditIngest {
  const ingest = new AuditIngest({
    redis: redis.blocking.duplicate({ connectionName: `vigil-operator-${config.identity}-audit`.slice(0, 100) }),
    streamKey: app.publisher.keys.audit,
    keyRing,
    index,
    liveSidecars: () => app.bus.liveSidecars(),
    log,
    registry,
  });
  ingest.start();
  return ingest;
}

main().then(
  (code) => {
    process.exitCode = code;
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    const { code, err: message, cause, stack } = errorFields(err);
    process.stderr.write(`vigil-operator: fatal: ${code === undefined ? "" : `${code}: `}${message}${cause === undefined ? "" : ` (cause: ${cause})`}\n${stack === undefined ? "" : `${stack}\n`}`);
    process.exit(1);
  },
);
