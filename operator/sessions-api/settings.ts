/**
 * The sessions API's settings from the operator's configuration (pure), shared by main.ts and the tests that run
 * it in-process with the environment the chart gives the operator.
 */
import type { OperatorConfig } from "../config.ts";
import type { SessionIndexOptions } from "./index/session-index.ts";
import type { SessionsApiSettings } from "./run.ts";
import { servingCertificateSettings } from "../webhook/serving-certificate.ts";

export function sessionIndexOptions(config: OperatorConfig): SessionIndexOptions {
  return { retentionMs: config.sessionsRetentionSeconds * 1000, idleAfterMs: config.sessionsIdleSeconds * 1000 };
}

export function sessionsApiSettings(config: OperatorConfig): SessionsApiSettings {
  return {
    port: config.sessionsApiPort,
    host: config.sessionsApiHost,
    ...servingCertificateSettings(config),
  };
}
