#!/usr/bin/env node
/** vigil-sidecar: wiring only. Configuration errors stop the process at start with the key named. */
import { createLogger } from "../lib/log.ts";
import { parseSidecarConfig } from "./config.ts";
import { startSidecar } from "./app.ts";
import { ConfigError, isSidecarError } from "./errors.ts";
import { watchVerifyingKeys } from "./bus/verify-keys.ts";
import { readIssuers, readLabels } from "./mounted.ts";
import { openGeo } from "./protect/geo.ts";
import { loadKeyRingFromDir } from "../lib/key-ring-dir.ts";

async function main(): Promise<void> {
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
