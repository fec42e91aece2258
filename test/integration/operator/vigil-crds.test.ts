/**
 * The runtime pieces on the real Vigil CRDs (crds/): an informer over AccessPolicies, the bus-cleanup finalizer
 * and a KEP-1623 status written through the status subresource — what the AccessPolicy reconciler will do.
 */
import { join } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { kubectlOk } from "../support/kubectl.ts";
import { ACCESS_POLICY, GROUP, VERSION } from "../../../operator/api/v1alpha1/index.ts";
import type { AccessPolicy, AccessPolicyStatus } from "../../../operator/api/v1alpha1/index.ts";
import { Informer } from "../../../operator/kube/informer.ts";
import { customObjectSource } from "../../../operator/kube/sources.ts";
import { addFinalizer, hasFinalizer } from "../../../operator/kube/finalizer.ts";
import { getCustomObject, updateStatus } from "../../../operator/kube/status.ts";
import { createNamespace, kubeConfig, quietLog } from "./kube-support.ts";

const env = clusterEnv();
const kc = kubeConfig(env);
const repo = join(import.meta.dirname, "../../..");

beforeAll(async () => {
  await kubectlOk(env, ["apply", "--server-side", "-f", join(repo, "crds")]);
  await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
});

describe("runtime on the Vigil CRDs", () => {
  it("watches an AccessPolicy, adds the finalizer and writes its status only when it changes", async () => {
    const ns = await createNamespace(env);
    const keys: string[] = [];
    const informer = new Informer({
      kc,
      source: customObjectSource(kc, { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural }),
      onKey: (key) => keys.push(key),
      log: quietLog,
      resyncMs: 0,
    });
    informer.start();
    try {
      await informer.waitForSync();
      await vi.waitFor(() => kubectlOk(env, ["apply", "-f", join(repo, "crds/examples/valid/accesspolicy-allow-by-group.yaml")], { namespace: ns }), {
        timeout: 15_000,
      });
      const key = `${ns}/web-engineers`;
      await vi.waitFor(() => {
        expect(keys).toContain(key);
      });

      const ref = { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural, namespace: ns, name: "web-engineers" };
      const api = kc.makeApiClient(CustomObjectsApi);
      const withFinalizer = await addFinalizer(api, ref, "vigil.dev/bus-cleanup");
      expect(withFinalizer !== undefined && hasFinalizer(withFinalizer, "vigil.dev/bus-cleanup")).toBe(true);

      const status = (policy: AccessPolicy): AccessPolicyStatus => ({
        observedGeneration: policy.metadata.generation ?? 0,
        busRevision: 7,
        conditions: [
          {
            type: "Accepted",
            status: "True",
            observedGeneration: policy.metadata.generation ?? 0,
            lastTransitionTime: "2026-01-01T00:00:00Z",
            reason: "Compiled",
            message: "1 rule",
          },
        ],
      });
      const first = await updateStatus(api, ref, (obj) => status(obj as unknown as AccessPolicy));
      expect(first.changed).toBe(true);
      const written = (await getCustomObject(api, ref)) as unknown as AccessPolicy;
      expect(written.status?.conditions?.[0]).toMatchObject({ type: "Accepted", status: "True", reason: "Compiled" });
      const second = await updateStatus(api, ref, (obj) => status(obj as unknown as AccessPolicy));
      expect(second.changed).toBe(false);
      expect(((await getCustomObject(api, ref)) as unknown as AccessPolicy).metadata.resourceVersion).toBe(written.metadata.resourceVersion);
      await vi.waitFor(() => {
        expect(informer.get(key)?.metadata?.resourceVersion).toBe(written.metadata.resourceVersion);
      });
    } finally {
      await informer.stop();
    }
  });
});
