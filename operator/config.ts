/**
 * vigil-operator configuration: parsed ONCE at start from flags (`--key=value`, kebab-case of the key) and
 * environment (`VIGIL_*`, SCREAMING_SNAKE of the key), flags winning, into a frozen typed object (the shared
 * parser in operator/api/settings.ts).
 *
 * Contract: `parseConfig` is pure (argv, env and the host name are passed in). A bad or missing value, an unknown
 * flag or a stray argument throws a `ConfigError` whose message starts with the offending key
 * (e.g. `VIGIL_RESYNC_SECONDS: must be an integer ≥ 5`), so the process stops at start with the key named.
 * Never log `redisUrl` as is: use `safeUrl` (it may carry a password).
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
  type Parse,
  type Settings,
  type SettingSources,
} from "./api/settings.ts";
import { ConfigError } from "./errors.ts";

export { envName, flagName, safeUrl } from "./api/settings.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const label = matching(DNS_LABEL, "a namespace name (DNS-1123 label)");
const subdomain = matching(DNS_SUBDOMAIN, "a DNS-1123 subdomain");
const printable = (max: number): Parse<string> => matching(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`), `1–${max} printable characters without spaces`);
const absolutePath = matching(/^\/\S*$/, "an absolute path");

/** Every setting, its parser and default (no default = required; `identity` defaults to the host name). */
const SETTINGS = {
  /** redis:// or rediss:// URL of the policy bus. */
  redisUrl: { parse: redisUrl },
  /** Redis Sentinel master group name; with redisSentinels, the URL's host is ignored. */
  redisSentinelName: { parse: sentinelName, default: "" },
  redisSentinels: { parse: listOf(hostPort), default: "" },
  busPrefix: { parse: busPrefix, default: "vigil:" },
  /** The bus signing key ring (Secret `<release>-bus-signing`): `<kid>.key` Ed25519 PEM files and `primary`. */
  busSigningKeysDir: { parse: absolutePath, default: "/etc/vigil/bus-signing" },
  /** How often the leader re-signs the epoch record (sidecars measure staleness from it) and checks the bus. */
  busCheckSeconds: { parse: integer(1, 60), default: "5" },
  /** The session-encryption key ring (Secret `<release>-session-keys`): read sealed session records. */
  sessionKeyRingDir: { parse: absolutePath, default: "/etc/vigil/session-keys" },
  /** Added to a termination's creation time: tokens issued up to then are refused (IdP vs API server clock skew). */
  revocationClockSkewSeconds: { parse: integer(0, 300), default: "5" },
  /** Admin HTTP server (/healthz, /readyz, /metrics). */
  adminPort: { parse: integer(1, 65535), default: "8080" },
  /** Namespace to watch; empty = all namespaces. */
  watchNamespace: { parse: (raw: string) => (raw === "" ? raw : matching(DNS_LABEL, "a namespace name (DNS-1123 label) or empty")(raw)), default: "" },
  /** Period of the informers' full resync and of the bus re-assertion. */
  resyncSeconds: { parse: integer(5, 86_400), default: "300" },
  leaseName: { parse: subdomain, default: "vigil-operator" },
  /** Also the namespace of the webhook's Service and TLS Secret (the release namespace). */
  leaseNamespace: { parse: label, default: "vigil-system" },
  /** client-go semantics: retryPeriod < renewDeadline < leaseDuration. */
  leaseDurationSeconds: { parse: integer(2, 3600), default: "15" },
  renewDeadlineSeconds: { parse: integer(1, 3600), default: "10" },
  retryPeriodSeconds: { parse: integer(1, 3600), default: "2" },
  /** Leader-election identity (the pod name in a cluster). */
  identity: { parse: printable(128) },
  /** How long a SessionTermination waits for acknowledgements before `Failed`. */
  terminationTimeoutSeconds: { parse: integer(1, 86_400), default: "30" },
  /** A sidecar whose last heartbeat is older than this is not live. */
  heartbeatMaxAgeSeconds: { parse: integer(1, 3600), default: "30" },
  logLevel: { parse: logLevel, default: "info" },
  /** HTTPS port of the injection webhook; 0 = not served (e.g. a controllers-only deployment). */
  webhookPort: { parse: integer(0, 65535), default: "0" },
  webhookHost: { parse: matching(/^[0-9a-fA-F:.]+$/, "an IP address"), default: "0.0.0.0" },
  /** MutatingWebhookConfiguration whose caBundle the operator keeps current. */
  webhookConfigurationName: { parse: subdomain, default: "vigil-sidecar-injector" },
  /** Service in front of the webhook (the serving certificate's name). */
  webhookServiceName: { parse: label, default: "vigil-webhook" },
  /** Secret (in leaseNamespace) holding the webhook CA and serving certificate, mode `self`. */
  webhookTlsSecret: { parse: subdomain, default: "vigil-webhook-tls" },
  /** `self`: the operator manages its certificate; `file`: tls.crt/tls.key in webhookCertDir (cert-manager). */
  webhookCertMode: { parse: oneOf("self", "file"), default: "self" },
  webhookCertDir: { parse: absolutePath, default: "/etc/vigil/webhook-tls" },
  /** The injection configuration (the chart's ConfigMap), read when the webhook is served. */
  injectionConfigFile: { parse: absolutePath, default: "/etc/vigil/injection/injection.json" },
  /** HTTPS port of the sessions API (aggregated API sessions.vigil.dev, the webhook's certificate); 0 = not served. */
  sessionsApiPort: { parse: integer(0, 65535), default: "0" },
  sessionsApiHost: { parse: matching(/^[0-9a-fA-F:.]+$/, "an IP address"), default: "0.0.0.0" },
  /** How long an ended session stays listed (and a session without activity is kept). */
  sessionsRetentionSeconds: { parse: integer(60, 2_592_000), default: "86400" },
  /** HTTPS port of the identity-provider signal receivers (back-channel logout, SSF push); 0 = not served. */
  signalsPort: { parse: integer(0, 65535), default: "0" },
  signalsHost: { parse: matching(/^[0-9a-fA-F:.]+$/, "an IP address"), default: "0.0.0.0" },
  /** tls.crt/tls.key of the signals endpoints (a certificate the identity provider trusts, e.g. from cert-manager). */
  signalsCertDir: { parse: absolutePath, default: "/etc/vigil/signals-tls" },
  /** The receivers' configuration (the chart's ConfigMap from the `signals` values; operator/signals/config.ts). */
  signalsConfigFile: { parse: absolutePath, default: "/etc/vigil/signals/signals.yaml" },
  /** A session without open flows or activity for this long shows Idle. */
  sessionsIdleSeconds: { parse: integer(5, 86_400), default: "120" },
} as const;

export type OperatorConfig = Settings<typeof SETTINGS>;

export interface ConfigSources extends SettingSources {
  /** Default identity; the pod's host name is its name. */
  hostname: string;
}

/** Parse and validate the whole configuration; throws ConfigError naming the first bad key. */
export function parseConfig(sources: ConfigSources): OperatorConfig {
  const env = { ...sources.env };
  env.VIGIL_LOG_LEVEL ??= sources.env.LOG_LEVEL;
  env.VIGIL_IDENTITY ??= sources.hostname;
  const config = parseSettings(SETTINGS, { argv: sources.argv, env }, (key, problem) => {
    throw new ConfigError(key, problem);
  });
  if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
    throw new ConfigError("VIGIL_RENEW_DEADLINE_SECONDS", "must be less than VIGIL_LEASE_DURATION_SECONDS");
  }
  if (config.retryPeriodSeconds >= config.renewDeadlineSeconds) {
    throw new ConfigError("VIGIL_RETRY_PERIOD_SECONDS", "must be less than VIGIL_RENEW_DEADLINE_SECONDS");
  }
  if ((config.redisSentinelName === "") !== (config.redisSentinels.length === 0)) {
    throw new ConfigError("VIGIL_REDIS_SENTINELS", "must be set together with VIGIL_REDIS_SENTINEL_NAME");
  }
  return config;
}
