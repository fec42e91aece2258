/**
 * The end-to-end benchmark rig: the test control plane (real etcd + kube-apiserver + kube-controller-manager +
 * redis-server from test/cluster/harness.ts), the real CRDs applied with kubectl, vigil-operator as a real process
 * and N real `vigil-sidecar` processes of one workload (same namespace, same labels, same session key) in front of
 * one upstream app and one TCP echo service, and an AccessPolicy applied with kubectl. Both programs run as the image
 * runs them: the built `dist/<program>/main.js` with the Node flags of the chart's default values (helm template).
 * Every process is registered with bench/support/children.ts and stopped by its PID.
 */
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { AccessPolicy, SessionTermination } from "../../operator/api/v1alpha1/index.ts";
import { startCluster, type Cluster } from "../../test/cluster/harness.ts";
import { createIssuer, startUpstreamApp, type Issuer, type UpstreamApp } from "../../test/integration/sidecar/proxy-harness.ts";
import { ensureNamespace, kubectl, kubectlOk, type KubectlResult } from "../../test/integration/support/kubectl.ts";
import { chartDeployment, type ChartDeployment } from "../support/chart.ts";
import type { Child } from "../support/children.ts";
import { startBenchOperator } from "../support/operator-process.ts";
import { startBenchSidecar, startEcho, type BenchSidecar } from "../support/rig.ts";

const repo = resolve(import.meta.dirname, "../..");
export const NAMESPACE = "shop";
export const LABELS = { app: "shop", tier: "web" };
export const POLICY_NAME = "shop-e2e";
const ISSUER_URL = "https://idp.vigil.test";
const AUDIENCE = "vigil-sidecar";

export interface E2eSidecar extends BenchSidecar {
  name: string;
}

export interface Rig {
  cluster: Cluster;
  operator: Child;
  sidecars: E2eSidecar[];
  upstream: UpstreamApp;
  echoPort: number;
  issuer: Issuer;
  sessionKey: Buffer;
  prefix: string;
  chart: ChartDeployment;
  objects: CustomObjectsApi;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
}

let cluster: Cluster | undefined;
let upstream: UpstreamApp | undefined;
let operatorGone: string | undefined;

/** Throws when the operator process has exited (its figures would be meaningless). */
export function assertOperatorRunning(): void {
  if (operatorGone !== undefined) throw new Error(operatorGone);
}

/** Brings everything up; `log` gets one line per step. */
export async function startRig(sidecarCount: number, log: (line: string) => void): Promise<Rig> {
  let t = performance.now();
  const step = (what: string): void => {
    log(`  ${what} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    t = performance.now();
  };
  cluster = await startCluster();
  const env = cluster.env;
  step("control plane up: etcd, kube-apiserver, kube-controller-manager, redis-server");
  const run = (args: string[], input?: string): Promise<KubectlResult> =>
    kubectl(env, args, { namespace: NAMESPACE, ...(input === undefined ? {} : { input }) });

  await kubectlOk(env, ["apply", "--server-side", "--force-conflicts", "-f", join(repo, "crds")]);
  await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
  await ensureNamespace(env, NAMESPACE);
  step("CRDs applied with kubectl, namespace created");

  const prefix = `vigil-e2e-${randomBytes(3).toString("hex")}:`;
  const chart = await chartDeployment();
  const sessionKey = randomBytes(32);
  const operator = await startBenchOperator({
    kubeconfig: env.kubeconfig,
    redisUrl: env.redisUrl,
    prefix,
    namespace: NAMESPACE,
    nodeArgs: chart.operator.nodeArgs,
    sessionKey,
    env: {
      VIGIL_IDENTITY: "bench-e2e-operator",
      VIGIL_RESYNC_SECONDS: "5",
      VIGIL_TERMINATION_TIMEOUT_SECONDS: "30",
      VIGIL_HEARTBEAT_MAX_AGE_SECONDS: "3",
      // The chart's defaults: a renew deadline of a few seconds is lost while the sidecars start on two cores, and
      // an operator that loses its lease exits by design.
      VIGIL_LEASE_DURATION_SECONDS: "15",
      VIGIL_RENEW_DEADLINE_SECONDS: "10",
      VIGIL_RETRY_PERIOD_SECONDS: "2",
    },
  });
  await operator.nextLine((l) => l.includes("leading: starting controllers"), 60_000);
  void operator.exited.then(() => {
    operatorGone = `vigil-operator exited (${String(operator.proc.exitCode ?? operator.proc.signalCode)}); stderr:\n${operator.stderr().slice(-4_000)}`;
  });
  step("vigil-operator leading");

  upstream = await startUpstreamApp();
  const echo = await startEcho();
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  const rig: Rig = {
    cluster,
    operator,
    sidecars: [],
    upstream,
    echoPort: echo.port,
    issuer: await createIssuer(),
    sessionKey,
    prefix,
    chart,
    objects: kc.makeApiClient(CustomObjectsApi),
    kubectl: run,
  };
  await addSidecars(rig, sidecarCount);
  step(`${sidecarCount} vigil-sidecar processes ready`);
  return rig;
}

/** Starts `count` more sidecars of the workload (five at a time: all at once would starve the two cores). */
export async function addSidecars(rig: Rig, count: number): Promise<void> {
  const first = rig.sidecars.length;
  for (let i = 0; i < count; i += 5) {
    const batch = Array.from({ length: Math.min(5, count - i) }, (_, j) => startSidecar(rig, `shop-${String(first + i + j).padStart(3, "0")}`));
    rig.sidecars.push(...(await Promise.all(batch)));
  }
}

async function startSidecar(rig: Rig, name: string): Promise<E2eSidecar> {
  const sidecar = await startBenchSidecar({
    name,
    namespace: NAMESPACE,
    labels: LABELS,
    redisUrl: rig.cluster.env.redisUrl,
    prefix: rig.prefix,
    upstreamPort: rig.upstream.port,
    issuer: { issuer: ISSUER_URL, audience: AUDIENCE, jwks: rig.issuer.jwks },
    sessionKey: rig.sessionKey,
    nodeArgs: rig.chart.sidecar.nodeArgs,
    readyTimeoutMs: 60_000,
    // One heartbeat a second (the operator counts a sidecar live for 3 s): 100 sidecars at the test default of
    // 300 ms would be 333 Redis writes a second on the shared cores.
    env: { VIGIL_HEARTBEAT_INTERVAL_MS: "1000" },
  });
  return { name, ...sidecar };
}

/** Stops the upstream app and the control plane (the children are stopped by children.ts's stopAll). */
export async function stopRig(): Promise<void> {
  const u = upstream;
  const c = cluster;
  upstream = undefined;
  cluster = undefined;
  await u?.close().catch(() => undefined);
  await c?.stop();
}

/** The benchmark policy: engineers may GET and tunnel to the echo port; with `ops`, group ops may tunnel too. */
export function policyManifest(echoPort: number, ops: boolean): string {
  const opsRule = ops
    ? `
    - name: ops-tunnel
      action: Allow
      identities:
        - group: ops
      requests:
        - methods: [CONNECT]
          ports: [${echoPort}]`
    : "";
  return `apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: ${POLICY_NAME}
  namespace: ${NAMESPACE}
spec:
  selector:
    matchLabels:
      app: ${LABELS.app}
  failureMode: BestEffort
  rules:
    - name: engineers-read
      action: Allow
      identities:
        - group: engineers
      requests:
        - methods: [GET]
          paths: ["/*"]
    - name: engineers-tunnel
      action: Allow
      identities:
        - group: engineers
      requests:
        - methods: [CONNECT]
          ports: [${echoPort}]${opsRule}
`;
}

/** What a benchmark termination ends: one user's sessions, or every session of a group's members. */
export type TerminationTarget = { subject: string } | { group: string };

export function terminationManifest(name: string, target: TerminationTarget): string {
  const [field, value] = "subject" in target ? ["subject", target.subject] : ["group", target.group];
  return `apiVersion: vigil.dev/v1alpha1
kind: SessionTermination
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
spec:
  target:
    ${field}: ${value}
  reason: bench:e2e round
`;
}

const GVK = { group: "vigil.dev", version: "v1alpha1", namespace: NAMESPACE };

export async function getPolicy(rig: Rig): Promise<AccessPolicy> {
  return (await rig.objects.getNamespacedCustomObject({ ...GVK, plural: "accesspolicies", name: POLICY_NAME })) as AccessPolicy;
}

export async function getTermination(rig: Rig, name: string): Promise<SessionTermination> {
  return (await rig.objects.getNamespacedCustomObject({ ...GVK, plural: "sessionterminations", name })) as SessionTermination;
}

/** Ready=True for the current generation; with `enforcing`, also that many sidecars report having applied it. */
export async function waitPolicyReady(rig: Rig, enforcing: number | undefined, timeoutMs: number): Promise<AccessPolicy> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertOperatorRunning();
    const p = await getPolicy(rig);
    const ready = p.status?.conditions?.find((c) => c.type === "Ready");
    const current = p.status?.observedGeneration === p.metadata.generation && ready?.status === "True";
    if (current && (enforcing === undefined || p.status?.enforcingSidecars === enforcing)) return p;
    if (Date.now() > deadline) throw new Error(`AccessPolicy ${POLICY_NAME} not ready in ${timeoutMs} ms; status ${JSON.stringify(p.status ?? {})}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
