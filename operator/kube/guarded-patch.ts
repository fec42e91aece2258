/**
 * Optimistic-concurrency JSON patches: the patch is built from the copy we hold and starts with
 * `test /metadata/resourceVersion`, so it applies only if nobody wrote the object since that copy was read.
 *
 * The API server answers a failed `test` with a bare 422 Invalid (no detail saying which op failed), so a 422 is
 * told apart from a genuinely invalid patch by re-reading: a different resourceVersion means our copy was stale →
 * rebuild the patch from the fresh copy and retry (at most `maxAttempts`); the same one means the patch itself is
 * invalid → throw. A 409 is stale by definition. A 404 (or the object vanishing on re-read) is "gone".
 */
import { OperatorError, httpStatusOf, isConflict, isNotFound } from "../errors.ts";
import type { KubeObject } from "./cache.ts";
import type { HasMetadata } from "./keys.ts";

export type JsonPatchOp = { op: "test" | "add" | "replace"; path: string; value: unknown } | { op: "remove"; path: string };

export interface GuardedPatchOptions<T extends HasMetadata = KubeObject> {
  /** What is being written, for error messages (e.g. `status of team-a/web`). */
  what: string;
  read: () => Promise<T | undefined>;
  /** The copy already in hand (skips the first read). */
  initial?: T | undefined;
  /** The patch for this copy, or undefined when it already is as wanted. */
  build: (current: T) => JsonPatchOp[] | undefined;
  apply: (patch: JsonPatchOp[]) => Promise<T>;
  maxAttempts?: number | undefined;
}

export interface GuardedPatchResult<T extends HasMetadata = KubeObject> {
  changed: boolean;
  /** After the write, or as read when unchanged; undefined when the object does not exist. */
  object: T | undefined;
  attempts: number;
}

export function resourceVersionTest(obj: HasMetadata): JsonPatchOp {
  const rv = obj.metadata?.resourceVersion;
  if (rv === undefined || rv === "") throw new OperatorError("KUBE_API", "object has no resourceVersion");
  return { op: "test", path: "/metadata/resourceVersion", value: rv };
}

export async function guardedPatch<T extends HasMetadata>(o: GuardedPatchOptions<T>): Promise<GuardedPatchResult<T>> {
  const maxAttempts = o.maxAttempts ?? 5;
  let current = o.initial ?? (await o.read());
  for (let attempt = 1; ; attempt++) {
    if (current === undefined) return { changed: false, object: undefined, attempts: attempt };
    const patch = o.build(current);
    if (patch === undefined) return { changed: false, object: current, attempts: attempt };
    try {
      return { changed: true, object: await o.apply(patch), attempts: attempt };
    } catch (err) {
      if (isNotFound(err)) return { changed: false, object: undefined, attempts: attempt };
      current = await freshCopyIfStale(o, current, err, attempt >= maxAttempts ? attempt : undefined);
    }
  }
}

/** After a failed write: the fresh copy to retry with (possibly undefined = gone), or throw. */
async function freshCopyIfStale<T extends HasMetadata>(
  o: GuardedPatchOptions<T>,
  current: T,
  err: unknown,
  lastAttempt: number | undefined,
): Promise<T | undefined> {
  if (!isConflict(err) && httpStatusOf(err) !== 422) {
    throw new OperatorError("KUBE_API", `writing ${o.what} failed`, { cause: err });
  }
  const fresh = await o.read();
  const stale = isConflict(err) || fresh?.metadata?.resourceVersion !== current.metadata?.resourceVersion;
  if (!stale) throw new OperatorError("KUBE_API", `writing ${o.what} was rejected as invalid`, { cause: err });
  if (lastAttempt !== undefined) {
    throw new OperatorError("KUBE_CONFLICT", `writing ${o.what} kept conflicting after ${lastAttempt} attempts`, { cause: err });
  }
  return fresh;
}
