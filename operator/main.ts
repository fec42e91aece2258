#!/usr/bin/env node
/**
 * vigil-operator, the process: parse the configuration → logger, metrics, Redis, key rings → build the operator
 * (app.ts: the Manager and its controllers, then the admin server, the injection webhook when VIGIL_WEBHOOK_PORT is
 * set, the sessions API with the audit ingest from the sidecars' audit stream when VIGIL_SESSIONS_API_PORT is set,
 * the identity-provider signal receivers when configured) → run → shut down.
 *
 *   KUBECONFIG=… VIGIL_REDIS_URL=redis://… node operator/main.ts [--key=value …]
 *
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT: controllers drain, the Lease is released), 1 when
 * leadership was lost (the process must restart clean: it stopped acting before anyone else could start) or on an
 * unexpected error, 2 for bad configuration (the message names the key).
 */
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createLogger, type Logger } from "../lib/log.ts";
import { startAdminServer } from "./admin.ts";
import { assembleOperator, startServers, type OperatorContext } from "./app.ts";
import { createBusRedis } from "../lib/redis.ts";
import { loadSigningKeys, type SigningKeyRing } from "./bus/signing-keys.ts";
import { loadKeyRingFromDir } from "../lib/key-ring-dir.ts";
import { KeyRingError, type KeyRing } from "../lib/sealing.ts";
import { parseConfig, safeUrl, type OperatorConfig } from "./config.ts";
import { ConfigError, errorFields } from "./errors.ts";
import { loadKubeConfig } from "./kube/clients.ts";
import { signalsHandle, type SignalsHandle } from "./signals/run.ts";

const SHUTDOWN_GRACE_MS = 20_000;
/** How often the mounted signing keys are re-read. */
const KEYS_RELOAD_MS = 30_000;

async function main(): Promise<number> {
  const configured = configure();
  if (typeof configured === "number") return configured;
  const { config, kc } = configured;
  const log = createLogger({ name: "vigil-operator", level: config.logLevel });
  log.info(
    {
      identity: config.identity,
      redis: safeUrl(config.redisUrl),
      busPrefix: config.busPrefix,
      watchNamespace: config.watchNamespace || "(all)",
      resyncSeconds: config.resyncSeconds,
    },
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
  const keys = await loadKeys(config, log);
  if (typeof keys === "number") return keys;
  const context: OperatorContext = { config, log, kc, registry, redis, signingKeys: keys.signingKeys, sessionKeys: keys.sessionKeys };
  const signals = await prepareSignalReceivers(context);
  if (typeof signals === "number") return signals;

  const app = assembleOperator({ ...context, extraControllers: signals.controllers });
  signals.connect(app);
  const admin = await startAdminServer({ port: config.adminPort, registry, readiness: () => app.readiness(), log });
  const servers = await startServers({ ...context, app, signals });

  const outcome = await app.run(shutdownSignal(log));
  keys.stopReloading();
  await admin.close();
  await servers.stop();
  await redis.close();
  if (outcome === "lost") {
    log.error("leadership lost: exiting so that a fresh process rejoins the election");
    return 1;
  }
  log.info("stopped");
  return 0;
}

function configure(): { config: OperatorConfig; kc: KubeConfig } | number {
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

interface Keys {
  /** The current bus signing key ring: the Secret volume is updated in place on rotation, so it is re-read. */
  signingKeys: () => SigningKeyRing;
  sessionKeys: KeyRing;
  stopReloading(): void;
}

/** The bus signing keys (re-read every 30 s; a bad file keeps the previous ring) and the session key ring, or exit code 2. */
async function loadKeys(config: OperatorConfig, log: Logger): Promise<Keys | 2> {
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
  const reload = setInterval(() => {
    loadSigningKeys(config.busSigningKeysDir).then(
      (ring) => {
        signingKeys = ring;
      },
      (err: unknown) => {
        log.warn(errorFields(err), "the bus signing keys could not be re-read; keeping the previous ring");
      },
    );
  }, KEYS_RELOAD_MS);
  reload.unref();
  return {
    signingKeys: () => signingKeys,
    sessionKeys,
    stopReloading: () => {
      clearInterval(reload);
    },
  };
}

/** The signal receivers prepared before the operator (their stream keepers are its controllers), or exit code 2. */
async function prepareSignalReceivers({ config, redis, log, registry }: OperatorContext): Promise<SignalsHandle | 2> {
  try {
    return await signalsHandle(config, redis.commands, log, registry);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vigil-operator: bad configuration: ${err.message}\n`);
    return 2;
  }
}

/** Aborted on SIGTERM or SIGINT; the process exits with 1 if the shutdown then takes longer than the grace period. */
function shutdownSignal(log: Logger): AbortSignal {
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
  return stop.signal;
}

main().then(
  (code) => {
    process.exitCode = code;
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    const { code, err: message, cause, stack } = errorFields(err);
    process.stderr.write(
      `vigil-operator: fatal: ${code === undefined ? "" : `${code}: `}${message}${cause === undefined ? "" : ` (cause: ${cause})`}\n${stack === undefined ? "" : `${stack}\n`}`,
    );
    process.exit(1);
  },
);
