/**
 * Keeps a SessionCache in step with the sessions API: list (pages of 500) then watch from the list's version with
 * bookmarks; when the watch ends, resumes from the last version seen; on 410 Expired (or any error) lists again
 * after a short pause. Stops when `signal` aborts.
 */
import type { VigilSession } from "../operator/api/sessions/v1alpha1.ts";
import type { Kube } from "../cli/kube/client.ts";
import { listAll, sessionsPath, type Scope } from "../cli/kube/resources.ts";
import type { SessionCache } from "./session-cache.ts";

export interface FeedStatus {
  /** The last error reading the API (shown on the page), or undefined when all is well. */
  error?: string;
}

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export async function feedSessions(kube: Kube, scope: Scope, cache: SessionCache, status: FeedStatus, signal: AbortSignal): Promise<void> {
  const aborted = (): boolean => signal.aborted;
  while (!aborted()) {
    try {
      const list = await listAll<VigilSession>(kube, sessionsPath(scope));
      cache.reset(list.items);
      delete status.error;
      let rv = list.metadata.resourceVersion ?? "";
      const watch = { expired: false };
      const stopped = (): boolean => aborted() || watch.expired;
      while (!stopped()) {
        await kube.watch<VigilSession & { code?: number }>(
          { path: sessionsPath(scope), query: { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 }, signal },
          (e) => {
            if (e.type === "ERROR") {
              watch.expired = true;
              return;
            }
            rv = e.object.metadata.resourceVersion;
            if (e.type !== "BOOKMARK") cache.apply(e.type, e.object);
          },
        );
      }
    } catch (err) {
      if (aborted()) return;
      status.error = err instanceof Error ? err.message : String(err);
      await pause(2000, signal);
    }
  }
}
