import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadInjectionConfig, parseInjectionConfig } from "../../../../operator/webhook/config.ts";
import { GOLDEN_DIR } from "./support.ts";

const minimal = {
  image: "ghcr.io/vigil-dev/vigil:0.1.0",
  issuersConfigMap: "issuers",
  keyRingSecret: "keys",
  busKeysConfigMap: "bus-keys",
  redis: { url: "redis://redis.vigil-system.svc:6379" },
};
const dir = mkdtempSync(join(tmpdir(), "vigil-injection-config-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The ConfigError message for a document, or "" when it is accepted. */
function problem(doc: unknown): string {
  try {
    parseInjectionConfig(doc);
    return "";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

describe("parseInjectionConfig", () => {
  it("fills in the documented defaults", () => {
    expect(parseInjectionConfig(minimal)).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      listenPort: 15080,
      adminPort: 15090,
      issuersKey: "issuers.yaml",
      busPrefix: "vigil:",
      defaultAction: "Deny",
      maxStalenessSeconds: 30,
      trustedProxies: [],
      command: [],
      args: [],
      timeouts: { headersMs: 10000, requestMs: 60000, keepAliveMs: 5000, upstreamMs: 30000 },
      systemNamespace: "vigil-system",
    });
  });

  it("withholds credentials unless forwardCredentials is true", () => {
    expect(parseInjectionConfig(minimal).forwardCredentials).toBeUndefined();
    expect(parseInjectionConfig({ ...minimal, forwardCredentials: false }).forwardCredentials).toBeUndefined();
    expect(parseInjectionConfig({ ...minimal, forwardCredentials: true }).forwardCredentials).toBe(true);
  });

  it("adds no GeoIP databases unless configured, and takes any one source with one or two files", () => {
    expect(parseInjectionConfig(minimal).geoip).toBeUndefined();
    const geoip = { source: { persistentVolumeClaim: "geoip" }, cityFile: "GeoLite2-City.mmdb" };
    expect(parseInjectionConfig({ ...minimal, geoip }).geoip).toEqual({ ...geoip, asnFile: "" });
    const image = { source: { image: "registry.example/geoip@sha256:" + "a".repeat(64) }, cityFile: "db/City.mmdb", asnFile: "db/ASN.mmdb" };
    expect(parseInjectionConfig({ ...minimal, geoip: image }).geoip).toEqual(image);
  });

  it("adds no device-binding headers unless one is named, and takes header names", () => {
    expect(parseInjectionConfig(minimal).deviceBinding).toBeUndefined();
    expect(parseInjectionConfig({ ...minimal, deviceBinding: {} }).deviceBinding).toBeUndefined();
    expect(parseInjectionConfig({ ...minimal, deviceBinding: { clientCertHeader: "", ja4Header: "" } }).deviceBinding).toBeUndefined();
    expect(parseInjectionConfig({ ...minimal, deviceBinding: { ja4Header: "X-JA4" } }).deviceBinding).toEqual({ clientCertHeader: "", ja4Header: "X-JA4" });
  });

  it("returns a frozen object, all the way down", () => {
    const cfg = parseInjectionConfig({ ...minimal, resources: { limits: { memory: "64Mi" } }, args: ["sidecar"] });
    expect(Object.isFrozen(cfg)).toBe(true);
    for (const inner of [cfg.resources, cfg.resources.limits, cfg.redis, cfg.timeouts, cfg.args]) expect(Object.isFrozen(inner)).toBe(true);
  });

  it("takes a scalar key without a value (YAML null) as its default, but not a mapping or a list", () => {
    expect(parseInjectionConfig({ ...minimal, listenPort: null, logLevel: null })).toMatchObject({ listenPort: 15080, logLevel: "info" });
    expect(problem({ ...minimal, timeouts: null })).toBe("timeouts: must be a mapping");
    expect(problem({ ...minimal, args: null })).toBe("args: must be a list of at most 32 strings");
  });

  it.each<[string, unknown, string]>([
    ["an empty document", null, "injection config: is empty"],
    ["a list", [], "must be a mapping"],
    ["a missing image", { ...minimal, image: undefined }, "image: is required"],
    ["an image with spaces", { ...minimal, image: "bad image" }, "image: must be a container image reference"],
    ["an unknown key (a typo)", { ...minimal, listenport: 1 }, "listenport: unknown key"],
    ["an unknown nested key", { ...minimal, timeouts: { headerMs: 5 } }, "timeouts.headerMs: unknown key"],
    ["a port out of range", { ...minimal, listenPort: 70000 }, "listenPort: must be an integer from 1 to 65535"],
    ["a port given as a string", { ...minimal, adminPort: "15090" }, "adminPort: must be an integer"],
    ["equal listen and admin ports", { ...minimal, listenPort: 9000, adminPort: 9000 }, "adminPort: must differ from listenPort"],
    ["a bad pull policy", { ...minimal, imagePullPolicy: "Sometimes" }, "imagePullPolicy: must be one of Always, IfNotPresent, Never"],
    ["a bad quantity", { ...minimal, resources: { limits: { memory: "lots" } } }, "resources.limits.memory: must be a Kubernetes quantity"],
    ["an unknown resource", { ...minimal, resources: { requests: { gpu: "1" } } }, "resources.requests.gpu: unknown key"],
    ["both redis forms", { ...minimal, redis: { url: "redis://r:6379", secretName: "s", secretKey: "k" } }, "redis: set exactly one of"],
    ["neither redis form", { ...minimal, redis: {} }, "redis: set exactly one of"],
    ["a secret name without its key", { ...minimal, redis: { secretName: "s" } }, "redis.secretKey: must be set together with redis.secretName"],
    ["a non-redis URL", { ...minimal, redis: { url: "http://r:6379" } }, "redis.url: must be a redis:// or rediss:// URL"],
    ["a bad CIDR", { ...minimal, trustedProxies: ["10.0.0.0/8", "everyone"] }, "trustedProxies[1]: must be a CIDR"],
    ["a bad default action", { ...minimal, defaultAction: "deny" }, "defaultAction: must be one of Deny, Allow"],
    ["a zero staleness", { ...minimal, maxStalenessSeconds: 0 }, "maxStalenessSeconds: must be an integer from 1 to 3600"],
    ["a bad system namespace", { ...minimal, systemNamespace: "Vigil_System" }, "systemNamespace: must be a namespace name"],
    ["a bad ConfigMap name", { ...minimal, issuersConfigMap: "Issuers!" }, "issuersConfigMap: must be a ConfigMap name"],
    ["args that are not strings", { ...minimal, args: ["sidecar", 1] }, "args[1]: must be a string"],
    ["a bus prefix with spaces", { ...minimal, busPrefix: "vigil prod:" }, "busPrefix: must be 1–64 printable characters"],
    ["a bad log level", { ...minimal, logLevel: "verbose" }, "logLevel: must be one of"],
    ["forwardCredentials as a string", { ...minimal, forwardCredentials: "true" }, "forwardCredentials: must be true or false"],
    [
      "a device-binding header with a space",
      { ...minimal, deviceBinding: { clientCertHeader: "X Client Cert" } },
      "deviceBinding.clientCertHeader: must be a header name",
    ],
    ["a device-binding header with a colon", { ...minimal, deviceBinding: { ja4Header: "x-ja4:" } }, "deviceBinding.ja4Header: must be a header name"],
    ["an unknown device-binding key", { ...minimal, deviceBinding: { ja3Header: "X-JA3" } }, "deviceBinding.ja3Header: unknown key"],
    [
      "a GeoIP source with two kinds",
      { ...minimal, geoip: { source: { configMap: "g", secret: "g" }, cityFile: "c.mmdb" } },
      "geoip.source: set exactly one of",
    ],
    ["a GeoIP source with none", { ...minimal, geoip: { source: {}, cityFile: "c.mmdb" } }, "geoip.source: set exactly one of"],
    ["an unknown GeoIP source kind", { ...minimal, geoip: { source: { nfs: "x" }, cityFile: "c.mmdb" } }, "geoip.source.nfs: unknown key"],
    ["GeoIP without a database file", { ...minimal, geoip: { source: { configMap: "g" } } }, "geoip: name at least one of cityFile and asnFile"],
    [
      "a GeoIP file leaving the mount",
      { ...minimal, geoip: { source: { configMap: "g" }, cityFile: "../etc/passwd" } },
      "geoip.cityFile: must be a relative file path",
    ],
    ["an absolute GeoIP file", { ...minimal, geoip: { source: { configMap: "g" }, asnFile: "/a.mmdb" } }, "geoip.asnFile: must be a relative file path"],
    [
      "a relative host path",
      { ...minimal, geoip: { source: { hostPath: "var/lib/geoip" }, cityFile: "c.mmdb" } },
      "geoip.source.hostPath: must be an absolute directory path",
    ],
    [
      "a host path with ..",
      { ...minimal, geoip: { source: { hostPath: "/var/../etc" }, cityFile: "c.mmdb" } },
      "geoip.source.hostPath: must be an absolute directory path",
    ],
  ])("refuses %s, naming the key", (_, doc, message) => {
    expect(problem(doc)).toContain(message);
  });
});

describe("loadInjectionConfig", () => {
  it("loads the golden configuration (YAML)", async () => {
    const cfg = await loadInjectionConfig(join(GOLDEN_DIR, "_injection-config.yaml"));
    expect(cfg.redis).toEqual({ secretName: "vigil-redis", secretKey: "url" });
  });

  it("loads JSON", async () => {
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify(minimal));
    expect((await loadInjectionConfig(file)).image).toBe(minimal.image);
  });

  it("names the file when it is missing or not YAML", async () => {
    await expect(loadInjectionConfig(join(dir, "missing.yaml"))).rejects.toThrow(/missing\.yaml: cannot be read/);
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "image: [unclosed");
    await expect(loadInjectionConfig(file)).rejects.toThrow(/bad\.yaml: is not valid YAML or JSON/);
  });
});
