/**
 * The chart's identity-provider signals (`signals.*`), the sidecars' GeoIP databases (`sidecar.geoip.*`) and the
 * device-binding headers of a trusted ingress (`sidecar.deviceBinding.*`), rendered with the real helm: off by default
 * (nothing rendered, the default golden file unchanged); when on, the rendered receivers' file is one the operator's
 * own parser accepts, every SSF token file is a file of a mounted Secret, the operator serves the port behind a
 * Service (and Ingress) with the certificate it mounts; the injection config the webhook reads mounts the databases
 * into the injected sidecar and passes it the headers. Bad values are refused by values.schema.json or the chart's
 * checks, naming the key. The golden files are the `signals` and `geoip` cases of chart.test.ts.
 */
import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import { join } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { parseSignalsConfig } from "../../../operator/signals/config.ts";
import { parseInjectionConfig } from "../../../operator/webhook/config.ts";
import { inject } from "../../../operator/webhook/inject.ts";
import { goldenDir, objectsOf, template, type K8sObject } from "./helm.ts";

const valuesOf = (name: string): string => join(goldenDir, "values", `${name}.yaml`);
const NS = "vigil-system";

const one = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0]!;
};
const operatorOf = (objects: K8sObject[]): V1Deployment => one(objects, "Deployment", "vigil-operator");
const ruleVerbs = (objects: K8sObject[]): string[][] =>
  ((one(objects, "ClusterRole", "vigil-operator").rules ?? []) as { resources: string[]; verbs: string[] }[])
    .filter((r) => r.resources.includes("sessionterminations"))
    .map((r) => r.verbs);

describe("the chart's signals and GeoIP values", () => {
  let env: ClusterEnv;
  const render = async (name: string, ...args: string[]): Promise<K8sObject[]> => {
    const result = await template(env, valuesOf(name), args);
    expect(result.stderr).toBe("");
    return objectsOf(result.stdout);
  };
  const refusal = async (name: string, ...args: string[]): Promise<string> => {
    const result = await template(env, valuesOf(name), args);
    expect(result.code).not.toBe(0);
    return result.stderr;
  };
  beforeAll(() => {
    env = clusterEnv();
  });

  it("render nothing of either by default: no receivers, no port, no create right, no databases", async () => {
    const objects = await render("default");
    expect(objects.filter((o) => o.metadata.name.includes("signals"))).toEqual([]);
    const container = operatorOf(objects).spec!.template.spec!.containers[0]!;
    expect(container.ports?.map((p) => p.name)).not.toContain("signals");
    expect(container.env?.map((e) => e.name).filter((n) => n.startsWith("VIGIL_SIGNALS"))).toEqual([]);
    expect(ruleVerbs(objects)).toEqual([["get", "list", "watch", "patch", "delete"]]);
    const injection = JSON.parse(one(objects, "ConfigMap", "vigil-injection").data!["injection.json"]!) as Record<string, unknown>;
    expect(injection).not.toHaveProperty("geoip");
  });

  it("serve the receivers: a file the operator's parser accepts, its certificate and token Secrets mounted, a Service and an Ingress", async () => {
    const objects = await render("signals");
    const file = one(objects, "ConfigMap", "vigil-signals").data!["signals.yaml"]!;
    const config = parseSignalsConfig(parse(file));
    expect(config.backChannelLogout.map((b) => b.issuer)).toEqual(["https://login.example.com/", "https://ci.example.com"]);
    expect(config.ssf.map((s) => [s.name, s.delivery])).toEqual([
      ["okta", "push"],
      ["entra", "poll"],
    ]);

    const pod = operatorOf(objects).spec!.template;
    const container = pod.spec!.containers[0]!;
    expect(container.ports).toContainEqual({ name: "signals", containerPort: 9444, protocol: "TCP" });
    const envOf = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(envOf).toMatchObject({
      VIGIL_SIGNALS_PORT: "9444",
      VIGIL_SIGNALS_CERT_DIR: "/etc/vigil/signals-tls",
      VIGIL_SIGNALS_CONFIG_FILE: "/etc/vigil/signals/signals.yaml",
    });
    const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const volumes = new Map((pod.spec!.volumes ?? []).map((v) => [v.name, v]));
    const volumeAt = (path: string): Record<string, unknown> => {
      const mount = [...mounts.values()].find((m) => path.startsWith(`${m.mountPath}/`));
      expect(mount?.readOnly, path).toBe(true);
      return volumes.get(mount!.name) as unknown as Record<string, unknown>;
    };
    expect(volumeAt(envOf.VIGIL_SIGNALS_CONFIG_FILE!)).toMatchObject({ configMap: { name: "vigil-signals" } });
    expect(volumeAt(`${envOf.VIGIL_SIGNALS_CERT_DIR!}/tls.crt`)).toMatchObject({ secret: { secretName: "vigil-signals-tls" } });
    for (const stream of config.ssf) {
      for (const path of [stream.managementTokenFile, stream.pushTokenFile].filter((p) => p !== undefined)) {
        expect(volumeAt(path)).toMatchObject({ secret: { secretName: "vigil-ssf" } });
      }
    }
    // The operator reads the file at start: a changed file rolls the pods.
    expect(pod.metadata?.annotations?.["checksum/signals-config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(ruleVerbs(objects)).toContainEqual(["create"]);

    const service = one(objects, "Service", "vigil-signals") as unknown as V1Service;
    expect(service.spec).toMatchObject({
      type: "LoadBalancer",
      loadBalancerSourceRanges: ["203.0.113.0/24"],
      ports: [{ name: "https", port: 443, targetPort: "signals", protocol: "TCP" }],
    });
    expect(service.spec?.selector).toEqual(operatorOf(objects).spec!.selector.matchLabels);
    const ingress = one(objects, "Ingress", "vigil-signals") as K8sObject & { spec: { rules: { host: string; http: { paths: unknown[] } }[] } };
    expect(ingress.spec.rules).toEqual([
      {
        host: "vigil-signals.example.com",
        http: {
          paths: [
            { path: "/oidc/backchannel-logout", pathType: "Exact", backend: { service: { name: "vigil-signals", port: { name: "https" } } } },
            { path: "/ssf/push/", pathType: "Prefix", backend: { service: { name: "vigil-signals", port: { name: "https" } } } },
          ],
        },
      },
    ]);
    const certificate = one(objects, "Certificate", "vigil-signals-tls") as K8sObject & { spec: Record<string, unknown> };
    expect(certificate.spec).toMatchObject({
      secretName: "vigil-signals-tls",
      issuerRef: { name: "letsencrypt", kind: "ClusterIssuer", group: "cert-manager.io" },
      dnsNames: [`vigil-signals.${NS}.svc`, `vigil-signals.${NS}.svc.cluster.local`, "vigil-signals.example.com", "signals.example.com"],
    });
  });

  it("take the certificate from an existing Secret instead, rendering no Certificate", async () => {
    const objects = await render("signals", "--set", "signals.tls.certManager.enabled=false", "--set", "signals.tls.existingSecret=idp-facing-tls");
    expect(objects.filter((o) => o.kind === "Certificate")).toEqual([]);
    const volumes = operatorOf(objects).spec!.template.spec!.volumes ?? [];
    expect(volumes).toContainEqual({ name: "signals-tls", secret: { secretName: "idp-facing-tls" } });
  });

  it("mount the operator's GeoIP databases into the injected sidecar, read-only, from the named source", async () => {
    const objects = await render("geoip");
    const config = parseInjectionConfig(JSON.parse(one(objects, "ConfigMap", "vigil-injection").data!["injection.json"]!));
    expect(config.geoip).toEqual({ source: { persistentVolumeClaim: "geoip" }, cityFile: "GeoLite2-City.mmdb", asnFile: "GeoLite2-ASN.mmdb" });
    const pod = inject(
      { metadata: { name: "web", namespace: "shop" }, spec: { containers: [{ name: "app", image: "app", ports: [{ containerPort: 8080 }] }] } },
      config,
    );
    expect(pod.spec?.volumes).toContainEqual({ name: "vigil-geoip", persistentVolumeClaim: { claimName: "geoip", readOnly: true } });
    const sidecar = pod.spec!.initContainers![0]!;
    expect(sidecar.volumeMounts).toContainEqual({ name: "vigil-geoip", mountPath: "/etc/vigil/geoip", readOnly: true });
    expect(sidecar.env).toEqual(
      expect.arrayContaining([
        { name: "VIGIL_GEOIP_CITY_DATABASE", value: "/etc/vigil/geoip/GeoLite2-City.mmdb" },
        { name: "VIGIL_GEOIP_ASN_DATABASE", value: "/etc/vigil/geoip/GeoLite2-ASN.mmdb" },
      ]),
    );
    const image = await render(
      "geoip",
      "--set",
      "sidecar.geoip.persistentVolumeClaim=",
      "--set",
      "sidecar.geoip.image=registry.example/geoip:2026-11",
      "--set",
      "sidecar.geoip.asnFile=",
    );
    const imageConfig = parseInjectionConfig(JSON.parse(one(image, "ConfigMap", "vigil-injection").data!["injection.json"]!));
    expect(imageConfig.geoip).toEqual({ source: { image: "registry.example/geoip:2026-11" }, cityFile: "GeoLite2-City.mmdb", asnFile: "" });
  });

  it("pass the device-binding headers of a trusted ingress to the injected sidecar (none by default)", async () => {
    const injectionOf = (objects: K8sObject[]): Record<string, unknown> =>
      JSON.parse(one(objects, "ConfigMap", "vigil-injection").data!["injection.json"]!) as Record<string, unknown>;
    expect(injectionOf(await render("default"))).not.toHaveProperty("deviceBinding");
    const config = parseInjectionConfig(injectionOf(await render("geoip")));
    expect(config.deviceBinding).toEqual({ clientCertHeader: "X-Client-Cert-Sha256", ja4Header: "X-JA4" });
    const pod = inject(
      { metadata: { name: "web", namespace: "shop" }, spec: { containers: [{ name: "app", image: "app", ports: [{ containerPort: 8080 }] }] } },
      config,
    );
    expect(pod.spec!.initContainers![0]!.env).toEqual(
      expect.arrayContaining([
        { name: "VIGIL_CLIENT_CERT_HEADER", value: "X-Client-Cert-Sha256" },
        { name: "VIGIL_JA4_HEADER", value: "X-JA4" },
      ]),
    );
    const onlyJa4 = parseInjectionConfig(injectionOf(await render("geoip", "--set", "sidecar.deviceBinding.clientCertHeader=")));
    expect(onlyJa4.deviceBinding).toEqual({ clientCertHeader: "", ja4Header: "X-JA4" });
  });

  it("refuse bad device-binding headers in the schema, naming the key", async () => {
    expect(await refusal("geoip", "--set", "sidecar.deviceBinding.clientCertHeader=X Client Cert")).toContain("at '/sidecar/deviceBinding/clientCertHeader'");
    expect(await refusal("geoip", "--set", "sidecar.deviceBinding.ja4Header=x-ja4:")).toContain("at '/sidecar/deviceBinding/ja4Header'");
    expect(await refusal("geoip", "--set", "sidecar.deviceBinding.ja3Header=X-JA3")).toContain("additional properties 'ja3Header' not allowed");
  });

  it("refuse bad signals values in the schema, naming the key", async () => {
    expect(await refusal("signals", "--set", "signals.tls.certManager.issuer=x")).toContain("additional properties 'issuer' not allowed");
    expect(await refusal("signals", "--set-json", 'signals.backChannelLogout[0].algorithms=["HS256"]')).toContain(
      "at '/signals/backChannelLogout/0/algorithms/0'",
    );
    expect(await refusal("signals", "--set", "signals.backChannelLogout[0].jwksUri=http://login.example.com/jwks")).toContain(
      "at '/signals/backChannelLogout/0/jwksUri'",
    );
    const push = {
      name: "x",
      transmitter: "https://t.example",
      audience: "a",
      subjectIssuer: "https://t.example",
      delivery: "push",
      managementTokenFile: "/etc/vigil/signals-secrets/vigil-ssf/m",
    };
    expect(await refusal("signals", "--set-json", `signals.ssf=[${JSON.stringify(push)}]`)).toContain("at '/signals/ssf/0': missing properties");
    expect(await refusal("signals", "--set", "signals.ssf[0].name=Okta")).toContain("at '/signals/ssf/0/name'");
    expect(await refusal("signals", "--set", "signals.service.type=ExternalName")).toContain("at '/signals/service/type'");
    expect(await refusal("signals", "--set", "signals.secrets={vigil.ssf}")).toContain("at '/signals/secrets/0'");
  });

  it("refuse signals values the schema cannot judge, saying what to set", async () => {
    expect(await refusal("default", "--set", "signals.enabled=true")).toContain("configure at least one receiver in signals.backChannelLogout or signals.ssf");
    expect(await refusal("signals", "--set", "signals.tls.existingSecret=idp-facing-tls")).toContain(
      "set exactly one of signals.tls.existingSecret and signals.tls.certManager.enabled",
    );
    expect(await refusal("signals", "--set", "signals.tls.certManager.issuerRef.name=")).toContain("signals.tls.certManager.issuerRef.name is required");
    expect(await refusal("signals", "--set", "signals.ingress.host=")).toContain("signals.ingress.host is required");
    expect(await refusal("signals", "--set", "signals.port=9443")).toContain("signals.port must differ from webhook.port");
    expect(await refusal("signals", "--set", "signals.ssf[1].managementTokenFile=/var/run/token")).toContain(
      "signals.ssf[1].managementTokenFile: /var/run/token is not a file of a Secret in signals.secrets",
    );
  });

  it("refuse bad GeoIP values, naming the key", async () => {
    expect(await refusal("geoip", "--set", "sidecar.geoip.secret=geoip")).toContain("set exactly one of sidecar.geoip.configMap");
    expect(await refusal("geoip", "--set", "sidecar.geoip.persistentVolumeClaim=")).toContain("(set: none)");
    expect(await refusal("geoip", "--set", "sidecar.geoip.cityFile=", "--set", "sidecar.geoip.asnFile=")).toContain(
      "name at least one of sidecar.geoip.cityFile",
    );
    expect(await refusal("geoip", "--set", "sidecar.geoip.cityFile=../../etc/passwd")).toContain("at '/sidecar/geoip/cityFile'");
    expect(await refusal("geoip", "--set", "sidecar.geoip.hostPath=var/lib/geoip")).toContain("at '/sidecar/geoip/hostPath'");
    expect(await refusal("geoip", "--set", "sidecar.geoip.nfs=server:/geoip")).toContain("additional properties 'nfs' not allowed");
  });
});
