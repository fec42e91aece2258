import { randomInt } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { errorFields } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { LogThrottle } from "./log-throttle.ts";

/**
 * ioredis connections for the policy bus, from a URL (`redis://[user:pass@]host:port/db`,
 * `rediss://` for TLS) and optional Sentinel settings.
 *
 * - `commands`: ordinary commands. Lazy connect; bounded retries per command (3) so a dead Redis
 *   fails calls instead of queueing them forever; a command timeout; reconnect (and resend) on
 *   READONLY after a failover; exponential reconnect backoff ≤ 5 s with CSPRNG jitter.
 * - `blocking`: `commands.duplicate()` for XREAD BLOCK only: no command timeout (a BLOCK would trip
 *   it), a client-side blocking timeout instead (guards against half-open sockets), never auto-pipelined.
 * - `ready(timeoutMs)`: PING on the command connection, false on error or timeout (for /readyz).
 * - `close()`: drops the blocking connection, quits the command connection.
 * - Connection `error` events (refused, reset, auth, failover) are logged to `log` with the reason, at most once per
 *   reason and connection every 30 s (with how many repeats went unlogged), and "ready again" once it recovers;
 *   never the URL (it may carry a password). Failed commands still reject to their callers.
 */

export interface SentinelSettings {
  /** Master group name. */
  name: string;
  sentinels: { host: string; port: number }[];
  sentinelPassword?: string;
}

export interface BusRedisConfig {
  url: string;
  sentinel?: SentinelSettings;
  /** Shown in CLIENT LIST. */
  connectionName?: string;
  /** Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Default 3. */
  maxRetriesPerRequest?: number;
  /** Where connection errors are logged (rate-limited); pass the program's logger. Default: a `vigil-bus` logger. */
  log?: Logger;
  /**
   * ioredis auto-pipelining on the command connection: commands issued in one turn of the event loop leave in one
   * write (the sidecar: many new sessions at once). Default false; never on the blocking connection.
   */
  autoPipelining?: boolean;
}

export interface BusRedisConnections {
  commands: Redis;
  blocking: Redis;
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export function reconnectDelayMs(times: number): number {
  return Math.min(5000, 50 * 2 ** Math.min(times, 10)) + randomInt(0, 200);
}

type BusRedisOptions = Omit<RedisOptions, "replyMapping" | "protocol">;

function baseOptions(config: BusRedisConfig): BusRedisOptions {
  const options: BusRedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: config.maxRetriesPerRequest ?? 3,
    commandTimeout: config.commandTimeoutMs ?? 2000,
    connectTimeout: 5000,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelayMs,
    reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
    connectionName: config.connectionName ?? "vigil-bus",
    enableAutoPipelining: config.autoPipelining ?? false,
  };
  if (config.sentinel !== undefined) {
    options.name = config.sentinel.name;
    options.sentinels = config.sentinel.sentinels;
    if (config.sentinel.sentinelPassword !== undefined) options.sentinelPassword = config.sentinel.sentinelPassword;
  }
  return options;
}

export function createBusRedis(config: BusRedisConfig): BusRedisConnections {
  const commands = new Redis(config.url, baseOptions(config));
  const blocking = commands.duplicate({
    commandTimeout: undefined,
    blockingTimeout: 30_000,
    enableAutoPipelining: false,
    connectionName: `${config.connectionName ?? "vigil-bus"}-blocking`,
  });
  const log = config.log ?? createLogger({ name: "vigil-bus" });
  logConnectionErrors(commands, "commands", log);
  logConnectionErrors(blocking, "blocking", log);
  return {
    commands,
    blocking,
    async ready(timeoutMs = 1000): Promise<boolean> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, timeoutMs);
      });
      const ping = commands.ping().then(
        () => true,
        () => false,
      );
      try {
        return await Promise.race([ping, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      // A pending XREAD BLOCK would hold QUIT back: the blocking connection is simply dropped.
      blocking.disconnect();
      await Promise.allSettled([commands.quit()]);
      commands.disconnect();
    },
  };
}

/** Log a connection's `error` events, rate-limited, and its recovery (see the file comment). */
function logConnectionErrors(connection: Redis, role: "commands" | "blocking", log: Logger): void {
  const throttle = new LogThrottle({ log, message: "policy bus (Redis) connection error" });
  let failing = false;
  connection.on("error", (err: unknown) => {
    failing = true;
    const { err: reason, code, cause } = errorFields(err);
    throttle.report(`${code ?? ""} ${reason}`, {
      connection: role,
      err: reason,
      ...(code === undefined ? {} : { code }),
      ...(cause === undefined ? {} : { cause }),
    });
  });
  connection.on("ready", () => {
    if (!failing) return;
    failing = false;
    log.info({ connection: role, unlogged: throttle.reset() }, "policy bus (Redis) connection ready again");
  });
}
