import { describe, expect, it } from "vitest";
import { envName, flagName, parseConfig, safeUrl } from "../../../operator/config.ts";
import { ConfigError } from "../../../operator/errors.ts";

const REQUIRED = { VIGIL_REDIS_URL: "redis://127.0.0.1:6379" };

function parse(env: Record<string, string | undefined> = {}, argv: string[] = []) {
  return parseConfig({ argv, env: { ...REQUIRED, ...env }, hostname: "vigil-operator-7d9f-abcde" });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("fills every key with its documented default when only the Redis URL is given", () => {
    const config = parse();
    expect(config).toEqual({
      redisUrl: "redis://127.0.0.1:6379",
      busPrefix: "vigil:",
      busSigningKeysDir: "/etc/vigil/bus-signing",
      busCheckSeconds: 5,
      revocationClockSkewSeconds: 5,
      sessionKeyRingDir: "/etc/vigil/session-keys",
      adminPort: 8080,
      watchNamespace: "",
      resyncSeconds: 300,
      leaseName: "vigil-operator",
      leaseNamespace: "vigil-system",
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      identity: "vigil-operator-7d9f-abcde",
      terminationTimeoutSeconds: 30,
      heartbeatMaxAgeSeconds: 30,
      logLevel: "info",
      redisSentinelName: "",
      redisSentinels: [],
      webhookPort: 0,
      webhookHost: "0.0.0.0",
      webhookConfigurationName: "vigil-sidecar-injector",
      webhookServiceName: "vigil-webhook",
      webhookTlsSecret: "vigil-webhook-tls",
      webhookCertMode: "self",
      webhookCertDir: "/etc/vigil/webhook-tls",
      injectionConfigFile: "/etc/vigil/injection/injection.json",
      sessionsApiPort: 0,
      sessionsApiHost: "0.0.0.0",
      sessionsRetentionSeconds: 86400,
      sessionsIdleSeconds: 120,
      signalsPort: 0,
      signalsHost: "0.0.0.0",
      signalsCertDir: "/etc/vigil/signals-tls",
      signalsConfigFile: "/etc/vigil/signals/signals.yaml",
    });
  });

  it("reads Redis Sentinel settings, and only together", () => {
    expect(parse({ VIGIL_REDIS_SENTINEL_NAME: "mymaster", VIGIL_REDIS_SENTINELS: "s1:26379,[::1]:26380" })).toMatchObject({
      redisSentinelName: "mymaster",
      redisSentinels: [
        { host: "s1", port: 26379 },
        { host: "[::1]", port: 26380 },
      ],
    });
    expect(errorOf(() => parse({ VIGIL_REDIS_SENTINELS: "s1:26379" })).key).toBe("VIGIL_REDIS_SENTINELS");
    expect(errorOf(() => parse({ VIGIL_REDIS_SENTINEL_NAME: "m", VIGIL_REDIS_SENTINELS: "s1" })).message).toBe(
      "VIGIL_REDIS_SENTINELS: must be a list of host:port",
    );
  });

  it("returns a frozen object", () => {
    const config = parse();
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { adminPort: number }).adminPort = 1;
    }).toThrow(TypeError);
  });

  it("reads VIGIL_* variables and lets --flags override them", () => {
    const config = parse({ VIGIL_RESYNC_SECONDS: "60", VIGIL_WATCH_NAMESPACE: "team-a" }, ["--resync-seconds=30", "--admin-port=9090"]);
    expect(config.resyncSeconds).toBe(30);
    expect(config.adminPort).toBe(9090);
    expect(config.watchNamespace).toBe("team-a");
  });

  it("names the missing required key", () => {
    const err = errorOf(() => parseConfig({ argv: [], env: {}, hostname: "h" }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.key).toBe("VIGIL_REDIS_URL");
    expect(err.message).toMatch(/^VIGIL_REDIS_URL: is required/);
  });

  it.each([
    [{ VIGIL_RESYNC_SECONDS: "4" }, "VIGIL_RESYNC_SECONDS: must be an integer ≥ 5"],
    [{ VIGIL_RESYNC_SECONDS: "ten" }, "VIGIL_RESYNC_SECONDS: must be an integer ≥ 5"],
    [{ VIGIL_RESYNC_SECONDS: "1.5" }, "VIGIL_RESYNC_SECONDS: must be an integer ≥ 5"],
    [{ VIGIL_ADMIN_PORT: "70000" }, "VIGIL_ADMIN_PORT: must be an integer ≤ 65535"],
    [{ VIGIL_REDIS_URL: "http://x" }, "VIGIL_REDIS_URL: must be a redis:// or rediss:// URL"],
    [{ VIGIL_REDIS_URL: "not a url" }, "VIGIL_REDIS_URL: must be a redis:// or rediss:// URL"],
    [{ VIGIL_WATCH_NAMESPACE: "Team_A" }, "VIGIL_WATCH_NAMESPACE: must be a namespace name (DNS-1123 label) or empty"],
    [{ VIGIL_LOG_LEVEL: "loud" }, "VIGIL_LOG_LEVEL: must be one of"],
    [{ VIGIL_BUS_PREFIX: "has space" }, "VIGIL_BUS_PREFIX: must be 1–64 printable"],
    [{ VIGIL_RENEW_DEADLINE_SECONDS: "15" }, "VIGIL_RENEW_DEADLINE_SECONDS: must be less than VIGIL_LEASE_DURATION_SECONDS"],
    [{ VIGIL_RETRY_PERIOD_SECONDS: "10" }, "VIGIL_RETRY_PERIOD_SECONDS: must be less than VIGIL_RENEW_DEADLINE_SECONDS"],
  ])("rejects %j with the key named", (env, message) => {
    expect(errorOf(() => parse(env)).message.startsWith(message)).toBe(true);
  });

  it("names the flag, not the variable, when the bad value came from a flag", () => {
    const err = errorOf(() => parse({}, ["--resync-seconds=1"]));
    expect(err.key).toBe("--resync-seconds");
  });

  it("rejects unknown flags, flags without a value and stray arguments", () => {
    expect(errorOf(() => parse({}, ["--resync=5"])).message).toBe("--resync: unknown flag");
    expect(errorOf(() => parse({}, ["--admin-port"])).message).toBe("--admin-port: expected --key=value");
    expect(errorOf(() => parse({}, ["serve"])).key).toBe("argument");
  });

  it("falls back to LOG_LEVEL for the log level", () => {
    expect(parse({ LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(parse({ LOG_LEVEL: "debug", VIGIL_LOG_LEVEL: "warn" }).logLevel).toBe("warn");
  });

  it("derives flag and variable names from the key", () => {
    expect(flagName("heartbeatMaxAgeSeconds")).toBe("--heartbeat-max-age-seconds");
    expect(envName("heartbeatMaxAgeSeconds")).toBe("VIGIL_HEARTBEAT_MAX_AGE_SECONDS");
  });
});

describe("safeUrl", () => {
  it("hides the password of a Redis URL", () => {
    expect(safeUrl("redis://default:s3cret@redis:6379/0")).toBe("redis://default:REDACTED@redis:6379/0");
    expect(safeUrl("redis://redis:6379")).toBe("redis://redis:6379");
    expect(safeUrl("::")).toBe("[unparseable URL]");
  });
});
