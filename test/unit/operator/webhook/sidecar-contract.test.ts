/**
 * The injected container's environment is a contract with sidecar/config.ts: once the kubelet resolves the
 * downward-API and Secret references, the sidecar must accept it as its whole configuration.
 */
import { resolve } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { parseSidecarConfig } from "../../../../sidecar/config.ts";
import { openGeo } from "../../../../sidecar/protect/geo.ts";
import { inject } from "../../../../operator/webhook/inject.ts";
import { configWith, goldenConfig, pod, withPorts } from "./support.ts";

/** The environment as the kubelet would resolve it for `pod` (fieldRefs from the pod, secretKeyRefs from `secrets`). */
function resolvedEnv(container: V1Container, p: V1Pod, secrets: Record<string, Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    const secret = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined) out[e.name] = e.value;
    else if (field === "metadata.name") out[e.name] = p.metadata?.name ?? "";
    else if (field === "metadata.namespace") out[e.name] = p.metadata?.namespace ?? "";
    else if (secret !== undefined) out[e.name] = secrets[secret.name ?? ""]?.[secret.key] ?? "";
    else throw new Error(`unresolvable env ${e.name}`);
  }
  return out;
}

const sidecarOf = (p: V1Pod): V1Container => p.spec!.initContainers![0]!;

describe("the injected sidecar's environment", () => {
  it("is a complete, valid sidecar configuration (Secret-held Redis URL)", () => {
    const injected = inject(pod(withPorts(8080)), goldenConfig());
    const env = resolvedEnv(sidecarOf(injected), injected, { "vigil-redis": { url: "redis://:pw@vigil-redis.vigil-system.svc:6379" } });
    const cfg = parseSidecarConfig({ argv: [], env });
    expect(cfg).toMatchObject({
      podName: "web",
      podNamespace: "team-a",
      podLabelsFile: "/etc/vigil/podinfo/labels",
      upstreamPort: 8080,
      listenPort: 15080,
      adminPort: 15090,
      issuersFile: "/etc/vigil/issuers/issuers.yaml",
      keyRingDir: "/etc/vigil/key-ring",
      redisUrl: "redis://:pw@vigil-redis.vigil-system.svc:6379",
      trustedProxies: ["10.0.0.0/8"],
      defaultAction: "Deny",
    });
  });

  it("carries a plain Redis URL and every tuned value through", () => {
    const cfg = configWith({
      redis: { url: "redis://redis:6379" },
      listenPort: 18080,
      adminPort: 18090,
      defaultAction: "Allow",
      maxStalenessSeconds: 5,
      trustedProxies: [],
      tokenCookie: "session",
      tokenHeader: "X-Auth-Request-Access-Token",
      forwardCredentials: true,
      timeouts: { headersMs: 2000, requestMs: 3000, keepAliveMs: 4000, upstreamMs: 5000 },
      logLevel: "debug",
      busPrefix: "prod:",
    });
    const injected = inject(pod(withPorts(8080)), cfg);
    const sidecar = parseSidecarConfig({ argv: [], env: resolvedEnv(sidecarOf(injected), injected, {}) });
    expect(sidecar).toMatchObject({
      redisUrl: "redis://redis:6379",
      listenPort: 18080,
      adminPort: 18090,
      defaultAction: "Allow",
      maxStalenessSeconds: 5,
      trustedProxies: [],
      tokenCookie: "session",
      tokenHeader: "X-Auth-Request-Access-Token",
      forwardCredentials: true,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 3000,
      keepAliveTimeoutMs: 4000,
      upstreamTimeoutMs: 5000,
      logLevel: "debug",
      busPrefix: "prod:",
    });
    expect(sidecarOf(injected).ports).toEqual([
      { name: "vigil-proxy", containerPort: 18080, protocol: "TCP" },
      { name: "vigil-admin", containerPort: 18090, protocol: "TCP" },
    ]);
  });

  it("withholds credentials from the application unless the configuration asks, adding nothing to the pod spec then", () => {
    const plain = inject(pod(withPorts(8080)), goldenConfig());
    const env = resolvedEnv(sidecarOf(plain), plain, { "vigil-redis": { url: "redis://r:6379" } });
    expect(Object.keys(env)).not.toContain("VIGIL_FORWARD_CREDENTIALS");
    expect(parseSidecarConfig({ argv: [], env }).forwardCredentials).toBe(false);
    const asked = inject(pod(withPorts(8080)), configWith({ forwardCredentials: true }));
    expect(sidecarOf(asked).env).toContainEqual({ name: "VIGIL_FORWARD_CREDENTIALS", value: "true" });
  });

  it("refuses a sidecar setting that is not true or false, naming it", () => {
    const plain = inject(pod(withPorts(8080)), goldenConfig());
    const env = { ...resolvedEnv(sidecarOf(plain), plain, { "vigil-redis": { url: "redis://r:6379" } }), VIGIL_FORWARD_CREDENTIALS: "yes" };
    expect(() => parseSidecarConfig({ argv: [], env })).toThrow("invalid configuration at VIGIL_FORWARD_CREDENTIALS: must be one of true, false");
  });

  it("mounts every path it names", () => {
    const injected = inject(pod(withPorts(8080)), goldenConfig());
    const c = sidecarOf(injected);
    const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
    for (const e of c.env ?? []) {
      if (e.value?.startsWith("/") === true) expect(mounts.some((m) => e.value!.startsWith(m))).toBe(true);
    }
    const volumes = new Set((injected.spec?.volumes ?? []).map((v) => v.name));
    for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name)).toBe(true);
  });

  it("records a configuration revision that changes with the configuration only", () => {
    const a = inject(pod(withPorts(8080)), goldenConfig()).metadata?.annotations?.["vigil.dev/injected-revision"];
    const b = inject(pod(withPorts(9090)), goldenConfig()).metadata?.annotations?.["vigil.dev/injected-revision"];
    const c = inject(pod(withPorts(8080)), configWith({ image: "ghcr.io/vigil-dev/vigil:0.2.0" })).metadata?.annotations?.["vigil.dev/injected-revision"];
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    const d = inject(pod(withPorts(8080)), configWith({ forwardCredentials: false })).metadata?.annotations?.["vigil.dev/injected-revision"];
    const e = inject(pod(withPorts(8080)), configWith({ forwardCredentials: true })).metadata?.annotations?.["vigil.dev/injected-revision"];
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).toBe(a); // the default, spelled out, is the same configuration
    expect(e).not.toBe(a);
  });
});

describe("the injected sidecar's GeoIP databases", () => {
  const GEOIP_DIR = resolve(import.meta.dirname, "../../../fixtures/geoip");
  const files = { cityFile: "GeoIP2-City-Test.mmdb", asnFile: "GeoLite2-ASN-Test.mmdb" };
  const secrets = { "vigil-redis": { url: "redis://r:6379" } };

  it("mounts the operator's databases read-only and points the sidecar at them: it geolocates from the mounted files", async () => {
    const injected = inject(pod(withPorts(8080)), configWith({ geoip: { source: { configMap: "geoip" }, ...files } }));
    const c = sidecarOf(injected);
    expect(c.volumeMounts).toContainEqual({ name: "vigil-geoip", mountPath: "/etc/vigil/geoip", readOnly: true });
    expect(injected.spec?.volumes).toContainEqual({ name: "vigil-geoip", configMap: { name: "geoip" } });
    const cfg = parseSidecarConfig({ argv: [], env: resolvedEnv(c, injected, secrets) });
    expect(cfg.geoipCityDatabase).toBe("/etc/vigil/geoip/GeoIP2-City-Test.mmdb");
    expect(cfg.geoipAsnDatabase).toBe("/etc/vigil/geoip/GeoLite2-ASN-Test.mmdb");
    // The kubelet mounts the ConfigMap's files at /etc/vigil/geoip; here the fixture directory stands in for it.
    const mounted = (path: string): string => path.replace("/etc/vigil/geoip", GEOIP_DIR);
    const geo = await openGeo({ cityPath: mounted(cfg.geoipCityDatabase), asnPath: mounted(cfg.geoipAsnDatabase), log: pino({ level: "silent" }) });
    try {
      expect(geo.location("214.78.120.1")).toMatchObject({ country: "US", asn: 721, asOrganization: "DoD Network Information Center" });
    } finally {
      geo.close();
    }
  });

  it.each([
    [{ secret: "geoip" }, { secret: { secretName: "geoip" } }],
    [{ persistentVolumeClaim: "geoip" }, { persistentVolumeClaim: { claimName: "geoip", readOnly: true } }],
    [{ image: "registry.example/geoip:2026-01" }, { image: { reference: "registry.example/geoip:2026-01" } }],
    [{ hostPath: "/var/lib/geoip" }, { hostPath: { path: "/var/lib/geoip", type: "Directory" } }],
  ])("mounts a %o source as that kind of volume", (source, volume) => {
    const injected = inject(pod(withPorts(8080)), configWith({ geoip: { source, cityFile: "City.mmdb" } }));
    expect(injected.spec?.volumes).toContainEqual({ name: "vigil-geoip", ...volume });
    const env = resolvedEnv(sidecarOf(injected), injected, secrets);
    expect(env["VIGIL_GEOIP_CITY_DATABASE"]).toBe("/etc/vigil/geoip/City.mmdb");
    expect(env).not.toHaveProperty("VIGIL_GEOIP_ASN_DATABASE");
  });

  it("adds nothing to the pod spec without databases: the injected revision of older configurations is kept", () => {
    const plain = inject(pod(withPorts(8080)), goldenConfig());
    expect(JSON.stringify(plain)).not.toContain("geoip");
    const withGeo = inject(pod(withPorts(8080)), configWith({ geoip: { source: { configMap: "geoip" }, ...files } }));
    const revision = (p: V1Pod): string | undefined => p.metadata?.annotations?.["vigil.dev/injected-revision"];
    expect(revision(plain)).toBe(revision(inject(pod(withPorts(8080)), configWith({}))));
    expect(revision(withGeo)).not.toBe(revision(plain));
  });
});

describe("the injected sidecar's device-binding headers", () => {
  const secrets = { "vigil-redis": { url: "redis://r:6379" } };
  const revision = (p: V1Pod): string | undefined => p.metadata?.annotations?.["vigil.dev/injected-revision"];

  it("reach the sidecar's configuration as the headers device binding reads from a trusted ingress", () => {
    const injected = inject(pod(withPorts(8080)), configWith({ deviceBinding: { clientCertHeader: "X-Client-Cert-Sha256", ja4Header: "X-JA4" } }));
    const env = resolvedEnv(sidecarOf(injected), injected, secrets);
    expect(env).toMatchObject({ VIGIL_CLIENT_CERT_HEADER: "X-Client-Cert-Sha256", VIGIL_JA4_HEADER: "X-JA4" });
    const cfg = parseSidecarConfig({ argv: [], env });
    expect(cfg.clientCertHeader).toBe("X-Client-Cert-Sha256");
    expect(cfg.ja4Header).toBe("X-JA4");
  });

  it("set only the one named", () => {
    const injected = inject(pod(withPorts(8080)), configWith({ deviceBinding: { ja4Header: "X-JA4" } }));
    const env = resolvedEnv(sidecarOf(injected), injected, secrets);
    expect(env["VIGIL_JA4_HEADER"]).toBe("X-JA4");
    expect(env).not.toHaveProperty("VIGIL_CLIENT_CERT_HEADER");
    expect(parseSidecarConfig({ argv: [], env }).clientCertHeader).toBe("");
  });

  it("add nothing to the pod spec when none is named: the injected revision of older configurations is kept", () => {
    const plain = inject(pod(withPorts(8080)), goldenConfig());
    const env = resolvedEnv(sidecarOf(plain), plain, secrets);
    expect(env).not.toHaveProperty("VIGIL_CLIENT_CERT_HEADER");
    expect(env).not.toHaveProperty("VIGIL_JA4_HEADER");
    const empty = inject(pod(withPorts(8080)), configWith({ deviceBinding: { clientCertHeader: "", ja4Header: "" } }));
    expect(revision(empty)).toBe(revision(plain));
    const named = inject(pod(withPorts(8080)), configWith({ deviceBinding: { ja4Header: "X-JA4" } }));
    expect(revision(named)).not.toBe(revision(plain));
  });
});
