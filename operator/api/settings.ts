/**
 * Spec-driven configuration parsing shared by vigil-operator and vigil-sidecar (pure: argv and env are passed in).
 *
 * Contract: every setting `fooBar` can be given as the flag `--foo-bar=value` or the environment variable
 * `VIGIL_FOO_BAR`; the flag wins. A setting without a default is required. A missing or bad value, an unknown flag
 * or a stray argument is reported through `fail(key, problem)` with the flag or variable at fault, so the process
 * stops at start naming it. The result is frozen.
 */

/** Thrown by a parser with the problem sentence; `parseSettings` turns it into `fail(source, problem)`. */
export class SettingProblem extends Error {}

export type Parse<T> = (raw: string) => T;

export interface Setting<T> {
  parse: Parse<T>;
  /** Raw default; undefined = required. */
  default?: string;
}

export type Settings<S> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export interface SettingSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}

export type Fail = (key: string, problem: string) => never;

/** `resyncSeconds` → `--resync-seconds`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `resyncSeconds` → `VIGIL_RESYNC_SECONDS`. */
export function envName(key: string): string {
  return `VIGIL_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function parseSettings<S extends Record<string, Setting<unknown>>>(specs: S, sources: SettingSources, fail: Fail): Settings<S> {
  const flags = parseFlags(Object.keys(specs), sources.argv, fail);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = flags.get(key);
    const fromEnv = sources.env[envName(key)];
    const [raw, source] = fromFlag !== undefined ? [fromFlag, flagName(key)] : [fromEnv ?? spec.default, envName(key)];
    if (raw === undefined) fail(envName(key), `is required (or ${flagName(key)}=…)`);
    try {
      out[key] = spec.parse(raw);
    } catch (err) {
      if (err instanceof SettingProblem) fail(source, err.message);
      throw err;
    }
  }
  return Object.freeze(out) as Settings<S>;
}

function parseFlags(keys: readonly string[], argv: readonly string[], fail: Fail): Map<string, string> {
  const byFlag = new Map(keys.map((k) => [flagName(k), k] as const));
  const out = new Map<string, string>();
  for (const arg of argv) {
    const m = /^(--[a-z][a-z0-9-]*)=(.*)$/s.exec(arg);
    if (m === null) {
      if (arg.startsWith("--")) fail(arg.split("=", 1)[0] ?? arg, "expected --key=value");
      fail("argument", `unexpected argument "${arg.slice(0, 40)}"`);
    }
    const key = byFlag.get(m[1] ?? "");
    if (key === undefined) fail(m[1] ?? arg, "unknown flag");
    out.set(key, m[2] ?? "");
  }
  return out;
}

export const integer =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new SettingProblem(`must be an integer ≥ ${min}`);
    if (n > max) throw new SettingProblem(`must be an integer ≤ ${max}`);
    return n;
  };

export const oneOf =
  <T extends string>(...values: T[]): Parse<T> =>
  (raw) => {
    if (!(values as string[]).includes(raw)) throw new SettingProblem(`must be one of ${values.join(", ")}`);
    return raw as T;
  };

export const matching =
  (re: RegExp, what: string): Parse<string> =>
  (raw) => {
    if (!re.test(raw)) throw new SettingProblem(`must be ${what}`);
    return raw;
  };

/** Comma-separated list; empty string = empty list. */
export const listOf =
  <T>(item: Parse<T>): Parse<T[]> =>
  (raw) =>
    raw.trim() === "" ? [] : raw.split(",").map((s) => item(s.trim()));

export const redisUrl: Parse<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SettingProblem("must be a redis:// or rediss:// URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new SettingProblem("must be a redis:// or rediss:// URL");
  if (url.hostname === "") throw new SettingProblem("must name a host");
  return raw;
};

/** `host:port` (IPv6 in brackets). */
export const hostPort: Parse<{ host: string; port: number }> = (raw) => {
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(raw);
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || port < 1 || port > 65535) throw new SettingProblem("must be a list of host:port");
  return { host: m[1], port };
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Redis Sentinel master group name ("" = no Sentinel). */
export const sentinelName: Parse<string> = (raw) => (raw === "" ? raw : matching(DNS_SUBDOMAIN, "a DNS-1123 subdomain")(raw));

export const busPrefix = matching(/^[\x21-\x7e]{1,64}$/, "1–64 printable characters without spaces");
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const logLevel = oneOf(...LOG_LEVELS);

/** A URL with its password removed, for logs. */
export function safeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== "") url.password = "REDACTED";
    return url.toString();
  } catch {
    return "[unparseable URL]";
  }
}
