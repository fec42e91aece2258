/**
 * A real Redis Sentinel setup on loopback for the failover tests: a primary, a replica and three sentinels
 * (`redis-server --sentinel`, which is what Debian's `redis-sentinel` runs), each stopped by its PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../../cluster/ports.ts";
import { eventually, PrivateRedis } from "./support.ts";

export const MASTER_NAME = "vigil";

export class SentinelSetup {
  readonly primary = new PrivateRedis();
  replica: PrivateRedis | undefined;
  readonly sentinelPorts: number[] = [];
  readonly #sentinels: ChildProcess[] = [];
  #dir = "";

  /** `VIGIL_REDIS_SENTINEL_NAME` / `VIGIL_REDIS_SENTINELS` for the operator and sidecar processes. */
  get env(): Record<string, string> {
    return { VIGIL_REDIS_SENTINEL_NAME: MASTER_NAME, VIGIL_REDIS_SENTINELS: this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",") };
  }

  async start(): Promise<void> {
    await this.primary.start();
    this.replica = new PrivateRedis(["--replicaof", "127.0.0.1", String(this.primary.port)]);
    await this.replica.start();
    this.#dir = await mkdtemp(join(tmpdir(), "vigil-sentinel-"));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(this.#dir, `sentinel-${port}.conf`);
      await writeFile(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${this.primary.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          "",
        ].join("\n"),
      );
      this.#sentinels.push(spawn("/usr/bin/redis-server", [conf, "--sentinel"], { stdio: "ignore" }));
      this.sentinelPorts.push(port);
    }
    await eventually(async () => {
      if ((await this.masterPort()) !== this.primary.port) throw new Error("sentinels do not agree on the primary yet");
    }, 15_000);
  }

  /** The primary's port as the first sentinel reports it. */
  async masterPort(): Promise<number> {
    const sentinel = new Redis({ host: "127.0.0.1", port: this.sentinelPorts[0] ?? 0, lazyConnect: true, maxRetriesPerRequest: 1 });
    sentinel.on("error", () => undefined);
    try {
      const reply = (await sentinel.call("SENTINEL", "get-master-addr-by-name", MASTER_NAME)) as [string, string] | null;
      return Number(reply?.[1] ?? 0);
    } finally {
      sentinel.disconnect();
    }
  }

  /** Kills the primary and waits until the sentinels promoted the replica. */
  async failover(): Promise<void> {
    await this.primary.stop();
    await eventually(async () => {
      if ((await this.masterPort()) !== this.replica?.port) throw new Error("no failover yet");
    }, 30_000);
  }

  async stop(): Promise<void> {
    for (const s of this.#sentinels) if (s.pid !== undefined && s.exitCode === null) process.kill(s.pid, "SIGKILL");
    await this.replica?.stop();
    await this.primary.stop();
    if (this.#dir !== "") await rm(this.#dir, { recursive: true, force: true });
  }
}
