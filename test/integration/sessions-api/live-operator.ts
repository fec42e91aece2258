/**
 * vigil-operator installed by the chart and run for real, for journeys that read sessions through kubectl: `helm
 * install` (Redis external, the bus under its own prefix, plus the caller's values), then `operator/main.ts` as a
 * local process from the installed Deployment's environment (local-operator.ts: controllers, injection webhook,
 * sessions API and audit ingest) with the chart's ServiceAccount; the MutatingWebhookConfiguration pointed at its
 * webhook port and the chart's Service routed to its sessions API port (service-route.ts), so that kube-apiserver's
 * aggregation layer reaches this process. Sessions then come only from what injected sidecars report on `P audit`.
 *
 * `stop()` stops the process (by its PID), unroutes the Service, uninstalls the release and deletes its namespace;
 * delete AccessPolicies before it (their finalizers need the running operator).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import type { ClusterEnv } from "../../cluster/env.ts";
import { routeService } from "../../cluster/service-route.ts";
import { chartDir, helm, helmOk, objectsOf, type K8sObject } from "../chart/helm.ts";
import { localOperatorConfig, type LocalOperatorConfig } from "../e2e/local-operator.ts";
import { kubectl, kubectlJson, kubectlOk } from "../support/kubectl.ts";
import { startLocalProcess, type LocalProcess } from "../support/local-process.ts";
import { waitForAvailable } from "./rig.ts";

export interface LiveOperator {
  release: string;
  /** The release's namespace. */
  system: string;
  /** The bus (and audit stream) key prefix. */
  prefix: string;
  /** The objects the chart rendered. */
  manifest: K8sObject[];
  config: LocalOperatorConfig;
  process: LocalProcess;
  stop(): Promise<void>;
}

export interface LiveOperatorOptions {
  release: string;
  system: string;
  /** Merged (top level) over `redis` (external, the test Redis) and `bus.prefix` (`<release>:`). */
  values?: Record<string, unknown>;
}

const waitFor = <T>(fn: () => Promise<T> | T, timeout = 30_000): Promise<T> => vi.waitFor(fn, { timeout, interval: 250 });

async function tcpReachable(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

export async function startLiveOperator(env: ClusterEnv, opts: LiveOperatorOptions): Promise<LiveOperator> {
  const { release, system } = opts;
  const dir = await mkdtemp(join(tmpdir(), "vigil-live-operator-"));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const values: Record<string, unknown> = { redis: { mode: "external", external: { url: env.redisUrl } }, bus: { prefix: `${release}:` }, ...opts.values };
    const prefix = (values["bus"] as { prefix?: string } | undefined)?.prefix ?? "";
    await writeFile(join(dir, "values.json"), JSON.stringify(values));
    cleanups.push(async () => {
      await helm(env, ["uninstall", release, "-n", system, "--timeout", "60s"]);
      await kubectl(env, ["delete", "namespace", system, "--wait=false"]);
    });
    await helmOk(
      env,
      ["install", release, chartDir, "-n", system, "--create-namespace", "--take-ownership", "-f", join(dir, "values.json"), "--timeout", "60s"],
      90_000,
    );
    const manifest = objectsOf(await helmOk(env, ["get", "manifest", release, "-n", system]));
    const named = (kind: string, suffix = ""): K8sObject => {
      const found = manifest.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
      if (found === undefined) throw new Error(`the chart rendered no ${kind}`);
      return found;
    };

    const config = await localOperatorConfig(env, system, named("Deployment", "-operator").metadata.name, dir);
    if (config.sessionsApiPort === 0) throw new Error("the chart's operator does not serve the sessions API");
    const proc = startLocalProcess("operator/main.ts", config.env);
    cleanups.push(() => proc.stop());
    await waitFor(async () => {
      if (!proc.running()) throw new Error(`operator exited:\n${proc.output()}`);
      const ready = await fetch(`http://127.0.0.1:${config.adminPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready || !(await tcpReachable(config.webhookPort)) || !(await tcpReachable(config.sessionsApiPort))) throw new Error("operator not ready");
    }, 60_000);

    // The injection webhook and the sessions API: both reach this process.
    const webhookName = named("MutatingWebhookConfiguration").metadata.name;
    const webhooks = await waitFor(async () => {
      const mwc = await kubectlJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(env, ["get", "mutatingwebhookconfiguration", webhookName]);
      if ((mwc.webhooks[0]?.clientConfig.caBundle ?? "") === "") throw new Error("caBundle not set yet");
      return mwc.webhooks;
    });
    const caBundle = webhooks[0]?.clientConfig.caBundle ?? "";
    const url = `https://127.0.0.1:${config.webhookPort}/mutate-pods`;
    const patch = webhooks.map((_, i) => ({ op: "replace", path: `/webhooks/${i}/clientConfig`, value: { url, caBundle } }));
    await kubectlOk(env, ["patch", "mutatingwebhookconfiguration", webhookName, "--type=json", "-p", JSON.stringify(patch)]);
    const unroute = await routeService(env, { namespace: system, name: config.env["VIGIL_WEBHOOK_SERVICE_NAME"] ?? "", port: 8443 }, config.sessionsApiPort);
    cleanups.push(unroute);
    await waitForAvailable(env);

    return { release, system, prefix, manifest, config, process: proc, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
