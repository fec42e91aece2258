/**
 * `kubectl vigil status` — one screen from what the API exposes: the operator (found through the sessions API's
 * APIService, else --operator-namespace), its version, replicas and Lease holder; the operator's metrics through
 * the API server's pod proxy when RBAC allows; the bus revision from the resources' status; sidecars by namespace;
 * policies; terminations in progress. Each part that cannot be read says why.
 */
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { INJECTION_STATUS_ANNOTATION, INJECTION_STATUS_INJECTED } from "../../operator/api/annotations.ts";
import { SESSIONS_API_SERVICE } from "../../operator/api/sessions/v1alpha1.ts";
import { EXIT } from "../core/exit-codes.ts";
import { asJson, asYaml } from "../core/output.ts";
import { parseMetrics, renderStatus, type MetricsInfo, type OperatorInfo, type Section, type StatusReport } from "../core/status.ts";
import type { Kube } from "../kube/client.ts";
import { ApiError, describeFailure } from "../kube/errors.ts";
import { listAll, listPolicies, listTerminations, type Scope } from "../kube/resources.ts";
import type { Command } from "../command.ts";

async function section<T>(read: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, why: describeFailure(err).message.split("\n")[0] ?? "" };
  }
}

interface ApiService {
  spec?: { service?: { namespace?: string; name?: string } };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const env = (d: V1Deployment, name: string): string | undefined => d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;

/** Where the operator runs (the APIService's Service namespace) and whether the sessions API is Available. */
async function sessionsApiService(kube: Kube, fallbackNamespace: string): Promise<{ namespace: string; sessionsApi: string }> {
  try {
    const svc = await kube.json<ApiService>({ path: `/apis/apiregistration.k8s.io/v1/apiservices/${SESSIONS_API_SERVICE}` });
    const available = svc.status?.conditions?.find((c) => c.type === "Available");
    return {
      namespace: svc.spec?.service?.namespace ?? fallbackNamespace,
      sessionsApi: available?.status === "True" ? "Available" : `not available (${available?.reason ?? "?"}: ${available?.message ?? ""})`,
    };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { namespace: fallbackNamespace, sessionsApi: err.status === 404 ? "not registered (no APIService)" : `unknown (${err.message})` };
  }
}

async function leaseInto(kube: Kube, info: OperatorInfo, namespace: string, name: string): Promise<void> {
  try {
    const lease = await kube.json<{ spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
    });
    const spec = lease.spec ?? {};
    if (spec.holderIdentity !== undefined) info.leader = spec.holderIdentity;
    if (spec.renewTime !== undefined) info.leaseRenewed = spec.renewTime;
    if (spec.leaseDurationSeconds !== undefined) info.leaseDurationSeconds = spec.leaseDurationSeconds;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    info.leader = `unknown (Lease ${namespace}/${name}: ${err.message})`;
  }
}

function versionOf(d: V1Deployment): string {
  const image = d.spec?.template.spec?.containers[0]?.image ?? "";
  return d.metadata?.labels?.["app.kubernetes.io/version"] ?? (image.includes(":") ? image.slice(image.lastIndexOf(":") + 1) : "unknown");
}

async function operatorInfo(kube: Kube, fallbackNamespace: string): Promise<{ info: OperatorInfo; adminPort?: number }> {
  const { namespace, sessionsApi } = await sessionsApiService(kube, fallbackNamespace);
  const deployments = await kube.json<{ items: V1Deployment[] }>({
    path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
    query: { labelSelector: "app.kubernetes.io/component=operator" },
  });
  const d = deployments.items[0];
  if (d === undefined) throw new Error(`no vigil-operator Deployment in namespace ${namespace} (use --operator-namespace)`);
  const info: OperatorInfo = {
    namespace,
    deployment: d.metadata?.name ?? "",
    version: versionOf(d),
    replicas: `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`,
    sessionsApi,
  };
  await leaseInto(kube, info, env(d, "VIGIL_LEASE_NAMESPACE") ?? namespace, env(d, "VIGIL_LEASE_NAME") ?? "vigil-operator");
  const admin = Number(env(d, "VIGIL_ADMIN_PORT"));
  return { info, ...(Number.isInteger(admin) && admin > 0 ? { adminPort: admin } : {}) };
}

/** The leader pod's /metrics and /readyz through the API server's pod proxy (needs `get pods/proxy`). */
async function metrics(kube: Kube, info: OperatorInfo, adminPort: number | undefined): Promise<MetricsInfo> {
  if (info.leader === undefined || info.leader.startsWith("unknown")) throw new Error("no leader to ask");
  if (adminPort === undefined) throw new Error("the operator's admin port is not in its Deployment");
  const base = `/api/v1/namespaces/${info.namespace}/pods/${encodeURIComponent(info.leader)}:${adminPort}/proxy`;
  const text = await kube.text({ path: `${base}/metrics`, accept: "text/plain" });
  const ready = await kube
    .text({ path: `${base}/readyz`, accept: "text/plain" })
    .catch((err: unknown) => `not ready (${describeFailure(err).message.split("\n")[0] ?? ""})`);
  return { ...parseMetrics(text), ready: ready.trim() };
}

async function injectedPods(kube: Kube, scope: Scope): Promise<{ namespace: string; ready: boolean }[]> {
  const path = scope === null ? "/api/v1/pods" : `/api/v1/namespaces/${scope}/pods`;
  const pods = await listAll<V1Pod>(kube, path);
  return pods.items
    .filter((p) => p.metadata?.annotations?.[INJECTION_STATUS_ANNOTATION] === INJECTION_STATUS_INJECTED)
    .map((p) => ({ namespace: p.metadata?.namespace ?? "", ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false }));
}

export async function gatherStatus(kube: Kube, scope: Scope, operatorNamespace: string): Promise<StatusReport> {
  const op = await section(() => operatorInfo(kube, operatorNamespace));
  const operator: Section<OperatorInfo> = op.ok ? { ok: true, value: op.value.info } : op;
  const m: Section<MetricsInfo> = op.ok
    ? await section(() => metrics(kube, op.value.info, op.value.adminPort))
    : { ok: false, why: "the operator was not found" };
  return {
    operator,
    metrics: m.ok
      ? m
      : { ok: false, why: `${m.why} (operator metrics are read through the API server's pod proxy, which needs get pods/proxy in the operator's namespace)` },
    policies: await section(async () => (await listPolicies(kube, scope)).items),
    terminations: await section(async () => (await listTerminations(kube, scope)).items),
    pods: await section(() => injectedPods(kube, scope)),
  };
}

export const statusCommand: Command = {
  name: "status",
  summary: "Operator, bus, sidecars, policies and terminations on one screen",
  help: `One screen: the operator (version, replicas, Lease holder, the sessions API), its metrics when your RBAC lets
the API server proxy to it, the bus revision, sidecars by namespace (pods injected and ready; sidecars the policies
select and that enforce their latest revision), policies with Accepted/Ready, and terminations in progress.

Usage:
  kubectl vigil status [-n NS | -A] [--operator-namespace NS] [-o table|json|yaml]

Flags:
      --operator-namespace NS   where vigil-operator runs when the sessions API's APIService cannot be read (default vigil-system)

Examples:
  kubectl vigil status -A
  kubectl vigil status -n shop -o yaml`,
  options: { "operator-namespace": { type: "string" } },
  formats: ["table", "json", "yaml"],
  async run(ctx) {
    const opNs = ctx.parsed.values["operator-namespace"];
    const report = await gatherStatus(ctx.kube(), ctx.scope(), typeof opNs === "string" ? opNs : "vigil-system");
    const format = ctx.parsed.global.output ?? "table";
    if (format === "json") ctx.io.out(asJson(report));
    else if (format === "yaml") ctx.io.out(asYaml(report));
    else ctx.io.out(renderStatus(report, Date.now()));
    return EXIT.ok;
  },
};
