/**
 * The one logger factory of vigil-operator and vigil-sidecar: pino JSON lines of one shape,
 *
 *   {"level":"info","time":"2026-11-30T06:00:00.000Z","pid":7,"name":"vigil-sidecar","msg":"…", …fields}
 *
 * (string level label, ISO time, `name` = the program), structured fields first and the message second, with the
 * one redaction list of lib/redact.ts applied to every line's fields. Child bindings (`log.child({...})`) are not
 * walked: they name resources and components, never carry request data.
 *
 * Contract: `createLogger({name, level, destination})`; an unknown level falls back to `info` (configuration
 * validation reports a bad level earlier); `destination` defaults to stdout (tests capture lines with it).
 */
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from "pino";
import { redactSecrets } from "./redact.ts";

export type { Logger } from "pino";

const LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function isLogLevel(value: string): value is LevelWithSilent {
  return (LEVELS as readonly string[]).includes(value);
}

export interface LoggerOptions {
  /** The program, e.g. `vigil-operator`; every line carries it as `name`. */
  name: string;
  /** Default `LOG_LEVEL` from the environment, else `info`. */
  level?: string | undefined;
  destination?: DestinationStream | undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  const requested = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const opts: pino.LoggerOptions = {
    level: isLogLevel(requested) ? requested : "info",
    name: options.name,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => redactSecrets(fields),
    },
  };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}
