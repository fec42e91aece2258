/**
 * vigil-operator configuration: parsed ONCE at start from flags (`--key=value`, kebab-case of the key) and
 * environment (`VIGIL_*`, SCREAMING_SNAKE of the key), flags winning, into a frozen typed object.
 *
 * Contract: `parseConfig` is pure (argv, env and the host name are passed in). A bad or missing value, an unknown
 * flag or a stray argument throws a `ConfigError` whose message starts with the offending key
 * (e.g. `VIGIL_RESYNC_SECONDS: must be an integer ≥ 5`), so the process stops at start with the key named.
 * Never log `redisUrl` as is: use `safeUrl` (it may carry a password).
 */
import { ErrorCode, OperatorError } from "./errors.ts";
import { isLogLevel } from "./log.ts";

export interface OperatorConfig {
  /** redis:// or rediss:// URL of the policy bus. Required. */
  readonly redisUrl: string;
  /** Bus key prefix. Default `vigil:`. */
  readonly busPrefix: string;
  /** Port of the admin HTTP server (/healthz, /readyz, /metrics). Default 8080. */
  readonly adminPort: number;
  /** Namespace to watch; empty = all namespaces. */
  readonly watchNamespace: string;
  /** Period of the informers' full resync (and so of bus re-assertion). Default 300, ≥ 5. */
  readonly resyncSeconds: number;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  /** client-go semantics; must satisfy retryPeriod < renewDeadline < leaseDuration. Defaults 15 / 10 / 2. */
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  /** Leader-election identity; default the host name (the pod name in a cluster). */
  readonly identity: string;
  /** How long a SessionTermination waits for acknowledgements before `Failed`. Default 30. */
  readonly terminationTimeoutSeconds: number;
  /** A sidecar whose last heartbeat is older than this is not live. Default 30. */
  readonly heartbeatMaxAgeSeconds: number;
  readonly logLevel: string;
}

export class ConfigError extends OperatorError {
  /** The flag or environment variable at fault. */
  readonly key: string;
  constructor(key: string, problem: string) {
    super(ErrorCode.Config, `${key}: ${problem}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

type Key = keyof OperatorConfig;
type Parser = (raw: string, source: string) => string | number;

interface Spec {
  readonly parse: Parser;
  /** undefined = required. */
  readonly fallback: ((host: string) => string) | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function integer(min: number, max: number): Parser {
  return (raw, source) => {
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(source, `must be an integer ≥ ${min}`);
    const n = Number(raw.trim());
    if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(source, `must be an integer ≥ ${min}`);
    if (n > max) throw new ConfigError(source, `must be an integer ≤ ${max}`);
    return n;
  };
}

function pattern(re: RegExp, what: string, allowEmpty = false): Parser {
  return (raw, source) => {
    if (raw === "" && allowEmpty) return raw;
    if (!re.test(raw)) throw new ConfigError(source, `must be ${what}`);
    return raw;
  };
}

const redisUrl: Parser = (raw, source) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(source, "must be a redis:// or rediss:// URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError(source, "must be a redis:// or rediss:// URL");
  }
  if (url.hostname === "") throw new ConfigError(source, "must name a host");
  return raw;
};

const busPrefix: Parser = (raw, source) => {
  if (raw.length < 1 || raw.length > 64 || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new ConfigError(source, "must be 1–64 printable characters without spaces");
  }
  return raw;
};

const logLevel: Parser = (raw, source) => {
  if (!isLogLevel(raw)) throw new ConfigError(source, "must be one of fatal, error, warn, info, debug, trace, silent");
  return raw;
};

const identity: Parser = (raw, source) => {
  if (raw.length < 1 || raw.length > 128 || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new ConfigError(source, "must be 1–128 printable characters without spaces");
  }
  return raw;
};

const SPECS: Readonly<Record<Key, Spec>> = {
  redisUrl: { parse: redisUrl, fallback: undefined },
  busPrefix: { parse: busPrefix, fallback: () => "vigil:" },
  adminPort: { parse: integer(1, 65535), fallback: () => "8080" },
  watchNamespace: { parse: pattern(DNS_LABEL, "a namespace name (DNS-1123 label) or empty", true), fallback: () => "" },
  resyncSeconds: { parse: integer(5, 86_400), fallback: () => "300" },
  leaseName: { parse: pattern(DNS_SUBDOMAIN, "a DNS-1123 subdomain"), fallback: () => "vigil-operator" },
  leaseNamespace: { parse: pattern(DNS_LABEL, "a namespace name (DNS-1123 label)"), fallback: () => "vigil-system" },
  leaseDurationSeconds: { parse: integer(2, 3600), fallback: () => "15" },
  renewDeadlineSeconds: { parse: integer(1, 3600), fallback: () => "10" },
  retryPeriodSeconds: { parse: integer(1, 3600), fallback: () => "2" },
  identity: { parse: identity, fallback: (host) => host },
  terminationTimeoutSeconds: { parse: integer(1, 86_400), fallback: () => "30" },
  heartbeatMaxAgeSeconds: { parse: integer(1, 3600), fallback: () => "30" },
  logLevel: { parse: logLevel, fallback: () => "info" },
};

const KEYS = Object.keys(SPECS) as Key[];

/** `resyncSeconds` → `--resync-seconds`. */
export function flagName(key: Key): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `resyncSeconds` → `VIGIL_RESYNC_SECONDS`. */
export function envName(key: Key): string {
  return `VIGIL_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function parseFlags(argv: readonly string[]): Map<Key, string> {
  const byFlag = new Map(KEYS.map((k) => [flagName(k), k] as const));
  const out = new Map<Key, string>();
  for (const arg of argv) {
    const m = /^(--[a-z][a-z-]*)=(.*)$/s.exec(arg);
    if (m === null) {
      const name = arg.startsWith("--") ? arg.split("=", 1)[0] ?? arg : "argument";
      throw new ConfigError(name, arg.startsWith("--") ? "expected --key=value" : `unexpected argument "${arg.slice(0, 40)}"`);
    }
    const [, name = "", value = ""] = m;
    const key = byFlag.get(name);
    if (key === undefined) throw new ConfigError(name, "unknown flag");
    out.set(key, value);
  }
  return out;
}

export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Default identity; the pod's host name is its name. */
  hostname: string;
}

/** Parse and validate the whole configuration; throws ConfigError naming the first bad key. */
export function parseConfig(sources: ConfigSources): OperatorConfig {
  const flags = parseFlags(sources.argv);
  const values: Partial<Record<Key, string | number>> = {};
  for (const key of KEYS) {
    const spec = SPECS[key];
    const fromFlag = flags.get(key);
    const envKey = envName(key);
    const fromEnv = key === "logLevel" ? (sources.env[envKey] ?? sources.env["LOG_LEVEL"]) : sources.env[envKey];
    const [raw, source] =
      fromFlag !== undefined ? [fromFlag, flagName(key)] : fromEnv !== undefined ? [fromEnv, envKey] : [undefined, envKey];
    if (raw === undefined) {
      if (spec.fallback === undefined) throw new ConfigError(envKey, `is required (or ${flagName(key)}=…)`);
      values[key] = spec.parse(spec.fallback(sources.hostname), source);
    } else {
      values[key] = spec.parse(raw, source);
    }
  }
  const config = values as unknown as OperatorConfig;
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new ConfigError(envName("renewDeadlineSeconds"), "must be less than VIGIL_LEASE_DURATION_SECONDS");
  }
  if (config.retryPeriodSeconds >= config.renewDeadlineSeconds) {
    throw new ConfigError(envName("retryPeriodSeconds"), "must be less than VIGIL_RENEW_DEADLINE_SECONDS");
  }
  return Object.freeze(config);
}

/** A URL with its password (and user name) removed, for logs. */
export function safeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== "") url.password = "REDACTED";
    return url.toString();
  } catch {
    return "[unparseable URL]";
  }
}
