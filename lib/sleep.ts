/** Abortable sleeps on `node:timers/promises`. */
import { setTimeout as delay } from "node:timers/promises";

/**
 * Resolves after `ms`, or as soon as `signal` aborts (already aborted: at once). Never rejects: a loop that
 * sleeps between attempts checks its own stop condition after waking.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
