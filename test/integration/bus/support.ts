import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import { Redis } from "ioredis";
import { BusClient, type BusSnapshot, type BusTailHandlers } from "../../../operator/api/bus-client.ts";
import type { BusEvent } from "../../../operator/api/bus.ts";
import { BusPublisher } from "../../../operator/bus/publisher.ts";
import { createBusRedis, type BusRedisConnections } from "../../../lib/redis.ts";
import { freePort } from "../../cluster/ports.ts";

/** Helpers for the bus integration tests: unique key prefixes, tracked connections, polling. */

export function uniquePrefix(): string {
  return `test:${randomBytes(6).toString("hex")}:`;
}

export class Connections {
  readonly #opened: BusRedisConnections[] = [];
  readonly #raw: Redis[] = [];
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  open(name = "test"): BusRedisConnections {
    const connections = createBusRedis({ url: this.url, connectionName: name });
    this.#opened.push(connections);
    return connections;
  }

  /** A plain connection for the test itself (the "rogue writer", inspections). */
  raw(): Redis {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    this.#raw.push(redis);
    return redis;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#opened.map((c) => c.close()));
    this.#raw.forEach((r) => {
      r.disconnect();
    });
  }
}

export function publisherOn(connections: Connections, prefix: string, maxStreamLength?: number): BusPublisher {
  const { commands } = connections.open("vigil-operator");
  return new BusPublisher({ redis: commands, prefix, ...(maxStreamLength === undefined ? {} : { maxStreamLength }) });
}

export interface SidecarStandIn {
  client: BusClient;
  /** What the sidecar currently enforces: last snapshot plus every event since (`ns/name` → generation, revocation ids). */
  view: { policies: Map<string, number>; revocations: Set<string> };
  snapshots: BusSnapshot[];
  events: BusEvent[];
  controller: AbortController;
  done: Promise<void>;
  stop(): Promise<void>;
}

/** A sidecar stand-in: the real BusClient, recording what it is told. */
export function sidecarClient(connections: Connections, prefix: string, blockMs = 300): BusClient {
  const { commands, blocking } = connections.open("vigil-sidecar");
  return new BusClient({ redis: commands, blocking, prefix, blockMs, retryMinMs: 20, retryMaxMs: 200 });
}

export function startTail(client: BusClient, extra: Partial<BusTailHandlers> = {}): SidecarStandIn {
  const snapshots: BusSnapshot[] = [];
  const events: BusEvent[] = [];
  const controller = new AbortController();
  const view = { policies: new Map<string, number>(), revocations: new Set<string>() };
  const done = client.tail(
    {
      onSnapshot: async (s) => {
        snapshots.push(s);
        view.policies = new Map(s.policies.map((p) => [`${p.policy.namespace}/${p.policy.name}`, p.policy.generation]));
        view.revocations = new Set(s.revocations.map((r) => r.id));
        await extra.onSnapshot?.(s);
      },
      onEvent: async (e, id) => {
        events.push(e);
        if (e.type === "policy.upsert") view.policies.set(`${e.policy.namespace}/${e.policy.name}`, e.policy.generation);
        if (e.type === "policy.delete") view.policies.delete(`${e.namespace}/${e.name}`);
        if (e.type === "termination") view.revocations.add(e.revocation.id);
        await extra.onEvent?.(e, id);
      },
      ...(extra.onIssue === undefined ? {} : { onIssue: extra.onIssue }),
    },
    controller.signal,
  );
  return {
    client,
    view,
    snapshots,
    events,
    controller,
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error: unknown) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw lastError instanceof Error ? lastError : new Error("condition not met in time");
}

/** Entries of the events stream as parsed JSON, oldest first. */
export async function streamMessages(redis: Redis, prefix: string): Promise<unknown[]> {
  const reply = (await redis.call("XRANGE", `${prefix}events`, "-", "+")) as [string, string[]][];
  return reply.map(([, fields]) => JSON.parse(fields[1] ?? "null") as unknown);
}

/** A private redis-server (for tests that flush or restart Redis), stopped by its PID. */
export class PrivateRedis {
  #proc: ChildProcess | undefined;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.#proc = spawn(
      "/usr/bin/redis-server",
      ["--bind", "127.0.0.1", "--port", String(this.port), "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
      { stdio: "ignore" },
    );
    await eventually(() => ping(this.port), 10_000);
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc?.pid === undefined || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    process.kill(proc.pid, "SIGKILL");
    await exited;
  }
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(500, () => socket.destroy());
    socket.once("data", (d) => {
      socket.end();
      if (d.toString().startsWith("+PONG")) resolve();
      else reject(new Error("no PONG"));
    });
    socket.once("error", reject);
    socket.once("close", () => {
      reject(new Error("closed"));
    });
  });
}
