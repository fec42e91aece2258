import { describe, expect, it } from "vitest";
import { injectionDecision, REASONS, type Reason } from "../../../../operator/webhook/decision.ts";
import { inject } from "../../../../operator/webhook/inject.ts";
import { goldenConfig, pod, withAnnotation, withHostNetwork, withLabel, withPorts, withVolume } from "./support.ts";

const cfg = goldenConfig();
const optedIn = { name: "team-a", labels: { "vigil.dev/injection": "enabled" } };
const plain = { name: "plain", labels: {} };

describe("injectionDecision", () => {
  it("injects a pod with a declared port in an opted-in namespace, resolving the upstream port", () => {
    const d = injectionDecision(pod(withPorts(8080)), optedIn, cfg);
    expect(d).toMatchObject({ action: "inject", inject: true, reasons: ["namespace_enabled"], upstreamPort: 8080 });
  });

  it("injects a pod that opts in by label from a namespace that is not labelled", () => {
    const d = injectionDecision(pod(withPorts(8080), withLabel("vigil.dev/inject", "true")), plain, cfg);
    expect(d).toMatchObject({ action: "inject", reasons: ["pod_enabled"] });
  });

  it("honours the opt-in annotation too when the webhook is called", () => {
    expect(injectionDecision(pod(withPorts(8080), withAnnotation("vigil.dev/inject", "true")), plain, cfg).action).toBe("inject");
  });

  it.each(["kube-system", "kube-node-lease", "kube-public", "vigil-system"])("never injects into the protected namespace %s, even when labelled", (name) => {
    const d = injectionDecision(pod(withPorts(8080), withLabel("vigil.dev/inject", "true")), { name, labels: optedIn.labels }, cfg);
    expect(d).toMatchObject({ action: "skip", reasons: ["protected_namespace"] });
  });

  it("treats the configured system namespace as protected", () => {
    const d = injectionDecision(pod(withPorts(8080)), { name: "vigil-system", labels: optedIn.labels }, cfg);
    expect(d.reasons).toEqual(["protected_namespace"]);
  });

  it("skips when neither the namespace nor the pod opts in (a namespace label value other than enabled does not count)", () => {
    expect(injectionDecision(pod(withPorts(8080)), plain, cfg).reasons).toEqual(["injection_not_enabled"]);
    expect(injectionDecision(pod(withPorts(8080)), { name: "x", labels: { "vigil.dev/injection": "disabled" } }, cfg).reasons).toEqual([
      "injection_not_enabled",
    ]);
    expect(injectionDecision(pod(withPorts(8080)), { name: "x" }, cfg).reasons).toEqual(["injection_not_enabled"]);
  });

  it("skips a pod that opts out, by annotation or by label, and the label wins over the annotation", () => {
    expect(injectionDecision(pod(withPorts(8080), withAnnotation("vigil.dev/inject", "false")), optedIn, cfg).reasons).toEqual(["pod_opted_out"]);
    expect(injectionDecision(pod(withPorts(8080), withLabel("vigil.dev/inject", "false")), optedIn, cfg).reasons).toEqual(["pod_opted_out"]);
    const both = pod(withPorts(8080), withLabel("vigil.dev/inject", "true"), withAnnotation("vigil.dev/inject", "false"));
    expect(injectionDecision(both, optedIn, cfg).action).toBe("inject");
  });

  it("skips a pod that already has the sidecar (idempotent)", () => {
    const injected = inject(pod(withPorts(8080)), cfg);
    expect(injectionDecision(injected, optedIn, cfg)).toMatchObject({ action: "skip", reasons: ["already_injected"] });
  });

  it("skips a host-network pod with the reason, and reports every skip reason at once", () => {
    expect(injectionDecision(pod(withPorts(8080), withHostNetwork), optedIn, cfg).reasons).toEqual(["host_network"]);
    const both = pod(withPorts(8080), withHostNetwork, withAnnotation("vigil.dev/inject", "false"));
    expect(injectionDecision(both, optedIn, cfg).reasons).toEqual(["pod_opted_out", "host_network"]);
  });

  it("refuses an opted-in pod whose application port cannot be determined, saying how to fix it", () => {
    const d = injectionDecision(pod(), optedIn, cfg);
    expect(d).toMatchObject({ action: "refuse", inject: false, reasons: ["no_upstream_port"] });
    expect(d.message).toContain("set the annotation vigil.dev/upstream-port or declare a containerPort");
  });

  it("refuses a pod whose only declared ports are UDP", () => {
    expect(injectionDecision(pod(withPorts({ containerPort: 53, protocol: "UDP" })), optedIn, cfg).reasons).toEqual(["no_upstream_port"]);
  });

  it.each(["0", "65536", "80800", "http", "", " 80", "-1"])("refuses the invalid upstream-port annotation %j, quoting it", (value) => {
    const d = injectionDecision(pod(withPorts(8080), withAnnotation("vigil.dev/upstream-port", value)), optedIn, cfg);
    expect(d.reasons).toEqual(["invalid_upstream_port"]);
    expect(d.message).toContain(`got ${JSON.stringify(value)}`);
  });

  it("accepts an upstream-port annotation that is a number or the name of a declared port", () => {
    expect(injectionDecision(pod(withAnnotation("vigil.dev/upstream-port", "3000")), optedIn, cfg).upstreamPort).toBe(3000);
    const named = pod(
      withPorts({ name: "admin", containerPort: 9000 }, { name: "web", containerPort: 8000 }),
      withAnnotation("vigil.dev/upstream-port", "web"),
    );
    expect(injectionDecision(named, optedIn, cfg).upstreamPort).toBe(8000);
  });

  it("refuses an invalid vigil.dev/inject value in an opted-in namespace", () => {
    const d = injectionDecision(pod(withPorts(8080), withAnnotation("vigil.dev/inject", "yes")), optedIn, cfg);
    expect(d).toMatchObject({ action: "refuse", reasons: ["invalid_inject_value"] });
    expect(d.message).toContain('got "yes"');
  });

  it("refuses when the application uses the sidecar's listen or admin port", () => {
    const d = injectionDecision(pod(withPorts(8080, 15090)), optedIn, cfg);
    expect(d.reasons).toEqual(["port_conflict"]);
    expect(d.message).toContain("port 15090");
    expect(injectionDecision(pod(withAnnotation("vigil.dev/upstream-port", "15080")), optedIn, cfg).reasons).toEqual(["port_conflict"]);
  });

  it("refuses when the pod already has a volume named like one of the sidecar's", () => {
    const d = injectionDecision(pod(withPorts(8080), withVolume("vigil-tmp")), optedIn, cfg);
    expect(d.reasons).toEqual(["name_conflict"]);
    expect(d.message).toContain("vigil-tmp");
  });

  it("reports every refusal reason at once", () => {
    expect(injectionDecision(pod(withVolume("vigil-tmp")), optedIn, cfg).reasons).toEqual(["no_upstream_port", "name_conflict"]);
  });

  it("has a sentence for every reason code, and codes are snake_case", () => {
    for (const [code, sentence] of Object.entries(REASONS) as [Reason, string][]) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(sentence.length).toBeGreaterThan(20);
    }
  });

  it("does not modify the pod it decides on", () => {
    const p = pod(withPorts(8080), withAnnotation("vigil.dev/upstream-port", "8080"));
    const before = structuredClone(p);
    injectionDecision(p, optedIn, cfg);
    expect(p).toEqual(before);
  });
});
