/**
 * Acknowledgements are not Kubernetes objects: sidecars append the termination id to `P ack-events` with every
 * ack. This watcher follows that stream and wakes the termination's reconcile at once — also for a termination
 * that already finished, so late acknowledgements (a sidecar that re-registered after a Redis restart) update its
 * counts. Runs as a controller with ONE synthetic key (leader only): each run is one XREAD BLOCK, then it requeues
 * itself at once. Entries that are not a termination id of the form `<ns>/<name>/<uid>` are skipped.
 */
import type { Redis } from "ioredis";
import { STREAM_MESSAGE_FIELD, type BusKeys } from "../api/bus/keys.ts";
import { parseXread } from "../api/bus/replies.ts";
import type { ReconcileContext, Reconciler, Result } from "./reconciler.ts";

export const ACK_WATCH_KEY = "vigil-operator/ack-watch";

/** `<ns>/<name>/<uid>` → `<ns>/<name>` (the informer key), or null. */
export function terminationKeyOf(id: string): string | null {
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)\/[A-Za-z0-9-]{1,64}$/u.exec(id);
  return m === null ? null : `${m[1] ?? ""}/${m[3] ?? ""}`;
}

export interface AckWatchOptions {
  blocking: Redis;
  keys: BusKeys;
  onTermination: (key: string) => void;
  blockMs?: number;
}

export class AckWatchReconciler implements Reconciler {
  readonly #o: AckWatchOptions;
  #position = "$";

  constructor(options: AckWatchOptions) {
    this.#o = options;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const reply = await this.#o.blocking.call(
      "XREAD",
      "COUNT",
      "1000",
      "BLOCK",
      String(this.#o.blockMs ?? 2000),
      "STREAMS",
      this.#o.keys.ackEvents,
      this.#position,
    );
    if (ctx.signal.aborted) return {};
    const woken = new Set<string>();
    for (const entry of parseXread(reply, this.#o.keys.ackEvents, STREAM_MESSAGE_FIELD)) {
      this.#position = entry.id;
      const key = entry.message === null ? null : terminationKeyOf(entry.message);
      if (key !== null) woken.add(key);
    }
    for (const key of woken) this.#o.onTermination(key);
    return { requeueAfterMs: 1 };
  }
}
