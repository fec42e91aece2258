/**
 * The injection configuration: what the webhook puts into a pod. It is the chart's sidecar ConfigMap (a YAML or
 * JSON document mounted into the operator), loaded once at start.
 *
 * Contract: `parseInjectionConfig(value)` validates a decoded document against a zod schema and returns a deeply
 * frozen `InjectionConfig` with defaults filled in, or throws a `ConfigError` (CONFIG_INVALID) whose key is the
 * dotted path of the first bad field (e.g. `redis.secretKey: must be set together with redis.secretName`). Unknown
 * keys are refused (a typo never silently falls back to a default). A scalar key without a value (YAML null) takes
 * its default; a mapping or a list must be one when present. `loadInjectionConfig(path)` reads and parses the file; a missing or unparseable file is
 * a `ConfigError` naming the path.
 *
 * Names of the ConfigMap and Secrets are as seen from the *pod's* namespace (volumes and secretKeyRef cannot cross
 * namespaces; see docs/decisions/webhook-0005-sidecar-config-in-pod-namespace.md).
 *
 * Document shape (every key but `image`, `issuersConfigMap`, `keyRingSecret`, `busKeysConfigMap` and one of `redis.url` /
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
 * busKeysConfigMap: vigil-bus-verify     # the bus verification keys (public)
 * redis: {secretName: vigil-redis, secretKey: url}   # or {url: redis://vigil-redis.vigil-system.svc:6379}
 *                                        # plus, for Sentinel: sentinel: {name: mymaster, sentinels: [host:26379]}
 * busPrefix: "vigil:"
 * defaultAction: Deny                    # Deny | Allow
 * maxStalenessSeconds: 30
 * trustedProxies: [10.0.0.0/8]
 * tokenCookie: ""
 * tokenHeader: ""
 * forwardCredentials: false             # true: the application also receives Authorization / token cookie / header
 * deviceBinding:                         # optional: headers a trusted ingress sets for device binding ("" = none;
 *   clientCertHeader: X-Client-Cert-Sha256   # both "" is the same as no deviceBinding)
 *   ja4Header: X-JA4
 * timeouts: {headersMs: 10000, requestMs: 60000, keepAliveMs: 5000, upstreamMs: 30000}
 * logLevel: info
 * systemNamespace: vigil-system          # Vigil's own namespace: never injected
 * geoip:                                 # optional: operator-supplied MaxMind databases, mounted read-only
 *   source: {configMap: geoip}           # exactly one of configMap, secret, persistentVolumeClaim (names in the
 *                                        # pod's namespace), image (an OCI image volume), hostPath (a node directory)
 *   cityFile: GeoLite2-City.mmdb         # relative to the source; "" = none (at least one of the two)
 *   asnFile: GeoLite2-ASN.mmdb
 * ```
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { z } from "zod";
import { firstProblem } from "../../lib/validation.ts";
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
  /** ConfigMap with the bus verification keys (`<kid>.crt`), mounted read-only. */
  readonly busKeysConfigMap: string;
  /** Exactly one of `url` and (`secretName` + `secretKey`); `sentinel` makes sidecars follow Sentinel failovers. */
  readonly redis: {
    readonly url?: string | undefined;
    readonly secretName?: string | undefined;
    readonly secretKey?: string | undefined;
    readonly sentinel?: { readonly name: string; readonly sentinels: readonly string[] } | undefined;
  };
  readonly busPrefix: string;
  readonly defaultAction: "Deny" | "Allow";
  readonly maxStalenessSeconds: number;
  readonly trustedProxies: readonly string[];
  readonly tokenCookie: string;
  readonly tokenHeader: string;
  /** Present (true) only when the application also receives the credential; absent keeps older configs' revision. */
  readonly forwardCredentials?: true | undefined;
  readonly timeouts: { readonly headersMs: number; readonly requestMs: number; readonly keepAliveMs: number; readonly upstreamMs: number };
  readonly logLevel: string;
  readonly systemNamespace: string;
  /** Absent: the sidecar gets no geolocation database (the product ships none), and the pod spec is what it was. */
  readonly geoip?: GeoipConfig | undefined;
  /** Absent (or both ""): no device-binding headers, and the injected revision is what it was without the key. */
  readonly deviceBinding?: DeviceBindingHeaders | undefined;
}

/** Headers a trusted ingress sets (sidecar VIGIL_CLIENT_CERT_HEADER / VIGIL_JA4_HEADER); "" = none. */
export interface DeviceBindingHeaders {
  readonly clientCertHeader: string;
  readonly ja4Header: string;
}

/** Where the databases come from: exactly one key is set. */
export interface GeoipSource {
  readonly configMap?: string | undefined;
  readonly secret?: string | undefined;
  readonly persistentVolumeClaim?: string | undefined;
  readonly image?: string | undefined;
  readonly hostPath?: string | undefined;
}

export interface GeoipConfig {
  readonly source: GeoipSource;
  /** Paths inside the source; "" = that database is not used. */
  readonly cityFile: string;
  readonly asnFile: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]{0,254}$/;
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;
const COOKIE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const HEADER = /^[A-Za-z0-9-]{1,64}$/;
/** A relative path without `.` or `..` segments. */
const RELATIVE_FILE = /^(?!.*(^|\/)\.{1,2}(\/|$))[A-Za-z0-9._-]{1,255}(\/[A-Za-z0-9._-]{1,255}){0,15}$/;
const ABSOLUTE_DIR = /^(?!.*\/\.{1,2}(\/|$))(\/[A-Za-z0-9._-]{1,255}){1,32}\/?$/;

/** The error of a mapping that refuses unknown keys (a typo never silently falls back to a default). */
function mappingError(allowed: readonly string[]): { error: (iss: z.core.$ZodRawIssue) => string } {
  return { error: (iss) => (iss.code === "unrecognized_keys" ? `unknown key (allowed: ${allowed.join(", ")})` : "must be a mapping") };
}

function mapping<S extends z.core.$ZodLooseShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  return z.strictObject(shape, mappingError(Object.keys(shape)));
}

/** A scalar: absent or null is the default (a YAML `key:` with no value is null). */
function withDefault<T extends z.ZodType>(schema: T, value: z.output<T>): z.ZodType<z.output<T>> {
  return z.preprocess((v) => v ?? undefined, schema.optional()).transform((v): z.output<T> => (v === undefined ? value : v));
}

/** A mapping or a list: absent is empty (so the defaults inside apply); null is not a mapping or a list. */
function orEmpty<T extends z.ZodType>(schema: T, empty: object): z.ZodType<z.output<T>> {
  return z.preprocess((v) => (v === undefined ? empty : v), schema);
}

function text(re: RegExp, what: string): z.ZodString {
  return z
    .string({ error: (iss) => (iss.input === undefined || iss.input === null ? "is required" : `must be a string (${what})`) })
    .regex(re, { error: `must be ${what}` });
}

/** "" (or absent) means unset; otherwise it must match. */
function optionalText(re: RegExp, what: string): z.ZodType<string> {
  return withDefault(z.union([z.literal(""), z.string().regex(re, { error: `must be ${what}` })], { error: `must be ${what}` }), "");
}

function integer(min: number, max: number, dflt: number): z.ZodType<number> {
  const error = `must be an integer from ${min} to ${max}`;
  return withDefault(z.int({ error }).min(min, { error }).max(max, { error }), dflt);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, dflt: T[number]): z.ZodType<T[number]> {
  return withDefault(z.enum(values, { error: `must be one of ${values.join(", ")}` }), dflt);
}

/** A string that a shared setting parser (operator/api/settings.ts) accepts; its complaint is the message. */
function setting(parse: (raw: string) => unknown): (value: string, ctx: z.RefinementCtx) => void {
  return (value: string, ctx: z.RefinementCtx): void => {
    try {
      parse(value);
    } catch (err) {
      if (!(err instanceof SettingProblem)) throw err;
      ctx.addIssue({ code: "custom", message: err.message });
    }
  };
}

const quantity = z
  .string({ error: "must be a Kubernetes quantity such as 50m or 64Mi" })
  .regex(QUANTITY, { error: "must be a Kubernetes quantity such as 50m or 64Mi" });
const RESOURCES = ["cpu", "memory", "ephemeral-storage"] as const;
const resourceList = orEmpty(z.partialRecord(z.enum(RESOURCES), quantity, mappingError(RESOURCES)), {});

const STRINGS = "must be a list of at most 32 strings";
const stringList = orEmpty(
  z
    .array(z.string({ error: "must be a string of at most 1024 characters" }).max(1024, { error: "must be a string of at most 1024 characters" }), {
      error: STRINGS,
    })
    .max(32, { error: STRINGS }),
  [],
);

const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$/;
const SENTINELS = "must be a list of 1-16 host:port";
const sentinel = mapping({
  name: text(DNS_SUBDOMAIN, "a Sentinel master group name"),
  sentinels: z
    .array(z.string({ error: "must be host:port" }).regex(HOST_PORT, { error: "must be host:port" }), { error: SENTINELS })
    .min(1, { error: SENTINELS })
    .max(16, { error: SENTINELS }),
});

const redis = mapping({
  url: text(/^.+$/s, "a redis:// or rediss:// URL").superRefine(setting(redisUrl)).optional(),
  secretName: text(DNS_SUBDOMAIN, "a Secret name").optional(),
  secretKey: text(CONFIG_KEY, "a Secret key").optional(),
  sentinel: sentinel.optional(),
}).superRefine((r, ctx) => {
  const hasSecret = r.secretName !== undefined || r.secretKey !== undefined;
  if ((r.url !== undefined) === hasSecret) ctx.addIssue({ code: "custom", message: "set exactly one of redis.url and redis.secretName + redis.secretKey" });
  else if (r.secretName !== undefined && r.secretKey === undefined)
    ctx.addIssue({ code: "custom", path: ["secretKey"], message: "must be set together with redis.secretName" });
  else if (r.secretKey !== undefined && r.secretName === undefined)
    ctx.addIssue({ code: "custom", path: ["secretName"], message: "must be set together with redis.secretKey" });
});

const GEOIP_SOURCES = ["configMap", "secret", "persistentVolumeClaim", "image", "hostPath"] as const;
const geoip = mapping({
  source: mapping({
    configMap: text(DNS_SUBDOMAIN, "a ConfigMap name").optional(),
    secret: text(DNS_SUBDOMAIN, "a Secret name").optional(),
    persistentVolumeClaim: text(DNS_SUBDOMAIN, "a PersistentVolumeClaim name").optional(),
    image: text(IMAGE, "a container image reference").optional(),
    hostPath: text(ABSOLUTE_DIR, "an absolute directory path without . or .. segments").optional(),
  }).superRefine((source, ctx) => {
    const set = GEOIP_SOURCES.filter((k) => source[k] !== undefined);
    if (set.length !== 1) ctx.addIssue({ code: "custom", message: `set exactly one of ${GEOIP_SOURCES.join(", ")}` });
  }),
  cityFile: optionalText(RELATIVE_FILE, "a relative file path without . or .. segments"),
  asnFile: optionalText(RELATIVE_FILE, "a relative file path without . or .. segments"),
}).superRefine((g, ctx) => {
  if (g.cityFile === "" && g.asnFile === "") ctx.addIssue({ code: "custom", message: "name at least one of cityFile and asnFile" });
});

const deviceBinding = mapping({
  clientCertHeader: optionalText(HEADER, "a header name"),
  ja4Header: optionalText(HEADER, "a header name"),
}).transform((d) => (d.clientCertHeader === "" && d.ja4Header === "" ? undefined : d));

/** The document's schema: the shape in the file comment, with its defaults. */
const InjectionConfigSchema = mapping({
  image: text(IMAGE, "a container image reference"),
  command: stringList,
  args: stringList,
  imagePullPolicy: oneOf(["Always", "IfNotPresent", "Never"], "IfNotPresent"),
  resources: orEmpty(mapping({ requests: resourceList, limits: resourceList }), {}),
  listenPort: integer(1, 65535, 15080),
  adminPort: integer(1, 65535, 15090),
  issuersConfigMap: text(DNS_SUBDOMAIN, "a ConfigMap name"),
  issuersKey: withDefault(text(CONFIG_KEY, "a ConfigMap key"), "issuers.yaml"),
  keyRingSecret: text(DNS_SUBDOMAIN, "a Secret name"),
  busKeysConfigMap: text(DNS_SUBDOMAIN, "a ConfigMap name"),
  redis: orEmpty(redis, {}),
  busPrefix: withDefault(text(/^.*$/s, "a bus key prefix").superRefine(setting(busPrefix)), "vigil:"),
  defaultAction: oneOf(["Deny", "Allow"], "Deny"),
  maxStalenessSeconds: integer(1, 3600, 30),
  trustedProxies: orEmpty(
    z.array(z.string({ error: "must be a CIDR such as 10.0.0.0/8" }).regex(CIDR, { error: "must be a CIDR such as 10.0.0.0/8" }), {
      error: "must be a list of CIDRs",
    }),
    [],
  ),
  tokenCookie: optionalText(COOKIE, "a cookie name"),
  tokenHeader: optionalText(HEADER, "a header name"),
  forwardCredentials: withDefault(z.boolean({ error: "must be true or false" }), false).transform((v) => (v ? (true as const) : undefined)),
  timeouts: orEmpty(
    mapping({
      headersMs: integer(100, 120_000, 10_000),
      requestMs: integer(100, 3_600_000, 60_000),
      keepAliveMs: integer(100, 600_000, 5_000),
      upstreamMs: integer(100, 3_600_000, 30_000),
    }),
    {},
  ),
  logLevel: oneOf(LOG_LEVELS, "info"),
  systemNamespace: withDefault(text(DNS_LABEL, "a namespace name"), "vigil-system"),
  geoip: geoip.optional(),
  deviceBinding: deviceBinding.optional(),
}).superRefine((c, ctx) => {
  if (c.listenPort === c.adminPort) ctx.addIssue({ code: "custom", path: ["adminPort"], message: "must differ from listenPort" });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** Validate a decoded configuration document (see the file comment for its shape). */
export function parseInjectionConfig(value: unknown): InjectionConfig {
  if (value === undefined || value === null) throw new ConfigError("injection config", "is empty");
  const parsed = InjectionConfigSchema.safeParse(value);
  if (!parsed.success) {
    const { path, message } = firstProblem(parsed.error);
    throw new ConfigError(path === "" ? "injection config" : path, message);
  }
  const config: InjectionConfig = parsed.data;
  return deepFreeze(config);
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
    throw new ConfigError(path, `is not valid YAML or JSON (${err instanceof Error ? (err.message.split("\n", 1)[0] ?? "") : ""})`);
  }
  return parseInjectionConfig(doc);
}
