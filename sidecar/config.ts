/**
 * vigil-sidecar configuration: flags (`--upstream-port=8080`) or environment (`VIGIL_UPSTREAM_PORT`), parsed once
 * into a frozen object; a missing or bad value stops the process at start with the key named (ConfigError).
 * The injection webhook sets these variables on the injected container (operator/webhook), so names here are a
 * contract with it. Files (issuers, key ring, pod labels) are read by mounted.ts.
 */
import {
  busPrefix,
  hostPort,
  integer,
  listOf,
  logLevel,
  matching,
  oneOf,
  parseSettings,
  redisUrl,
  sentinelName,
  type SettingSources,
  type Settings,
} from "../operator/api/settings.ts";
import { ConfigError } from "./errors.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const port = integer(1, 65535);
const path = matching(/^\/\S*$/, "an absolute path");
const optional =
  (p: (raw: string) => string) =>
  (raw: string): string =>
    raw === "" ? "" : p(raw);
const flag = (raw: string): boolean => oneOf("true", "false")(raw) === "true";
const cidr = matching(/^[0-9a-fA-F:.]+\/\d{1,3}$/, "a list of CIDRs (e.g. 10.0.0.0/8)");

export const SIDECAR_SETTINGS = {
  /** The workload this sidecar protects (downward API). */
  podName: { parse: matching(DNS_SUBDOMAIN, "a pod name") },
  podNamespace: { parse: matching(DNS_LABEL, "a namespace name") },
  /** The pod's owning workload (set by the injection from its controller reference), reported with its sessions. */
  workloadKind: { parse: optional(matching(/^[A-Z][A-Za-z0-9]{0,62}$/, "a Kubernetes kind")), default: "" },
  workloadName: { parse: optional(matching(DNS_SUBDOMAIN, "a workload name")), default: "" },
  /** Downward API file with the pod's labels (`key="value"` lines). */
  podLabelsFile: { parse: path },
  /** Port the sidecar listens on (the Service targets it). */
  listenPort: { parse: port, default: "15080" },
  listenHost: { parse: matching(/^[0-9a-fA-F:.]+$/, "an IP address"), default: "0.0.0.0" },
  /** /healthz, /readyz, /metrics. */
  adminPort: { parse: port, default: "15090" },
  /** The application's port on loopback. */
  upstreamPort: { parse: port },
  /** YAML/JSON list of issuers (validated by sidecar/auth/issuer-schema.ts), mounted from the chart's ConfigMap. */
  issuersFile: { parse: path },
  /** Session-encryption key ring, mounted from a Secret (one file per key id, plus `primary`). */
  keyRingDir: { parse: path },
  redisUrl: { parse: redisUrl },
  /** Redis Sentinel master group name; with redisSentinels, the sidecar follows failovers (the URL's host is ignored). */
  redisSentinelName: { parse: sentinelName, default: "" },
  redisSentinels: { parse: listOf(hostPort), default: "" },
  busPrefix: { parse: busPrefix, default: "vigil:" },
  /** Public keys the bus is verified with (ConfigMap `<release>-bus-verify`): `<kid>.crt` or `<kid>.pub` files. */
  busKeysDir: { parse: path },
  /** What happens when no AccessPolicy selects this workload. */
  defaultAction: { parse: oneOf("Deny", "Allow"), default: "Deny" },
  /** Strict policies refuse new requests once the bus was last confirmed live (operator-signed) longer ago than this. */
  maxStalenessSeconds: { parse: integer(1, 3600), default: "30" },
  /** Peers whose X-Forwarded-For (and token header) are believed. */
  trustedProxies: { parse: listOf(cidr), default: "" },
  /** Cookie that may carry the token (empty: none). */
  tokenCookie: { parse: optional(matching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/, "a cookie name")), default: "" },
  /** Header set by a trusted ingress that may carry the token (empty: none). */
  tokenHeader: { parse: optional(matching(/^[A-Za-z0-9-]{1,64}$/, "a header name")), default: "" },
  /**
   * Pass the request's credentials (Authorization, the token header, the token cookie) on to the application.
   * Default false: the application gets the verified identity headers, never the token.
   */
  forwardCredentials: { parse: flag, default: "false" },
  headersTimeoutMs: { parse: integer(100, 120_000), default: "10000" },
  requestTimeoutMs: { parse: integer(100, 3_600_000), default: "60000" },
  keepAliveTimeoutMs: { parse: integer(100, 600_000), default: "5000" },
  upstreamTimeoutMs: { parse: integer(100, 3_600_000), default: "30000" },
  heartbeatIntervalMs: { parse: integer(100, 60_000), default: "2000" },
  /** Session timeouts used when no policy selects the workload. */
  defaultIdleTimeoutSeconds: { parse: integer(1, 86_400), default: "1800" },
  defaultAbsoluteTimeoutSeconds: { parse: integer(1, 86_400), default: "28800" },
  /** MaxMind-format City database (GeoLite2/GeoIP2 City, DB-IP Lite) for locations and impossible travel; "" = none. Re-read when the file changes. */
  geoipCityDatabase: { parse: optional(path), default: "" },
  /** MaxMind-format ASN database (GeoLite2 ASN) for network binding by autonomous system; "" = none. */
  geoipAsnDatabase: { parse: optional(path), default: "" },
  /** Header a trusted ingress sets to the client certificate (or its SHA-256 hex), for device binding; "" = none. */
  clientCertHeader: { parse: optional(matching(/^[A-Za-z0-9-]{1,64}$/, "a header name")), default: "" },
  /** Header a trusted ingress sets to the client's JA4 TLS fingerprint, for device binding; "" = none. */
  ja4Header: { parse: optional(matching(/^[A-Za-z0-9-]{1,64}$/, "a header name")), default: "" },
  /** Audit reporting (sidecar/audit/): flush interval of the queue to the stream, queue bound, stream cap. */
  auditFlushMs: { parse: integer(10, 10_000), default: "250" },
  auditQueueSize: { parse: integer(100, 1_000_000), default: "10000" },
  auditStreamMaxLength: { parse: integer(1_000, 10_000_000), default: "100000" },
  /** Throttle of `session.activity` reports (and refusal folding), and of `flow.progress` byte counters. */
  auditActivityMs: { parse: integer(100, 600_000), default: "10000" },
  auditFlowProgressMs: { parse: integer(100, 600_000), default: "5000" },
  logLevel: { parse: logLevel, default: "info" },
} as const;

export type SidecarConfig = Settings<typeof SIDECAR_SETTINGS>;

export function parseSidecarConfig(sources: SettingSources): SidecarConfig {
  const config = parseSettings(SIDECAR_SETTINGS, sources, (key, problem) => {
    throw new ConfigError(key, problem);
  });
  if ((config.redisSentinelName === "") !== (config.redisSentinels.length === 0)) {
    throw new ConfigError("VIGIL_REDIS_SENTINELS", "must be set together with VIGIL_REDIS_SENTINEL_NAME");
  }
  if (config.defaultIdleTimeoutSeconds > config.defaultAbsoluteTimeoutSeconds) {
    throw new ConfigError("VIGIL_DEFAULT_IDLE_TIMEOUT_SECONDS", "must not exceed VIGIL_DEFAULT_ABSOLUTE_TIMEOUT_SECONDS");
  }
  return config;
}
