/**
 * Namespace labels for the injection decision, read from the API server on every admission (no cache: a namespace
 * labelled a moment ago must be honoured at once, and a stale "not opted in" would admit a pod unprotected).
 * Not found → undefined; any other failure throws (the handler then refuses the pod with a retryable error).
 * Needs RBAC `get` on `namespaces`.
 */
import type { CoreV1Api } from "@kubernetes/client-node";
import { isNotFound } from "../errors.ts";

export function namespaceLabelsFrom(core: CoreV1Api): (name: string) => Promise<Readonly<Record<string, string>> | undefined> {
  return async (name) => {
    try {
      const ns = await core.readNamespace({ name });
      return ns.metadata?.labels ?? {};
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}
