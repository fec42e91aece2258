/**
 * Support for the vigil-operator integration tests: the real CRDs, the operator as a real process
 * (`node operator/main.ts`, configured by environment, signing with the shared test key), AccessPolicy /
 * SessionTermination clients, and sidecar stand-ins running the sidecar's real bus half (subscriber, view,
 * reporter): they follow their namespace, heartbeat their applied epoch and revision and acknowledge every
 * termination they see (unless told to stay silent).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { expect, vi } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { open, openAs } from "../../../operator/api/bus/envelope.ts";
import { busKeys } from "../../../operator/api/bus/keys.ts";
import type { Entry, EventBody, PolicyEntry, Revocation, RevocationEntry } from "../../../operator/api/bus/messages.ts";
import { BusReporter } from "../../../sidecar/bus/reporter.ts";
import { BusSubscriber } from "../../../sidecar/bus/subscriber.ts";
import { PolicyView } from "../../../sidecar/policy/view.ts";
import { verifyingOf, writeSigningDir } from "../../builders/bus-keys.ts";
import { ACCESS_POLICY, GROUP, SESSION_TERMINATION, VERSION } from "../../../operator/api/v1alpha1/index.ts";
import type { AccessPolicy, AccessPolicySpec, SessionTermination, SessionTerminationSpec } from "../../../operator/api/v1alpha1/index.ts";
import type { ClusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { kubectlOk } from "../support/kubectl.ts";
import type { Connections } from "../bus/support.ts";

const repo = join(import.meta.dirname, "../../..");
const nodeBin = join(repo, "node_modules/.bin/node");

export async function applyVigilCrds(env: ClusterEnv): Promise<void> {
  await kubectlOk(env, ["apply", "--server-side", "--force-conflicts", "-f", join(repo, "crds")]);
  await kubectlOk(env, ["wait", "--for=condition=Established", "--timeout=30s", "crd/accesspolicies.vigil.dev", "crd/sessionterminations.vigil.dev"]);
}

export interface OperatorSettings {
  redisUrl: string;
  prefix: string;
  namespace: string;
  identity: string;
  resyncSeconds?: number;
  terminationTimeoutSeconds?: number;
  heartbeatMaxAgeSeconds?: number;
  busCheckSeconds?: number;
  /** More VIGIL_* settings. */
  env?: Record<string, string>;
  /** The session-encryption key the sidecars use (the operator reads their sealed records); random by default. */
  sessionKey?: Buffer;
  /** Leader election timing; default 15 s lease, 10 s renew deadline, 2 s retry. */
  lease?: { durationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
}

/** vigil-operator as a real process; its JSON log lines are kept for assertions. */
export class OperatorProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  readonly adminPort: number;
  readonly #child: ChildProcess;
  #exit: string | undefined;

  private constructor(child: ChildProcess, adminPort: number) {
    this.#child = child;
    this.adminPort = adminPort;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.#exit = `exited (${String(code ?? signal)})`;
        resolve(code);
      }),
    );
    if (child.stdout !== null) {
      createInterface({ input: child.stdout }).on("line", (line) => {
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ msg: line });
        }
      });
    }
  }

  static async start(env: ClusterEnv, s: OperatorSettings): Promise<OperatorProcess> {
    const adminPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "vigil-operator-"));
    const signingDir = await writeSigningDir(join(dir, "bus-signing"));
    const sessionKeysDir = join(dir, "session-keys");
    mkdirSync(sessionKeysDir);
    writeFileSync(join(sessionKeysDir, "k1"), s.sessionKey ?? randomBytes(32));
    writeFileSync(join(sessionKeysDir, "primary"), "k1");
    const child = spawn(nodeBin, [join(repo, "operator/main.ts")], {
      cwd: repo,
      stdio: ["ignore", "pipe", process.env["OPERATOR_STDERR"] === "1" ? "inherit" : "ignore"],
      env: {
        PATH: process.env["PATH"] ?? "",
        KUBECONFIG: env.kubeconfig,
        VIGIL_REDIS_URL: s.redisUrl,
        VIGIL_BUS_PREFIX: s.prefix,
        VIGIL_WATCH_NAMESPACE: s.namespace,
        VIGIL_LEASE_NAMESPACE: s.namespace,
        VIGIL_IDENTITY: s.identity,
        VIGIL_ADMIN_PORT: String(adminPort),
        VIGIL_RESYNC_SECONDS: String(s.resyncSeconds ?? 60),
        VIGIL_TERMINATION_TIMEOUT_SECONDS: String(s.terminationTimeoutSeconds ?? 30),
        VIGIL_HEARTBEAT_MAX_AGE_SECONDS: String(s.heartbeatMaxAgeSeconds ?? 3),
        // A lease that survives a loaded 2-core machine (a lost lease ends the process, and every later test of the
        // file with it); tests of failover pass a short one (`lease`).
        VIGIL_LEASE_DURATION_SECONDS: String(s.lease?.durationSeconds ?? 15),
        VIGIL_RENEW_DEADLINE_SECONDS: String(s.lease?.renewDeadlineSeconds ?? 10),
        VIGIL_RETRY_PERIOD_SECONDS: String(s.lease?.retryPeriodSeconds ?? 2),
        VIGIL_BUS_SIGNING_KEYS_DIR: signingDir,
        VIGIL_SESSION_KEY_RING_DIR: sessionKeysDir,
        VIGIL_BUS_CHECK_SECONDS: String(s.busCheckSeconds ?? 1),
        LOG_LEVEL: "info",
        ...s.env,
      },
    });
    return new OperatorProcess(child, adminPort);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  isLeading(): boolean {
    return this.lines.some((l) => l["msg"] === "leading: starting controllers");
  }

  /**
   * Until it logs that it leads. Generous by default: it starts from sources and syncs its informers against an API
   * server the whole suite shares on two cores. An exit ends the wait at once; either failure names its last log lines.
   */
  async waitUntilLeading(timeoutMs = 60_000): Promise<void> {
    // A plain poll (not vi.waitFor): the soak script uses this outside vitest.
    const deadline = Date.now() + timeoutMs;
    while (!this.isLeading()) {
      if (this.#exit !== undefined) throw new Error(`vigil-operator ${this.#exit} before leading; last log lines:\n${this.#tail()}`);
      if (Date.now() > deadline) throw new Error(`vigil-operator not leading after ${timeoutMs} ms; last log lines:\n${this.#tail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  #tail(): string {
    return this.lines
      .slice(-15)
      .map((l) => JSON.stringify(l))
      .join("\n");
  }

  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.adminPort}/metrics`)).text();
  }

  /** Ready: every informer synced (a standby is ready too). */
  async waitUntilReady(timeoutMs = 20_000): Promise<void> {
    await vi.waitFor(
      async () => {
        expect((await fetch(`http://127.0.0.1:${this.adminPort}/readyz`)).status).toBe(200);
      },
      { timeout: timeoutMs, interval: 100 },
    );
  }

  /** Reconciles `controller` has finished so far, whatever their result (`vigil_operator_reconcile_total`). */
  async reconciles(controller: string): Promise<number> {
    let total = 0;
    for (const line of (await this.metrics()).split("\n")) {
      if (line.startsWith("vigil_operator_reconcile_total{") && line.includes(`controller="${controller}"`))
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  }

  /**
   * Resolves once `controller` has finished more than `count` reconciles: the change that woke it has been handled
   * (the event to wait for before asserting that the change had no effect).
   */
  async reconciledBeyond(controller: string, count: number, timeoutMs = 15_000): Promise<void> {
    await vi.waitFor(
      async () => {
        expect(await this.reconciles(controller)).toBeGreaterThan(count);
      },
      { timeout: timeoutMs, interval: 50 },
    );
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#child.exitCode === null && this.#child.pid !== undefined) process.kill(this.#child.pid, signal);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.kill("SIGTERM");
    const timer = setTimeout(() => {
      this.kill("SIGKILL");
    }, 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export function vigilObjects(kc: KubeConfig) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const policies = { group: GROUP, version: VERSION, plural: ACCESS_POLICY.plural };
  const terminations = { group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural };
  return {
    api,
    createPolicy: async (namespace: string, name: string, spec: AccessPolicySpec, labels: Record<string, string> = {}): Promise<AccessPolicy> =>
      (await api.createNamespacedCustomObject({
        ...policies,
        namespace,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: ACCESS_POLICY.kind, metadata: { name, namespace, labels }, spec },
      })) as AccessPolicy,
    getPolicy: async (namespace: string, name: string): Promise<AccessPolicy> =>
      (await api.getNamespacedCustomObject({ ...policies, namespace, name })) as AccessPolicy,
    patchPolicy: async (namespace: string, name: string, patch: { op: "add" | "replace" | "remove"; path: string; value?: unknown }[]): Promise<AccessPolicy> =>
      (await api.patchNamespacedCustomObject({ ...policies, namespace, name, body: patch })) as AccessPolicy,
    deletePolicy: async (namespace: string, name: string): Promise<void> => {
      await api.deleteNamespacedCustomObject({ ...policies, namespace, name });
    },
    policyExists: async (namespace: string, name: string): Promise<boolean> => {
      try {
        await api.getNamespacedCustomObject({ ...policies, namespace, name });
        return true;
      } catch {
        return false;
      }
    },
    createTermination: async (namespace: string, name: string, spec: SessionTerminationSpec): Promise<SessionTermination> =>
      (await api.createNamespacedCustomObject({
        ...terminations,
        namespace,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: SESSION_TERMINATION.kind, metadata: { name, namespace }, spec },
      })) as SessionTermination,
    getTermination: async (namespace: string, name: string): Promise<SessionTermination | undefined> => {
      try {
        return (await api.getNamespacedCustomObject({ ...terminations, namespace, name })) as SessionTermination;
      } catch {
        return undefined;
      }
    },
    deleteTermination: async (namespace: string, name: string): Promise<void> => {
      await api.deleteNamespacedCustomObject({ ...terminations, namespace, name });
    },
    listTerminations: async (namespace: string, labelSelector: string): Promise<SessionTermination[]> =>
      ((await api.listNamespacedCustomObject({ ...terminations, namespace, labelSelector })) as { items: SessionTermination[] }).items,
  };
}

export const staffOnly: AccessPolicySpec = {
  selector: { matchLabels: { app: "web" } },
  rules: [{ name: "staff", action: "Allow", identities: [{ group: "staff" }] }],
};

export interface StandInOptions {
  namespace: string;
  pod: string;
  labels?: Record<string, string>;
  /** false: heartbeats but never acknowledges. Default true. */
  acks?: boolean;
  sessions?: number;
  connections?: number;
  heartbeatMs?: number;
}

/** A sidecar stand-in: the sidecar's real bus half (subscriber, view, reporter) without a proxy. */
export class StandIn {
  readonly subscriber: BusSubscriber;
  readonly view: PolicyView;
  readonly acked = new Set<string>();
  readonly seen = new Set<string>();
  #reporter: BusReporter;
  #abort = new AbortController();
  #tail: Promise<void>;
  #timer: ReturnType<typeof setInterval>;
  #heartbeating = true;
  #inFlight: Promise<void> = Promise.resolve();
  readonly #o: StandInOptions;

  constructor(connections: Connections, prefix: string, options: StandInOptions) {
    this.#o = options;
    const { commands, blocking } = connections.open(`stand-in-${options.pod}`);
    this.subscriber = new BusSubscriber({
      redis: commands,
      blocking,
      prefix,
      namespace: options.namespace,
      keys: () => verifyingOf(),
      blockMs: 300,
      retryMinMs: 20,
      retryMaxMs: 200,
    });
    this.#reporter = new BusReporter({ redis: commands, prefix });
    this.view = new PolicyView({ namespace: options.namespace, labels: options.labels ?? { app: "web" } });
    this.#tail = this.subscriber.run(
      {
        onSnapshot: async (s) => {
          const change = this.view.applySnapshot(s);
          if (change.newEpoch) this.acked.clear(); // the bus was rebuilt: acknowledgements may be lost with it
          for (const r of this.view.revocationsInForce(Date.now())) await this.#terminate(r);
        },
        onEvent: async (e) => {
          for (const r of this.view.applyEvent(e).newRevocations) await this.#terminate(r);
        },
      },
      this.#abort.signal,
    );
    const beat = (): void => {
      this.#inFlight = this.heartbeat().catch(() => undefined);
    };
    this.#timer = setInterval(beat, options.heartbeatMs ?? 300);
    beat();
  }

  get appliedRevision(): number {
    return this.view.revision;
  }

  async heartbeat(): Promise<void> {
    if (!this.#heartbeating) return;
    await this.#reporter.heartbeat({
      v: 2,
      pod: this.#o.pod,
      namespace: this.#o.namespace,
      labels: this.#o.labels ?? { app: "web" },
      epoch: this.view.epoch,
      appliedRevision: this.view.revision,
      integrity: this.subscriber.lastRefusal,
      at: Date.now(),
    });
  }

  /** Acknowledge from now on (for a stand-in started silent). */
  startAcking(): void {
    this.#o.acks = true;
    for (const id of this.seen) void this.#ack(id);
  }

  /** The pod goes away: no more heartbeats, no acks. */
  stopHeartbeats(): void {
    this.#heartbeating = false;
  }

  async #terminate(r: Revocation): Promise<void> {
    this.seen.add(r.id);
    if (this.#o.acks !== false && this.#heartbeating) await this.#ack(r.id);
  }

  async #ack(id: string): Promise<void> {
    if (this.acked.has(id)) return;
    this.acked.add(id);
    await this.#reporter.ack({
      v: 2,
      terminationId: id,
      pod: this.#o.pod,
      namespace: this.#o.namespace,
      sessionsTerminated: this.#o.sessions ?? 1,
      connectionsClosed: this.#o.connections ?? 1,
      at: Date.now(),
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#heartbeating = false;
    this.#abort.abort();
    await Promise.all([this.#tail, this.#inFlight]);
  }
}

/** The namespace's stream, each entry opened with the test key (unsigned or forged entries come back as undefined). */
export async function busEvents(redis: Redis, prefix: string, namespace: string): Promise<(EventBody | undefined)[]> {
  const reply = (await redis.call("XRANGE", busKeys(prefix).namespace(namespace).events, "-", "+")) as [string, string[]][];
  return reply.map(([, fields]) => {
    const opened = openAs(fields[1], verifyingOf(), "event");
    return opened.ok ? opened.value.body : undefined;
  });
}

async function entries(redis: Redis, prefix: string, namespace: string): Promise<Entry[]> {
  const all = await redis.hgetall(busKeys(prefix).namespace(namespace).entries);
  return Object.values(all).flatMap((raw) => {
    const opened = open(raw, verifyingOf());
    return opened.ok && (opened.value.body.type === "policy" || opened.value.body.type === "revocation") ? [opened.value.body] : [];
  });
}

/** The namespace's signed policy entries, by policy name. */
export async function busPolicies(redis: Redis, prefix: string, namespace: string): Promise<Map<string, PolicyEntry>> {
  return new Map((await entries(redis, prefix, namespace)).flatMap((e) => (e.type === "policy" ? [[e.policy.name, e] as const] : [])));
}

/** The namespace's signed revocation entries (lifted ones included), by revocation id. */
export async function busRevocations(redis: Redis, prefix: string, namespace: string): Promise<Map<string, RevocationEntry>> {
  return new Map((await entries(redis, prefix, namespace)).flatMap((e) => (e.type === "revocation" ? [[e.revocation.id, e] as const] : [])));
}
