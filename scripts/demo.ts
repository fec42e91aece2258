#!/usr/bin/env node
/**
 * `npm run demo`: Vigil end to end on this machine, in one command.
 *
 * Brings up a local control plane and Redis (test/cluster/harness.ts; the first run builds the control plane),
 * installs the CRDs, creates the workload namespace (`shop`) and the operator's (`vigil-system`), starts the
 * operator, a sample app with a sidecar in front of it (pod `web-0`, labels `app: web`), mints tokens for alice
 * (engineers) and bob (contractors) into `.vigil/demo/`, applies demo/policy.yaml, waits until the policy is
 * Accepted and published and the sidecar enforces it, registers the sessions API (a Service and the APIService, the
 * aggregation layer routed to the local operator: scripts/demo/sessions-api.ts) so that `kubectl get vigilsessions`
 * works, and prints copy-paste commands (scripts/demo/banner.ts).
 *
 * Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops everything it started, by PID and in order (sidecar, app, operator,
 * control plane), removes its files and exits 0; a second Ctrl-C forces (SIGKILL to the demo's own process
 * groups; the control plane's guards stop its servers once the demo is gone). Exit 1 when starting failed or a
 * process died on its own, 2 for a bad VIGIL_DEMO_* variable (scripts/demo/settings.ts: how to point the demo
 * at a running control plane instead, as the integration test does).
 */
import { randomBytes } from "node:crypto";
import { get } from "node:http";
import { join, relative, resolve } from "node:path";
import { startCluster, type Cluster } from "../test/cluster/harness.ts";
import { routeService } from "../test/cluster/service-route.ts";
import { API_SERVICE_NAME, apiServiceAvailable, SESSIONS_API_PORT, SESSIONS_API_SERVICE, sessionsApiManifest } from "./demo/sessions-api.ts";
import { freePort } from "../test/cluster/ports.ts";
import { DEMO_TUNNEL_PORT, readyBanner, type BannerFacts } from "./demo/banner.ts";
import {
  claimStateDir,
  removeStateFiles,
  statePaths,
  writeEnvFile,
  writePids,
  writeBusKeys,
  writeSessionKeys,
  writeSidecarFiles,
  writeToken,
  type StatePaths,
} from "./demo/files.ts";
import { createDemoIssuer, DEMO_USERS } from "./demo/identity.ts";
import { kubectl, kubectlOk, type KubectlTarget } from "./demo/kubectl.ts";
import { killChild, logTail, startChild, stopChild, type Child } from "./demo/processes.ts";
import { DemoSettingError, demoSettings, type DemoSettings, type ExternalCluster } from "./demo/settings.ts";

const repo = resolve(import.meta.dirname, "..");
const POD = "web-0";
const LABELS = { app: "web" };
const POLICY_NAME = "web";
const STOP_GRACE_MS = 12_000;

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const done = (line: string): void => {
  say(`  ✓ ${line}`);
};

/** As the user should type it: relative to the current directory when inside it. */
function typed(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== "" && !rel.startsWith("..") ? rel : path;
}

class Stopped extends Error {
  constructor() {
    super("stopped");
    this.name = "Stopped";
  }
}

/** A problem waiting cannot fix (stops the wait at once). */
class Fatal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Fatal";
  }
}

class Demo {
  readonly #s: DemoSettings;
  readonly #paths: StatePaths;
  readonly #children: Child[] = [];
  #cluster: Promise<Cluster | undefined> = Promise.resolve(undefined);
  #stopping = false;
  #kube: KubectlTarget | undefined;
  #unroute: (() => Promise<void>) | undefined;
  /** Called when a process dies on its own (after start). */
  onCrash: (message: string) => void = () => undefined;

  constructor(settings: DemoSettings) {
    this.#s = settings;
    this.#paths = statePaths(settings.stateDir);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    const s = this.#s;
    await claimStateDir(this.#paths);
    const cluster = await this.#controlPlane();
    const kube: KubectlTarget = { kubectl: cluster.kubectl, kubeconfig: cluster.kubeconfig, cacheDir: this.#paths.kubeCache };
    this.#kube = kube;

    await kubectlOk(kube, ["apply", "--server-side", "--force-conflicts", "-f", join(repo, "crds")]);
    await kubectlOk(kube, ["wait", "--for=condition=Established", "--timeout=60s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
    done("CRDs accesspolicies.vigil.dev and sessionterminations.vigil.dev installed");
    const namespaces = [s.namespace, s.operatorNamespace].map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}\n`);
    await kubectlOk(kube, ["apply", "--server-side", "-f", "-"], namespaces.join("---\n"));
    done(`namespaces ${s.namespace} (the workload) and ${s.operatorNamespace} (the operator)`);
    this.#check();
    await kubectlOk(kube, ["apply", "--server-side", "--force-conflicts", "-f", "-"], sessionsApiManifest(s.operatorNamespace));

    const busKeys = await writeBusKeys(this.#paths);
    const sessionKeys = await writeSessionKeys(this.#paths);
    const sessionsApiPort = await freePort();
    const operator = this.#spawn("operator", [join(repo, "operator/main.ts")], {
      ...busKeys.operator,
      VIGIL_SESSION_KEY_RING_DIR: sessionKeys,
      KUBECONFIG: cluster.kubeconfig,
      VIGIL_REDIS_URL: cluster.redisUrl,
      VIGIL_BUS_PREFIX: s.busPrefix,
      VIGIL_ADMIN_PORT: String(await freePort()),
      VIGIL_WATCH_NAMESPACE: s.namespace,
      VIGIL_LEASE_NAMESPACE: s.operatorNamespace,
      VIGIL_IDENTITY: `vigil-demo-${randomBytes(4).toString("hex")}`,
      VIGIL_RESYNC_SECONDS: "30",
      VIGIL_TERMINATION_TIMEOUT_SECONDS: "15",
      VIGIL_HEARTBEAT_MAX_AGE_SECONDS: "10",
      // The sessions API (its serving certificate is kept in a Secret of the operator's namespace; no webhook here).
      VIGIL_SESSIONS_API_PORT: String(sessionsApiPort),
      VIGIL_SESSIONS_API_HOST: "127.0.0.1",
      VIGIL_WEBHOOK_SERVICE_NAME: SESSIONS_API_SERVICE,
      VIGIL_WEBHOOK_TLS_SECRET: "vigil-demo-sessions-tls",
      VIGIL_WEBHOOK_CONFIGURATION_NAME: "vigil-demo-no-injection-webhook",
      LOG_LEVEL: "info",
    });
    done(`operator started (pid ${operator.pid})`);
    await this.#routeSessionsApi(kube, cluster, operator, sessionsApiPort);

    const issuer = await createDemoIssuer();
    const tokens: Record<string, string> = {};
    for (const user of DEMO_USERS) {
      const token = await issuer.mint(user);
      tokens[user.name] = token;
      await writeToken(this.#paths, user.name, token);
    }
    done(`tokens for alice (engineers) and bob (contractors), valid 1 h, in ${typed(this.#paths.dir)}/`);

    const appPort = await freePort();
    const app = this.#spawn("app", [join(repo, "scripts/demo/app.ts")], { DEMO_APP_PORT: String(appPort), DEMO_ECHO_PORT: String(DEMO_TUNNEL_PORT) });
    await this.#waitFor("the sample app", app, async () => (await fetch(`http://127.0.0.1:${appPort}/healthz`)).ok, 20_000);
    await this.#createPod(kube);

    const [sidecarPort, sidecarAdmin] = [await freePort(), await freePort()];
    const sidecar = this.#spawn("sidecar", [join(repo, "sidecar/main.ts")], {
      ...(await writeSidecarFiles(this.#paths, LABELS, issuer.issuersFile, sessionKeys)),
      ...busKeys.sidecar,
      VIGIL_POD_NAME: POD,
      VIGIL_POD_NAMESPACE: s.namespace,
      VIGIL_UPSTREAM_PORT: String(appPort),
      VIGIL_LISTEN_HOST: "127.0.0.1",
      VIGIL_LISTEN_PORT: String(sidecarPort),
      VIGIL_ADMIN_PORT: String(sidecarAdmin),
      VIGIL_REDIS_URL: cluster.redisUrl,
      VIGIL_BUS_PREFIX: s.busPrefix,
      VIGIL_HEARTBEAT_INTERVAL_MS: "1000",
    });
    await this.#waitFor("the sidecar", sidecar, async () => (await fetch(`http://127.0.0.1:${sidecarAdmin}/readyz`)).ok, 30_000);
    done(
      `pod ${POD}: sidecar on 127.0.0.1:${sidecarPort} (pid ${sidecar.pid}) → app on 127.0.0.1:${appPort}, TCP echo on :${DEMO_TUNNEL_PORT} (pid ${app.pid})`,
    );
    await writePids(this.#paths, this.#children);

    const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
    await writeEnvFile(this.#paths, {
      KUBECONFIG: cluster.kubeconfig,
      KUBECTL: cluster.kubectl,
      KUBECACHEDIR: this.#paths.kubeCache,
      SIDECAR: sidecarUrl,
      TOKEN_ALICE: tokens["alice"] ?? "",
      TOKEN_BOB: tokens["bob"] ?? "",
    });

    const policyFile = join(repo, "demo/policy.yaml");
    await kubectlOk(kube, ["apply", "-n", s.namespace, "-f", policyFile]);
    const revision = await this.#waitFor("the AccessPolicy to be Accepted and published", operator, () => this.#policyPublished(kube), 60_000);
    await this.#waitFor(
      "the sidecar to enforce the policy",
      sidecar,
      async () => {
        const [alice, bob] = await Promise.all([hello(sidecarUrl, tokens["alice"] ?? ""), hello(sidecarUrl, tokens["bob"] ?? "")]);
        return alice === 200 && bob === 403;
      },
      30_000,
    );
    done(`AccessPolicy ${POLICY_NAME}: Accepted, published at bus revision ${revision}, enforced by ${POD}`);

    for (const c of this.#children) {
      void c.exited.then(async (code) => {
        if (this.#stopping) return;
        this.onCrash(`${c.name} exited on its own (code ${code ?? "?"}); the end of its log:\n${await logTail(c)}`);
      });
    }
    const facts: BannerFacts = {
      envFile: typed(this.#paths.env),
      namespace: s.namespace,
      sidecarPort,
      appPort,
      policyFile: typed(policyFile),
      terminationFile: typed(join(repo, "demo/terminate-alice.yaml")),
      wsClient: typed(join(repo, "scripts/demo/ws-client.ts")),
    };
    say(readyBanner(facts).replace(/^\n/, `\nStarted in ${((Date.now() - t0) / 1000).toFixed(1)} s. `));
  }

  /** The aggregation layer → the operator's sessions API (as the sessions API tests route it), then Available. */
  async #routeSessionsApi(kube: KubectlTarget, cluster: ExternalCluster, operator: Child, port: number): Promise<void> {
    if (cluster.egressRoutesDir === undefined) {
      say("  (no egress routes directory for this control plane: kubectl get vigilsessions will not reach the operator)");
      return;
    }
    const routes = { kubeconfig: cluster.kubeconfig, egressRoutesDir: cluster.egressRoutesDir };
    this.#unroute = await routeService(routes, { namespace: this.#s.operatorNamespace, name: SESSIONS_API_SERVICE, port: SESSIONS_API_PORT }, port);
    await this.#waitFor(
      "the sessions API (APIService Available)",
      operator,
      async () => {
        const r = await kubectl(kube, ["get", "apiservice", API_SERVICE_NAME, "-o", "json"]);
        return r.code === 0 && apiServiceAvailable(r.stdout);
      },
      60_000,
    );
    done("sessions API: kubectl get vigilsessions is served by the operator through the aggregation layer");
  }

  async #controlPlane(): Promise<ExternalCluster> {
    if (this.#s.external !== undefined) {
      done(`using the control plane of ${this.#s.external.kubeconfig} and Redis at ${this.#s.external.redisUrl}`);
      return this.#s.external;
    }
    say("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager) and Redis.");
    say("The first run on a machine builds it from source (several minutes); later runs take seconds…");
    const starting = startCluster();
    this.#cluster = starting.catch(() => undefined);
    const c = await starting;
    done(`control plane and Redis ready in ${(c.startupMs / 1000).toFixed(1)} s`);
    this.#check();
    return {
      kubeconfig: c.env.kubeconfig,
      redisUrl: c.env.redisUrl,
      kubectl: c.env.kubectl,
      ...(c.env.egressRoutesDir === undefined ? {} : { egressRoutesDir: c.env.egressRoutesDir }),
    };
  }

  /** The Pod object of web-0 (no kubelet here: it stays Pending; its sidecar and app run as local processes). */
  async #createPod(kube: KubectlTarget): Promise<void> {
    const labels = Object.entries(LABELS)
      .map(([k, v]) => `    ${k}: ${v}\n`)
      .join("");
    const pod = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${POD}\n  namespace: ${this.#s.namespace}\n  labels:\n${labels}spec:\n  automountServiceAccountToken: false\n  containers:\n    - name: app\n      image: registry.invalid/vigil-demo/web:local\n`;
    // The namespace's default ServiceAccount (which the API server requires) appears a moment after the namespace.
    await this.#waitFor(`the Pod object ${POD}`, undefined, async () => (await kubectl(kube, ["apply", "--server-side", "-f", "-"], pod)).code === 0, 30_000);
  }

  async #policyPublished(kube: KubectlTarget): Promise<number | undefined> {
    const r = await kubectl(kube, ["get", "accesspolicy", POLICY_NAME, "-n", this.#s.namespace, "-o", "json"]);
    if (r.code !== 0) return undefined;
    const status = (JSON.parse(r.stdout) as { status?: { busRevision?: number; conditions?: { type: string; status: string; message?: string }[] } }).status;
    const condition = (type: string): string | undefined => status?.conditions?.find((c) => c.type === type)?.status;
    const accepted = status?.conditions?.find((c) => c.type === "Accepted");
    if (accepted?.status === "False") throw new Fatal(`demo/policy.yaml was not accepted: ${accepted.message ?? ""}`);
    return accepted?.status === "True" && condition("Ready") === "True" ? status?.busRevision : undefined;
  }

  #spawn(name: string, args: string[], env: Record<string, string>): Child {
    this.#check();
    const base = { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" };
    const child = startChild(name, process.execPath, args, { ...base, ...env }, this.#paths.logs, repo);
    this.#children.push(child);
    return child;
  }

  /** Polls `check` until it yields something other than false/undefined; fails early when `child` exits or on stop. */
  async #waitFor<T>(what: string, child: Child | undefined, check: () => Promise<T | false | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.#check();
      const value = await check().catch((err: unknown) => {
        if (err instanceof Fatal) throw err;
        return undefined;
      });
      if (value !== undefined && value !== false) return value;
      if (child?.hasExited() === true) throw new Error(`${child.name} exited while waiting for ${what}:\n${await logTail(child)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${child ? `; the end of ${child.name}'s log:\n${await logTail(child)}` : ""}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  #check(): void {
    if (this.#stopping) throw new Stopped();
  }

  /** Graceful: our processes in reverse start order, then the control plane, then the files. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#unregisterSessionsApi();
    for (const c of [...this.#children].reverse()) await stopChild(c, STOP_GRACE_MS);
    const cluster = await this.#cluster;
    await cluster?.stop();
    await removeStateFiles(this.#paths);
  }

  /** The APIService is cluster-wide: the demo removes what it registered (the Service goes with the namespace). */
  async #unregisterSessionsApi(): Promise<void> {
    await this.#unroute?.().catch(() => undefined);
    if (this.#kube !== undefined)
      await kubectl(this.#kube, ["delete", "apiservice", API_SERVICE_NAME, "--ignore-not-found", "--wait=false"]).catch(() => undefined);
  }

  /** Forced: SIGKILL to our process groups; the control plane's guards stop its servers once we exit. */
  async force(): Promise<void> {
    this.#stopping = true;
    for (const c of this.#children) killChild(c);
    await removeStateFiles(this.#paths).catch(() => undefined);
  }
}

/** GET /hello on a connection of its own that closes after the answer (no pooled socket left in the sidecar's table). */
function hello(sidecar: string, token: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = get(`${sidecar}/hello`, { agent: false, headers: { authorization: `Bearer ${token}`, connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => {
        resolveStatus(res.statusCode ?? 0);
      });
    });
    req.on("error", reject);
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
  });
}

function main(): void {
  let settings: DemoSettings;
  try {
    settings = demoSettings(process.env, repo);
  } catch (err) {
    if (!(err instanceof DemoSettingError)) throw err;
    process.stderr.write(`vigil demo: ${err.message}\n`);
    process.exit(2);
  }
  const demo = new Demo(settings);
  let stopping: Promise<void> | undefined;
  const stop = (code: number): void => {
    if (stopping !== undefined) {
      say("Forcing.");
      void demo.force().finally(() => process.exit(130));
      return;
    }
    say(code === 0 ? "\nStopping everything the demo started… (Ctrl-C again to force)" : "Stopping everything the demo started…");
    stopping = demo.stop().then(
      () => {
        say("Stopped. Bye.");
        process.exit(code);
      },
      (err: unknown) => {
        process.stderr.write(`vigil demo: stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => {
      stop(0);
    });
  demo.onCrash = (message) => {
    process.stderr.write(`vigil demo: ${message}\n`);
    stop(1);
  };
  process.stdout.on("error", () => undefined); // a closed terminal (SIGHUP) must not stop the clean-up
  say("Vigil demo: everything runs on this machine; Ctrl-C stops it.");
  demo.start().then(
    () => undefined,
    (err: unknown) => {
      if (err instanceof Stopped || demo.stopping) return;
      process.stderr.write(`vigil demo: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
      stop(1);
    },
  );
}

main();
