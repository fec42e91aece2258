/**
 * The sessions API as vigil-operator runs it (config from the environment the chart gives the Deployment, the
 * chart's ServiceAccount), in its own process so that its memory can be measured, driven by the benchmark over
 * IPC: `seed` fills the SessionIndex (RSS and heap measured before and after, both after full GCs, the baseline
 * taken after the same work was done once on a throwaway index so that V8's and malloc's one-time growth is not
 * charged to the sessions), `add` ingests one new session. Every finished request is reported (verb, seconds).
 * With `source: "stream"` the index is fed the way the operator feeds it: the audit ingest (operator/audit/ingest.ts)
 * reads the sealed audit stream the benchmark's reporters wrote (reporters.ts); `seed` returns once it applied
 * `expectEvents` events, and new sessions arrive the same way.
 * Run with --expose-gc.
 */
import { hostname } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { parseConfig } from "../../operator/config.ts";
import { createLogger } from "../../lib/log.ts";
import { SessionIndex } from "../../operator/sessions-api/index/session-index.ts";
import { runSessionsApi } from "../../operator/sessions-api/run.ts";
import { sessionIndexOptions, sessionsApiSettings } from "../../operator/sessions-api/settings.ts";
import { namespaceOf, sessionRecords, type WorkloadShape } from "./workload.ts";
import { createBusRedis } from "../../lib/redis.ts";
import { loadKeyRingFromDir } from "../../lib/key-ring-dir.ts";
import { busKeys } from "../../operator/api/bus/keys.ts";
import { AuditIngest } from "../../operator/audit/ingest.ts";

export type ToChild =
  | { type: "seed"; shape: WorkloadShape; source: "direct" }
  | { type: "seed"; shape: WorkloadShape; source: "stream"; expectEvents: number; pods: { namespace: string; pod: string }[] }
  | { type: "add"; i: number; shape: WorkloadShape };
export type FromChild =
  | { type: "ready"; port: number }
  | { type: "seeded"; coldRssMb: number; rssBeforeMb: number; rssAfterMb: number; heapBeforeMb: number; heapAfterMb: number; objects: number; seconds: number }
  | { type: "added"; sessionId: string; namespace: string }
  | { type: "request"; verb: string; code: number; seconds: number };

const send = (m: FromChild): void => {
  process.send?.(m);
};
const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number): number => bytes / 1048576;

function settle(): void {
  gc?.();
  gc?.();
}

function fill(index: SessionIndex, shape: WorkloadShape, from: number, to: number): void {
  const now = Date.now();
  for (let i = from; i < to; i++) {
    const r = sessionRecords(i, shape, now);
    index.upsertSession(r.seen);
    if (r.flow !== undefined) index.upsertFlow(r.flow);
    for (const e of r.events) index.recordEvent(e);
  }
}

const cold = process.memoryUsage().rss;
const config = parseConfig({ argv: [], env: process.env, hostname: hostname() });
const kc = new KubeConfig();
kc.loadFromFile(process.env["KUBECONFIG"] ?? "");
const index = new SessionIndex(sessionIndexOptions(config));
const api = await runSessionsApi(
  kc,
  {
    ...sessionsApiSettings(config),
    observe: (r) => {
      send({ type: "request", verb: r.verb, code: r.code, seconds: r.seconds });
    },
  },
  index,
  createLogger({ name: "vigil-operator", level: process.env["BENCH_CHILD_LOG"] ?? "warn" }),
);
send({ type: "ready", port: api.server.port });

let ingest: AuditIngest | undefined;

/** Reads the stream into the index until `expected` events were applied. */
async function ingestStream(expected: number, pods: { namespace: string; pod: string }[]): Promise<void> {
  const redis = createBusRedis({ url: config.redisUrl, connectionName: "bench-sessions-ingest" });
  ingest = new AuditIngest({
    redis: redis.blocking,
    streamKey: busKeys(config.busPrefix).audit,
    keyRing: await loadKeyRingFromDir(config.sessionKeyRingDir),
    index,
    liveSidecars: () => Promise.resolve(pods),
    log: createLogger({ name: "vigil-operator", level: "warn" }),
  });
  ingest.start();
  while (ingest.stats().events < expected) await new Promise((r) => setTimeout(r, 20));
  const refused = Object.entries(ingest.stats().refused);
  const rejected = Object.entries(index.stats().rejected);
  if (process.env["BENCH_DEBUG"] === "1" || refused.length > 0 || rejected.length > 0)
    process.stderr.write(
      `audit ingest: refused entries ${JSON.stringify(refused)}, events the index rejected ${JSON.stringify(rejected)}; ${JSON.stringify(ingest.stats())} ${JSON.stringify(index.stats())}\n`,
    );
}

process.on("message", (m: ToChild) => {
  void onMessage(m);
});

async function onMessage(m: ToChild): Promise<void> {
  if (m.type === "seed") {
    const throwaway = new SessionIndex(sessionIndexOptions(config));
    fill(throwaway, m.shape, 0, m.shape.count);
    void throwaway.count("");
    settle();
    const before = process.memoryUsage();
    const t0 = performance.now();
    if (m.source === "stream") await ingestStream(m.expectEvents, m.pods);
    else fill(index, m.shape, 0, m.shape.count);
    const seconds = (performance.now() - t0) / 1000;
    settle();
    const after = process.memoryUsage();
    send({
      type: "seeded",
      coldRssMb: mb(cold),
      rssBeforeMb: mb(before.rss),
      rssAfterMb: mb(after.rss),
      heapBeforeMb: mb(before.heapUsed),
      heapAfterMb: mb(after.heapUsed),
      objects: index.count(""),
      seconds,
    });
  } else {
    const r = sessionRecords(m.i, m.shape, Date.now());
    index.upsertSession(r.seen);
    send({ type: "added", sessionId: r.seen.sessionId, namespace: namespaceOf(m.i, m.shape) });
  }
}
process.on("SIGTERM", () => {
  void Promise.all([api.stop(), ingest?.stop()]).finally(() => process.exit(0));
});
