/**
 * Which reporting sidecars are alive (pure): the pods that reported on the audit stream, against the heartbeats
 * the bus holds (the publisher's `liveSidecars`). `update(live)` marks every reporting pod without a live
 * heartbeat stale and every one with a heartbeat live again — `markSidecarStale` / `markSidecarLive` are
 * idempotent in the index, so a sidecar that dies leaves its sessions marked stale rather than silently active,
 * and one that comes back clears them. Returns how many pods are stale now.
 */
import type { PodRef } from "../api/sessions/records.ts";

interface StaleMarks {
  markSidecarStale(pod: PodRef): number;
  markSidecarLive(pod: PodRef): number;
}

export class ReporterLiveness {
  readonly #reporters = new Map<string, PodRef>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  /** A pod that wrote to the audit stream. */
  reported(namespace: string, pod: string): void {
    const key = `${namespace}/${pod}`;
    if (this.#reporters.has(key) || this.#reporters.size >= this.#max) return;
    this.#reporters.set(key, { namespace, pod });
  }

  update(index: StaleMarks, live: readonly { namespace: string; pod: string }[]): number {
    const alive = new Set(live.map((h) => `${h.namespace}/${h.pod}`));
    let stale = 0;
    for (const [key, pod] of this.#reporters) {
      if (alive.has(key)) index.markSidecarLive(pod);
      else {
        index.markSidecarStale(pod);
        stale += 1;
      }
    }
    return stale;
  }
}
