#!/usr/bin/env node
/** vigil-sidecar: wiring only. Configuration errors stop the process at start with the key named. */
import { setFlagsFromString } from "node:v8";
import { createLogger } from "../lib/log.ts";
import { parseSidecarConfig } from "./config.ts";
import { startSidecar } from "./app.ts";
import { ConfigError, isSidecarError } from "./errors.ts";
import { watchVerifyingKeys } from "./bus/verify-keys.ts";
import { readIssuers, readLabels } from "./mounted.ts";
import { openGeo } from "./protect/geo.ts";
import { loadKeyRingFromDir } from "../lib/key-ring-dir.ts";

/**
 * V8 collects for size while the sidecar starts and for speed once it serves (docs/decisions/perf-0003): the
 * startup's garbage then does not stay committed for the process's life (V8's memory reducer never runs in an idle
 * sidecar), −5 MB of idle RSS; the request path runs with V8's defaults (the flag for the whole life costs about a
 * quarter of the throughput per core). Ends this long after the servers listen (the bus snapshot is read by then).
 */
const STARTUP_SIZE_MODE_MS = 500;

async function main(): Promise<void> {
  setFlagsFromString("--optimize-for-size");
  const config = parseSidecarConfig({ argv: process.argv.slice(2), env: process.env });
  const logger = createLogger({ name: "vigil-sidecar", level: config.logLevel });
  const [labels, issuers, keyRing, busKeys] = await Promise.all([
    readLabels(config.podLabelsFile),
    readIssuers(config.issuersFile),
    loadKeyRingFromDir(config.keyRingDir).catch((err: unknown) => {
      throw new ConfigError("VIGIL_KEY_RING_DIR", err instanceof Error ? err.message : String(err), err);
    }),
    watchVerifyingKeys(config.busKeysDir, 30_000, (err) => {
      logger.warn({ event: "bus.keys_reload_failed", err }, "the bus verification keys could not be re-read; keeping the previous ones");
    }),
  ]);
  const geo = await openGeo({ cityPath: config.geoipCityDatabase, asnPath: config.geoipAsnDatabase, log: logger });
  const sidecar = await startSidecar({ config, labels, issuers, keyRing, busKeys: () => busKeys.current(), logger, geo });
  setTimeout(() => {
    setFlagsFromString("--no-optimize-for-size");
  }, STARTUP_SIZE_MODE_MS);
  const shutdown = (signal: string): void => {
    logger.info({ event: "stopping", signal }, "vigil-sidecar stopping");
    busKeys.stop();
    sidecar.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main().catch((err: unknown) => {
  const message = isSidecarError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`vigil-sidecar: ${message}\n`);
  process.exit(1);
});
