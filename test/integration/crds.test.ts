/**
 * The CRDs on a real kube-apiserver: they install and become Established, every manifest in
 * crds/examples/valid is accepted and reads back, every manifest in crds/examples/invalid is refused with the
 * message its `# expect:` line names (a file with two documents: the first is created, the second applied as an
 * update and refused), and kubectl shows the printer columns and the `vigil` category.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterEnv, type ClusterEnv } from "../cluster/env.ts";
import { applyServerSide, ensureNamespace, kubectl, kubectlJson, kubectlOk } from "./support/kubectl.ts";

const root = resolve(import.meta.dirname, "../..");
const examples = join(root, "crds/examples");
const ns = "crds-test";

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** A minimal SessionTermination of subject "mallory". */
const termination = (name: string): string => `apiVersion: vigil.dev/v1alpha1
kind: SessionTermination
metadata:
  name: ${name}
spec:
  target:
    subject: mallory
  reason: Test
`;

const files = (dir: string): string[] =>
  readdirSync(join(examples, dir))
    .filter((f) => f.endsWith(".yaml"))
    .sort();

/** An invalid example: the text the user must see, and one or two documents (setup, then the refused one). */
function invalidExample(file: string): { expectText: string; documents: string[] } {
  const text = readFileSync(join(examples, "invalid", file), "utf8");
  const expectText = /^# expect: (.+)$/m.exec(text.split("\n")[0] ?? "")?.[1];
  if (expectText === undefined) throw new Error(`${file}: first line must be "# expect: <message>"`);
  return { expectText, documents: parseAllDocuments(text).map((d) => d.toString()) };
}

describe("the Vigil CRDs on a real API server", () => {
  let env: ClusterEnv;

  beforeAll(async () => {
    env = clusterEnv();
    await kubectlOk(env, ["apply", "--server-side", "-f", join(root, "crds")]);
    await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=60s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
    await ensureNamespace(env, ns);
  });

  it("installs both CRDs with the short names and category users type", async () => {
    const out = await kubectlOk(env, ["api-resources", "--api-group=vigil.dev", "--no-headers"]);
    expect(out).toMatch(/^accesspolicies\s+ap\s+vigil\.dev\/v1alpha1\s+true\s+AccessPolicy$/m);
    expect(out).toMatch(/^sessionterminations\s+st\s+vigil\.dev\/v1alpha1\s+true\s+SessionTermination$/m);
  });

  describe("valid examples", () => {
    it.each(files("valid"))("accepts %s and reads it back unchanged", async (file) => {
      const text = readFileSync(join(examples, "valid", file), "utf8");
      const manifest = parse(text) as Manifest;
      const applied = await applyServerSide(env, text, { namespace: ns });
      expect(applied.stderr).toBe("");
      expect(applied.code).toBe(0);
      const stored = await kubectlJson<Manifest>(env, ["get", manifest.kind, manifest.metadata.name], { namespace: ns });
      expect(stored.spec).toMatchObject(manifest.spec);
    });

    it("fills in the documented defaults: Strict failure mode, 30m idle and 8h absolute timeouts, UTC schedules", async () => {
      const policy = `apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: defaults
spec:
  selector: {}
  rules:
    - name: office-hours
      action: Allow
      schedule:
        windows: [{start: "09:00", end: "17:00"}]
`;
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], { input: policy, namespace: ns });
      const stored = await kubectlJson<Manifest>(env, ["get", "accesspolicy", "defaults"], { namespace: ns });
      expect(stored.spec).toMatchObject({
        failureMode: "Strict",
        session: { idleTimeout: "30m", absoluteTimeout: "8h" },
        rules: [{ schedule: { timeZone: "UTC" } }],
      });
    });
  });

  describe("invalid examples", () => {
    it.each(files("invalid"))("refuses %s with the message a user needs", async (file) => {
      const { expectText, documents } = invalidExample(file);
      const refused = documents.at(-1)!;
      for (const setup of documents.slice(0, -1)) {
        const created = await applyServerSide(env, setup, { namespace: ns });
        expect(created.stderr).toBe("");
      }
      const result = await applyServerSide(env, refused, { namespace: ns });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(expectText);
    });
  });

  describe("a SessionTermination", () => {
    it("keeps its spec but lets labels and status change", async () => {
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], { input: termination("labels-and-status"), namespace: ns });
      await kubectlOk(env, ["label", "sessiontermination", "labels-and-status", "ticket=SEC-1"], { namespace: ns });
      await kubectlOk(
        env,
        ["patch", "sessiontermination", "labels-and-status", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Propagating"}}'],
        { namespace: ns },
      );
      const edited = await kubectl(env, ["patch", "sessiontermination", "labels-and-status", "--type=merge", "-p", '{"spec":{"reason":"Changed"}}'], {
        namespace: ns,
      });
      expect(edited.code).not.toBe(0);
      expect(edited.stderr).toContain("spec: Invalid value: spec is immutable");
    });
  });

  describe("kubectl get", () => {
    it("shows an AccessPolicy's Accepted, Ready, Revision and Enforcing columns from its status", async () => {
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], {
        namespace: ns,
        input: "apiVersion: vigil.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: columns\nspec:\n  selector: {}\n  rules: [{name: all, action: Allow}]\n",
      });
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const condition = (type: string, status: string) => ({ type, status, reason: "Published", message: "", lastTransitionTime: now, observedGeneration: 1 });
      const status = {
        observedGeneration: 1,
        busRevision: 42,
        enforcingSidecars: 3,
        selectedSidecars: 4,
        conditions: [condition("Accepted", "True"), condition("Ready", "False")],
      };
      await kubectlOk(env, ["patch", "accesspolicy", "columns", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })], { namespace: ns });

      const table = await kubectlOk(env, ["get", "ap", "columns"], { namespace: ns });
      expect(table.split("\n")[0]).toMatch(/^NAME\s+ACCEPTED\s+READY\s+REVISION\s+ENFORCING\s+AGE$/);
      expect(table).toMatch(/^columns\s+True\s+False\s+42\s+3\s+\S+$/m);
      const wide = await kubectlOk(env, ["get", "ap", "columns", "-o", "wide"], { namespace: ns });
      expect(wide).toMatch(/^columns\s+True\s+False\s+42\s+3\s+4\s+Published\s+\S+$/m);
    });

    it("shows a SessionTermination's Target, Phase, Sessions, Connections and Acked columns", async () => {
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], { input: termination("columns"), namespace: ns });
      const status = { phase: "Completed", sessionsTerminated: 2, connectionsClosed: 5, sidecarsAcknowledged: 3, sidecarsExpected: 3 };
      await kubectlOk(env, ["patch", "st", "columns", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })], { namespace: ns });

      const table = await kubectlOk(env, ["get", "st", "columns"], { namespace: ns });
      expect(table.split("\n")[0]).toMatch(/^NAME\s+TARGET\s+PHASE\s+SESSIONS\s+CONNECTIONS\s+ACKED\s+AGE$/);
      expect(table).toMatch(/^columns\s+\{"subject":"mallory"\}\s+Completed\s+2\s+5\s+3\s+\S+$/m);
    });

    it("lists both kinds with their headers under `kubectl get accesspolicies,sessionterminations`", async () => {
      const out = await kubectlOk(env, ["get", "accesspolicies,sessionterminations"], { namespace: ns });
      expect(out).toMatch(/^NAME\s+ACCEPTED\s+READY\s+REVISION\s+ENFORCING\s+AGE$/m);
      expect(out).toMatch(/^NAME\s+TARGET\s+PHASE\s+SESSIONS\s+CONNECTIONS\s+ACKED\s+AGE$/m);
    });

    it("lists both kinds under the vigil category", async () => {
      const category = `${ns}-category`;
      await ensureNamespace(env, category);
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], { input: termination("in-category"), namespace: category });
      await kubectlOk(env, ["apply", "--server-side", "-f", "-"], {
        namespace: category,
        input:
          "apiVersion: vigil.dev/v1alpha1\nkind: AccessPolicy\nmetadata:\n  name: in-category\nspec:\n  selector: {}\n  rules: [{name: all, action: Allow}]\n",
      });
      const out = await kubectlOk(env, ["get", "vigil"], { namespace: category });
      expect(out).toMatch(/^accesspolicy\.vigil\.dev\/in-category\s/m);
      expect(out).toMatch(/^sessiontermination\.vigil\.dev\/in-category\s/m);
    });
  });
});
