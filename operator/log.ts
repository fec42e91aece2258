/**
 * The operator's one logger: pino JSON on stdout, level from `LOG_LEVEL` (or the config's logLevel).
 *
 * Contract:
 * - every log line about a resource goes through `withResource`, which fixes the keys `resource_kind`,
 *   `resource_namespace`, `resource_name` (and `reconcileId` when given) so logs can be filtered uniformly;
 * - `authorization`, `token` and `password` fields are redacted at any depth up to three levels; never log a
 *   token or a secret on purpose anyway (URLs with credentials go through `config.safeUrl`).
 */
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

const SECRET_KEYS = ["authorization", "token", "password"];

/** Redaction paths: each secret key at the top level and up to three levels down. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

const LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LEVELS as readonly string[]).includes(value);
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where to write (tests capture lines); default stdout. */
  destination?: pino.DestinationStream;
}

/** Create the process logger. An unknown level falls back to `info` (config validation reports it earlier). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const requested = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const level = isLogLevel(requested) ? requested : "info";
  const opts: pino.LoggerOptions = {
    level,
    name: options.name ?? "vigil-operator",
    redact: { paths: [...REDACT_PATHS], censor: "[REDACTED]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}

export interface ResourceRef {
  kind: string;
  namespace?: string | undefined;
  name: string;
}

/** A child logger whose every line names the resource (and the reconcile, when given). */
export function withResource(log: Logger, ref: ResourceRef, reconcileId?: string): Logger {
  const bindings: Record<string, string> = {
    resource_kind: ref.kind,
    resource_namespace: ref.namespace ?? "",
    resource_name: ref.name,
  };
  if (reconcileId !== undefined) bindings["reconcileId"] = reconcileId;
  return log.child(bindings);
}
