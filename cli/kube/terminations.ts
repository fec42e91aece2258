/** Creating a SessionTermination with the user's credentials, and following it to Completed or Failed. */
import type { SessionTermination } from "../../operator/api/v1alpha1/session-termination.ts";
import { finished, terminationObject, type TerminateRequest } from "../core/termination.ts";
import type { Kube } from "./client.ts";
import { terminationsPath, type Identity } from "./resources.ts";

export async function createTermination(
  kube: Kube,
  namespace: string,
  request: TerminateRequest,
  actor: Identity,
  prefix: string,
): Promise<SessionTermination> {
  return kube.json<SessionTermination>({
    method: "POST",
    path: terminationsPath(namespace),
    body: terminationObject(namespace, request, actor.username, prefix),
  });
}

/**
 * Calls `onChange` with every new state of the termination until it is Completed or Failed (resolves with it), the
 * timeout passes or `signal` aborts (resolves undefined). Watches from the object's resource version; when the
 * server ends the watch, reads it again and watches on.
 */
export async function followTermination(
  kube: Kube,
  namespace: string,
  name: string,
  onChange: (t: SessionTermination) => void,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SessionTermination | undefined> {
  const stop = new AbortController();
  const timer = setTimeout(() => {
    stop.abort();
  }, opts.timeoutMs);
  const onAbort = (): void => {
    stop.abort();
  };
  opts.signal?.addEventListener("abort", onAbort);
  let done: SessionTermination | undefined;
  try {
    while (!stop.signal.aborted && done === undefined) {
      const current = await kube.json<SessionTermination>({ path: terminationsPath(namespace, name), signal: stop.signal });
      onChange(current);
      if (finished(current) !== undefined) {
        done = current;
        break;
      }
      await kube.watch<SessionTermination>(
        {
          path: terminationsPath(namespace),
          query: { fieldSelector: `metadata.name=${name}`, resourceVersion: current.metadata.resourceVersion, timeoutSeconds: 60 },
          signal: stop.signal,
        },
        (e) => {
          if (e.type !== "ADDED" && e.type !== "MODIFIED") return;
          onChange(e.object);
          if (finished(e.object) !== undefined) {
            done = e.object;
            stop.abort();
          }
        },
      );
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
  return done;
}
