/**
 * The informer against the real API server: events become keys, a watch cut mid-stream resumes without missing
 * a create or a delete, and a 410 after etcd compaction relists and emits the deletes that happened meanwhile.
 */
import { ApiextensionsV1Api } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { clusterEnv } from "../../cluster/env.ts";
import { Informer, type InformerEventType } from "../../../operator/kube/informer.ts";
import { customObjectSource } from "../../../operator/kube/sources.ts";
import { startRelay, type TcpRelay } from "./tcp-relay.ts";
import {
  WIDGETS,
  applyWidgetCrd,
  compactEtcd,
  createNamespace,
  kubeConfig,
  kubeConfigVia,
  quietLog,
  uniqueName,
  widgets,
  type Widget,
} from "./kube-support.ts";

const env = clusterEnv();
const direct = widgets(kubeConfig(env));
const running: Pick<Informer, "stop">[] = [];
let relay: TcpRelay;

beforeAll(async () => {
  await applyWidgetCrd(env);
  const api = new URL(env.apiServerUrl);
  relay = await startRelay(api.hostname, Number(api.port));
});

afterEach(async () => {
  for (const inf of running.splice(0)) await inf.stop();
});

afterAll(async () => {
  await relay.close();
});

/** An informer on one namespace (empty: all namespaces) that records every (key, event) it emits. */
function watchNamespace(namespace: string, opts: { viaRelay?: boolean; resyncMs?: number; watchTimeoutSeconds?: [number, number] } = {}) {
  const events: { key: string; type: InformerEventType }[] = [];
  const kc = opts.viaRelay === true ? kubeConfigVia(env, `https://127.0.0.1:${relay.port}`) : kubeConfig(env);
  const informer = new Informer({
    kc,
    source: customObjectSource<Widget>(kc, { ...WIDGETS, namespace }),
    onKey: (key, type) => events.push({ key, type }),
    log: quietLog,
    resyncMs: opts.resyncMs ?? 0,
    backoff: { baseMs: 50, capMs: 500, jitter: 0.5 },
    ...(opts.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: opts.watchTimeoutSeconds }),
  });
  running.push(informer);
  informer.start();
  const saw = (key: string, type: InformerEventType) => events.some((e) => e.key === key && e.type === type);
  return { informer, events, saw };
}

/** Change the Widget CRD's spec (a schema description): the API server rebuilds its storage and watch cache. */
async function touchWidgetCrd(): Promise<void> {
  const ext = kubeConfig(env).makeApiClient(ApiextensionsV1Api);
  await ext.patchCustomResourceDefinition({
    name: "widgets.fixtures.vigil.dev",
    body: [{ op: "add", path: "/spec/versions/0/schema/openAPIV3Schema/description", value: `touched ${uniqueName("at")}` }],
  });
}

async function freshListKeys(namespace: string): Promise<string[]> {
  const list = (await direct.api.listNamespacedCustomObject({ ...WIDGETS, namespace })) as { items: { metadata: { name: string } }[] };
  return list.items.map((i) => `${namespace}/${i.metadata.name}`).sort();
}

describe("Informer", () => {
  it("emits keys for objects that exist at start and for every create, update and delete", async () => {
    const ns = await createNamespace(env);
    await direct.create(ns, "before");
    const { informer, saw } = watchNamespace(ns);
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(saw(`${ns}/before`, "add")).toBe(true);

    await direct.create(ns, "w1", { size: 1 });
    await vi.waitFor(() => {
      expect(saw(`${ns}/w1`, "add")).toBe(true);
    });
    await direct.update(ns, "w1", { size: 2 });
    await vi.waitFor(() => {
      expect(saw(`${ns}/w1`, "update")).toBe(true);
    });
    expect(informer.get(`${ns}/w1`)?.spec?.["size"]).toBe(2);
    await direct.remove(ns, "w1");
    await vi.waitFor(() => {
      expect(saw(`${ns}/w1`, "delete")).toBe(true);
    });
    expect(informer.get(`${ns}/w1`)).toBeUndefined();
    expect(informer.keys().sort()).toEqual(await freshListKeys(ns));
  });

  it("reads its cache typed, whole or one namespace at a time", async () => {
    const [a, b] = [await createNamespace(env), await createNamespace(env)];
    await direct.create(a, "one", { size: 1 });
    await direct.create(b, "two", { size: 2 });
    const { informer } = watchNamespace("");
    await informer.waitForSync();
    expect(informer.keys(a)).toEqual([`${a}/one`]);
    expect(informer.list(b).map((w) => [w.metadata.name, w.spec?.["size"]])).toEqual([["two", 2]]);
    expect(informer.keys()).toEqual(expect.arrayContaining([`${a}/one`, `${b}/two`]));
    expect(informer.list(uniqueName("nowhere"))).toEqual([]);
  });

  it("caches transform(obj) of every listed and watched object, typed by what it keeps", async () => {
    const ns = await createNamespace(env);
    await direct.create(ns, "listed", { size: 1, colour: "red" });
    const kc = kubeConfig(env);
    const seen: Widget[] = [];
    type WidgetSize = Pick<Widget, "metadata"> & { size: unknown };
    const informer = new Informer<WidgetSize, Widget>({
      kc,
      source: customObjectSource<Widget>(kc, { ...WIDGETS, namespace: ns }),
      transform: (w: Widget) => {
        seen.push(w);
        const { name, namespace, resourceVersion } = w.metadata;
        return { metadata: { name, namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) }, size: w.spec?.["size"] };
      },
      onKey: () => undefined,
      log: quietLog,
      resyncMs: 0,
    });
    running.push(informer);
    informer.start();
    await informer.waitForSync();
    expect(informer.get(`${ns}/listed`)).toEqual({ metadata: { name: "listed", namespace: ns, resourceVersion: expect.any(String) as string }, size: 1 });
    await direct.create(ns, "watched", { size: 2, colour: "blue" });
    await vi.waitFor(() => {
      expect(informer.get(`${ns}/watched`)?.size).toBe(2);
    });
    await direct.update(ns, "watched", { size: 3 });
    await vi.waitFor(() => {
      expect(informer.get(`${ns}/watched`)?.size).toBe(3);
    });
    expect(Object.keys(informer.get(`${ns}/watched`) ?? {}).sort()).toEqual(["metadata", "size"]);
    expect(seen.every((w) => w.spec !== undefined && w.kind === "Widget")).toBe(true);
  });

  it("re-emits every key on resync", async () => {
    const ns = await createNamespace(env);
    await direct.create(ns, "a");
    await direct.create(ns, "b");
    const { informer, events } = watchNamespace(ns, { resyncMs: 300 });
    await informer.waitForSync();
    await vi.waitFor(() => {
      const resynced = new Set(events.filter((e) => e.type === "resync").map((e) => e.key));
      expect(resynced).toEqual(new Set([`${ns}/a`, `${ns}/b`]));
    });
  });

  it("keeps watching across server-side watch timeouts, resuming from the last resourceVersion without relisting", async () => {
    const ns = await createNamespace(env);
    const { informer, saw } = watchNamespace(ns, { watchTimeoutSeconds: [1, 1] });
    await informer.waitForSync();
    // Two server-side timeouts (1 s each) have ended a watch and the informer resumed each time.
    await vi.waitFor(
      () => {
        expect(informer.stats().watchesStarted).toBeGreaterThanOrEqual(3);
      },
      { timeout: 10_000, interval: 50 },
    );
    await direct.create(ns, "late");
    await vi.waitFor(() => {
      expect(saw(`${ns}/late`, "add")).toBe(true);
    });
    expect(informer.stats().watchesStarted).toBeGreaterThanOrEqual(2);
    expect(informer.stats().lists).toBe(1);
  });

  it("misses no create or delete when the watch is cut mid-stream and the server is unreachable for a while", async () => {
    const ns = await createNamespace(env);
    await direct.create(ns, "doomed");
    const { informer, saw } = watchNamespace(ns, { viaRelay: true });
    await informer.waitForSync();
    await direct.create(ns, "seen-live");
    await vi.waitFor(() => {
      expect(saw(`${ns}/seen-live`, "add")).toBe(true);
    });

    relay.pause();
    const refusedBefore = relay.refused;
    await direct.create(ns, "born-while-cut");
    await direct.remove(ns, "doomed");
    // The informer noticed the cut and tried to come back while the server was unreachable.
    await vi.waitFor(
      () => {
        expect(relay.refused).toBeGreaterThan(refusedBefore);
      },
      { timeout: 10_000, interval: 20 },
    );
    relay.resume();

    await vi.waitFor(() => {
      expect(saw(`${ns}/born-while-cut`, "add")).toBe(true);
      expect(saw(`${ns}/doomed`, "delete")).toBe(true);
    });
    expect(informer.stats().watchFailures).toBeGreaterThanOrEqual(1);
    expect(informer.keys().sort()).toEqual(await freshListKeys(ns));

    relay.cut();
    await direct.create(ns, "after-second-cut");
    await vi.waitFor(() => {
      expect(saw(`${ns}/after-second-cut`, "add")).toBe(true);
    });
    expect(informer.keys().sort()).toEqual(await freshListKeys(ns));
  });

  it("relists after 410 Gone (etcd compacted past its resourceVersion) and emits the deletes it missed", async () => {
    const ns = await createNamespace(env);
    await direct.create(ns, "kept");
    await direct.create(ns, "deleted-while-away");
    await direct.create(ns, "changed-while-away", { v: 1 });
    const { informer, saw, events } = watchNamespace(ns, { viaRelay: true });
    await informer.waitForSync();
    expect(informer.stats().lists).toBe(1);

    relay.pause();
    await direct.remove(ns, "deleted-while-away");
    await direct.update(ns, "changed-while-away", { v: 2 });
    await direct.create(ns, "created-while-away");
    // etcd forgets every revision up to now: a watch that resumes from the informer's resourceVersion reaches
    // etcd's history no more. The API server's watch cache would still serve it from memory, so also make the
    // API server rebuild that cache (any CRD spec change does), leaving only the compacted etcd behind it.
    await compactEtcd(env);
    await touchWidgetCrd();
    relay.resume();

    await vi.waitFor(
      () => {
        expect(saw(`${ns}/deleted-while-away`, "delete")).toBe(true);
        expect(saw(`${ns}/created-while-away`, "add")).toBe(true);
        expect(saw(`${ns}/changed-while-away`, "update")).toBe(true);
      },
      { timeout: 20_000 },
    );
    expect(informer.keys().sort()).toEqual(await freshListKeys(ns));
    expect(events.filter((e) => e.key === `${ns}/kept` && e.type !== "add")).toEqual([]);
    expect(informer.stats().relistsAfterGone).toBeGreaterThanOrEqual(1);
    expect(informer.stats().lists).toBeGreaterThanOrEqual(2);
  });
});
