import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { BusPublisher, openBus } from "../../../operator/bus/publisher.ts";
import { BusSubscriber, type BusIssue } from "../../../sidecar/bus/subscriber.ts";
import { PolicyView } from "../../../sidecar/policy/view.ts";
import { ringOf, verifyingOf } from "../../builders/bus-keys.ts";
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

/** A publisher signing with the shared test key, its bus already opened (adopted or rebuilt empty). */
export async function publisherOn(connections: Connections, prefix: string, maxStreamLength?: number): Promise<BusPublisher> {
  const { commands } = connections.open("vigil-operator");
  const publisher = new BusPublisher({ redis: commands, prefix, keys: () => ringOf(), ...(maxStreamLength === undefined ? {} : { maxStreamLength }) });
  await openBus(publisher);
  return publisher;
}

export interface Follower {
  subscriber: BusSubscriber;
  view: PolicyView;
  issues: BusIssue[];
  snapshots: number;
  /** Revocations the view reported new, in order (ids). */
  revoked: string[];
  confirmedAt: number | null;
  stop(): Promise<void>;
}

/** A sidecar's bus half, for real: the subscriber feeding a PolicyView, recording what it is told. */
export function follow(
  connections: Connections,
  prefix: string,
  namespace: string,
  labels: Record<string, string> = { app: "web" },
  keys = verifyingOf(),
): Follower {
  const { commands, blocking } = connections.open("vigil-sidecar");
  const subscriber = new BusSubscriber({ redis: commands, blocking, prefix, namespace, keys: () => keys, blockMs: 300, retryMinMs: 20, retryMaxMs: 200 });
  const view = new PolicyView({ namespace, labels });
  const controller = new AbortController();
  const follower: Follower = {
    subscriber,
    view,
    issues: [],
    snapshots: 0,
    revoked: [],
    confirmedAt: null,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
  const done = subscriber.run(
    {
      onSnapshot: (s) => {
        follower.snapshots++;
        follower.revoked.push(...view.applySnapshot(s).newRevocations.map((r) => r.id));
      },
      onEvent: (e) => {
        follower.revoked.push(...view.applyEvent(e).newRevocations.map((r) => r.id));
      },
      onConfirmed: (at) => {
        follower.confirmedAt = at;
      },
      onIssue: (issue) => {
        follower.issues.push(issue);
      },
    },
    controller.signal,
  );
  return follower;
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

/** A private redis-server (for tests that flush or restart Redis), stopped by its PID. */
export class PrivateRedis {
  #proc: ChildProcess | undefined;
  #snapshot = "";
  port = 0;
  readonly #args: readonly string[];

  /** `args`: more redis-server arguments (e.g. `--replicaof 127.0.0.1 6379`). */
  constructor(args: readonly string[] = []) {
    this.#args = args;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    // No persistence; a replica still writes the primary's snapshot when it syncs: into the temp directory, under a
    // name of this start's own (never the working directory, and never loaded by a later start).
    this.#snapshot = `vigil-test-redis-${this.port}-${randomBytes(4).toString("hex")}.rdb`;
    this.#proc = spawn(
      "/usr/bin/redis-server",
      [
        ...["--bind", "127.0.0.1", "--port", String(this.port), "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
        ...["--dir", tmpdir(), "--dbfilename", this.#snapshot],
        ...this.#args,
      ],
      { stdio: "ignore" },
    );
    await eventually(() => ping(this.port), 10_000);
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc?.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    process.kill(proc.pid, "SIGKILL");
    await exited;
    await rm(join(tmpdir(), this.#snapshot), { force: true });
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    if (this.#proc?.pid !== undefined) process.kill(this.#proc.pid, "SIGSTOP");
  }

  resume(): void {
    if (this.#proc?.pid !== undefined) process.kill(this.#proc.pid, "SIGCONT");
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
