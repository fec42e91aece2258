/**
 * The injection configuration: what the webhook puts into a pod. It is the chart's sidecar ConfigMap (a YAML or
 * JSON document mounted into the operator), loaded once at start.
 *
 * Contract: `parseInjectionConfig(value)` validates a decoded document and returns a frozen `InjectionConfig` with
 * defaults filled in, or throws a `ConfigError` whose key is the dotted path of the bad field (e.g.
 * `redis.secretKey: must be set together with redis.secretName`). Unknown keys are refused (a typo never silently
 * falls back to a default). `loadInjectionConfig(path)` reads and parses the file; a missing or unparseable file is
 * a `ConfigError` naming the path.
 *
 * Names of the ConfigMap and Secrets are as seen from the *pod's* namespace (volumes and secretKeyRef cannot cross
 * namespaces; see docs/decisions/webhook-0005-sidecar-config-in-pod-namespace.md).
 *
 * Document shape (every key but `image`, `issuersConfigMap`, `keyRingSecret` and one of `redis.url` /
 * `redis.secretName`+`redis.secretKey` is optional):
 *
 * ```yaml
 * image: ghcr.io/vigil-dev/vigil:0.1.0
 * command: []                            # empty: the image's entrypoint
 * args: [sidecar]                        # empty: the image's default arguments
 * imagePullPolicy: IfNotPresent          # Always | IfNotPresent | Never
 * resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
 * listenPort: 15080                      # the sidecar's named port `vigil-proxy`; Services target it
 * adminPort: 15090                       # /healthz /readyz /metrics, named `vigil-admin`
 * issuersConfigMap: vigil-sidecar-issuers
 * issuersKey: issuers.yaml
 * keyRingSecret: vigil-session-keys
 * redis: {secretName: vigil-redis, secretKey: url}   # or {url: redis://vigil-redis.vigil-system.svc:6379}
 * busPrefix: "vigil:"
 * defaultAction: Deny                    # Deny | Allow
 * maxStalenessSeconds: 30
 * trustedProxies: [10.0.0.0/8]
 * tokenCookie: ""
 * tokenHeader: ""
 * timeouts: {headersMs: 10000, requestMs: 60000, keepAliveMs: 5000, upstreamMs: 30000}
 * logLevel: info
 * systemNamespace: vigil-system          # Vigil's own namespace: never injected
 * ```
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { busPrefix, LOG_LEVELS, redisUrl, SettingProblem } from "../api/settings.ts";
import { ConfigError } from "../errors.ts";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";
export type ResourceList = Readonly<Partial<Record<"cpu" | "memory" | "ephemeral-storage", string>>>;

export interface InjectionConfig {
  readonly image: string;
  /** Container command and args; empty = the image's entrypoint / default arguments. */
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly imagePullPolicy: PullPolicy;
  readonly resources: { readonly requests: ResourceList; readonly limits: ResourceList };
  readonly listenPort: number;
  readonly adminPort: number;
  readonly issuersConfigMap: string;
  readonly issuersKey: string;
  readonly keyRingSecret: string;
  /** Exactly one of `url` and (`secretName` + `secretKey`). */
  readonly redis: { readonly url?: string; readonly secretName?: string; readonly secretKey?: string };
  readonly busPrefix: string;
  readonly defaultAction: "Deny" | "Allow";
  readonly maxStalenessSeconds: number;
  readonly trustedProxies: readonly string[];
  readonly tokenCookie: string;
  readonly tokenHeader: string;
  readonly timeouts: { readonly headersMs: number; readonly requestMs: number; readonly keepAliveMs: number; readonly upstreamMs: number };
  readonly logLevel: string;
  readonly systemNamespace: string;
}

const TOP_KEYS = [
  "image", "command", "args", "imagePullPolicy", "resources", "listenPort", "adminPort", "issuersConfigMap", "issuersKey", "keyRingSecret",
  "redis", "busPrefix", "defaultAction", "maxStalenessSeconds", "trustedProxies", "tokenCookie", "tokenHeader",
  "timeouts", "logLevel", "systemNamespace",
] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]{0,254}$/;
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;
const COOKIE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const HEADER = /^[A-Za-z0-9-]{1,64}$/;

type Obj = Readonly<Record<string, unknown>>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function object(v: unknown, key: string, allowed: readonly string[]): Obj {
  if (v === undefined) return {};
  if (!isObject(v)) throw new ConfigError(key, "must be a mapping");
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new ConfigError(key === "" ? k : `${key}.${k}`, `unknown key (allowed: ${allowed.join(", ")})`);
  }
  return v;
}

function str(o: Obj, key: string, path: string, re: RegExp, what: string, dflt?: string): string {
  const v = o[key] ?? dflt;
  if (v === undefined) throw new ConfigError(path, "is required");
  if (typeof v !== "string") throw new ConfigError(path, `must be a string (${what})`);
  if (!re.test(v)) throw new ConfigError(path, `must be ${what}`);
  return v;
}

function optionalStr(o: Obj, key: string, path: string, re: RegExp, what: string): string {
  const v = o[key] ?? "";
  if (v === "") return "";
  return str(o, key, path, re, what);
}

function int(o: Obj, key: string, path: string, min: number, max: number, dflt: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(path, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, values: readonly T[], dflt: T): T {
  const v = o[key] ?? dflt;
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) throw new ConfigError(key, `must be one of ${values.join(", ")}`);
  return v as T;
}

function resourceList(v: unknown, path: string): ResourceList {
  const o = object(v, path, ["cpu", "memory", "ephemeral-storage"]);
  const out: Record<string, string> = {};
  for (const [k, q] of Object.entries(o)) {
    if (typeof q !== "string" || !QUANTITY.test(q)) throw new ConfigError(`${path}.${k}`, "must be a Kubernetes quantity such as 50m or 64Mi");
    out[k] = q;
  }
  return Object.freeze(out);
}

function redisConfig(v: unknown): InjectionConfig["redis"] {
  const o = object(v, "redis", ["url", "secretName", "secretKey"]);
  const hasUrl = o["url"] !== undefined;
  const hasSecret = o["secretName"] !== undefined || o["secretKey"] !== undefined;
  if (hasUrl === hasSecret) throw new ConfigError("redis", "set exactly one of redis.url and redis.secretName + redis.secretKey");
  if (hasUrl) {
    const url = str(o, "url", "redis.url", /^.+$/s, "a redis:// or rediss:// URL");
    checkWith(redisUrl, url, "redis.url");
    return Object.freeze({ url });
  }
  if (o["secretName"] === undefined) throw new ConfigError("redis.secretName", "must be set together with redis.secretKey");
  if (o["secretKey"] === undefined) throw new ConfigError("redis.secretKey", "must be set together with redis.secretName");
  return Object.freeze({
    secretName: str(o, "secretName", "redis.secretName", DNS_SUBDOMAIN, "a Secret name"),
    secretKey: str(o, "secretKey", "redis.secretKey", CONFIG_KEY, "a Secret key"),
  });
}

function checkWith(parse: (raw: string) => unknown, raw: string, path: string): void {
  try {
    parse(raw);
  } catch (err) {
    if (err instanceof SettingProblem) throw new ConfigError(path, err.message);
    throw err;
  }
}

function stringList(v: unknown, path: string): readonly string[] {
  if (v === undefined) return Object.freeze([]);
  if (!Array.isArray(v) || v.length > 32) throw new ConfigError(path, "must be a list of at most 32 strings");
  return Object.freeze(
    v.map((a: unknown, i) => {
      if (typeof a !== "string" || a.length > 1024) throw new ConfigError(`${path}[${i}]`, "must be a string of at most 1024 characters");
      return a;
    }),
  );
}

function trustedProxies(v: unknown): readonly string[] {
  if (v === undefined) return Object.freeze([]);
  if (!Array.isArray(v)) throw new ConfigError("trustedProxies", "must be a list of CIDRs");
  return Object.freeze(
    v.map((c: unknown, i) => {
      if (typeof c !== "string" || !CIDR.test(c)) throw new ConfigError(`trustedProxies[${i}]`, "must be a CIDR such as 10.0.0.0/8");
      return c;
    }),
  );
}

function timeouts(v: unknown): InjectionConfig["timeouts"] {
  const o = object(v, "timeouts", ["headersMs", "requestMs", "keepAliveMs", "upstreamMs"]);
  return Object.freeze({
    headersMs: int(o, "headersMs", "timeouts.headersMs", 100, 120_000, 10_000),
    requestMs: int(o, "requestMs", "timeouts.requestMs", 100, 3_600_000, 60_000),
    keepAliveMs: int(o, "keepAliveMs", "timeouts.keepAliveMs", 100, 600_000, 5_000),
    upstreamMs: int(o, "upstreamMs", "timeouts.upstreamMs", 100, 3_600_000, 30_000),
  });
}

function ports(o: Obj): { listenPort: number; adminPort: number } {
  const listenPort = int(o, "listenPort", "listenPort", 1, 65535, 15080);
  const adminPort = int(o, "adminPort", "adminPort", 1, 65535, 15090);
  if (listenPort === adminPort) throw new ConfigError("adminPort", "must differ from listenPort");
  return { listenPort, adminPort };
}

/** Validate a decoded configuration document (see the file comment for its shape). */
export function parseInjectionConfig(value: unknown): InjectionConfig {
  if (value === undefined || value === null) throw new ConfigError("injection config", "is empty");
  const o = object(value, "", TOP_KEYS);
  const res = object(o["resources"], "resources", ["requests", "limits"]);
  const logLevel = oneOf(o, "logLevel", LOG_LEVELS, "info");
  const prefix = str(o, "busPrefix", "busPrefix", /^.*$/s, "a bus key prefix", "vigil:");
  checkWith(busPrefix, prefix, "busPrefix");
  return Object.freeze({
    image: str(o, "image", "image", IMAGE, "a container image reference"),
    command: stringList(o["command"], "command"),
    args: stringList(o["args"], "args"),
    imagePullPolicy: oneOf<PullPolicy>(o, "imagePullPolicy", ["Always", "IfNotPresent", "Never"], "IfNotPresent"),
    resources: Object.freeze({ requests: resourceList(res["requests"], "resources.requests"), limits: resourceList(res["limits"], "resources.limits") }),
    ...ports(o),
    issuersConfigMap: str(o, "issuersConfigMap", "issuersConfigMap", DNS_SUBDOMAIN, "a ConfigMap name"),
    issuersKey: str(o, "issuersKey", "issuersKey", CONFIG_KEY, "a ConfigMap key", "issuers.yaml"),
    keyRingSecret: str(o, "keyRingSecret", "keyRingSecret", DNS_SUBDOMAIN, "a Secret name"),
    redis: redisConfig(o["redis"]),
    busPrefix: prefix,
    defaultAction: oneOf(o, "defaultAction", ["Deny", "Allow"], "Deny"),
    maxStalenessSeconds: int(o, "maxStalenessSeconds", "maxStalenessSeconds", 1, 3600, 30),
    trustedProxies: trustedProxies(o["trustedProxies"]),
    tokenCookie: optionalStr(o, "tokenCookie", "tokenCookie", COOKIE, "a cookie name"),
    tokenHeader: optionalStr(o, "tokenHeader", "tokenHeader", HEADER, "a header name"),
    timeouts: timeouts(o["timeouts"]),
    logLevel,
    systemNamespace: str(o, "systemNamespace", "systemNamespace", DNS_LABEL, "a namespace name", "vigil-system"),
  });
}

/** Read and validate the injection configuration file (YAML or JSON). */
export async function loadInjectionConfig(path: string): Promise<InjectionConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, `cannot be read (${err instanceof Error ? err.message : String(err)})`);
  }
  let doc: unknown;
  try {
    doc = parse(text) as unknown;
  } catch (err) {
    throw new ConfigError(path, `is not valid YAML or JSON (${err instanceof Error ? err.message.split("\n", 1)[0] ?? "" : ""})`);
  }
  return parseInjectionConfig(doc);
}
