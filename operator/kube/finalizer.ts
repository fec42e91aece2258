/**
 * Finalizers on custom objects, added and removed with JSON patches guarded by
 * `test /metadata/resourceVersion` (and, for removal, a `test` of the entry at the index being removed), so a
 * concurrent writer is never overwritten. A stale copy is re-read and the patch rebuilt, at most `maxAttempts`
 * times (see guarded-patch.ts). Adding a finalizer already present or removing one that is absent writes nothing.
 *
 * Use: add the finalizer before publishing anything external; on deletion (deletionTimestamp set) clean up the
 * external state first and remove the finalizer only after that succeeded.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeObject } from "./cache.ts";
import { guardedPatch, resourceVersionTest, type JsonPatchOp } from "./guarded-patch.ts";
import type { HasMetadata } from "./keys.ts";
import { getCustomObject, type CustomObjectRef } from "./status.ts";

function finalizersOf(obj: HasMetadata): string[] {
  const meta = obj.metadata as { finalizers?: unknown } | undefined;
  return Array.isArray(meta?.finalizers) ? meta.finalizers.filter((f): f is string => typeof f === "string") : [];
}

export function hasFinalizer(obj: HasMetadata, finalizer: string): boolean {
  return finalizersOf(obj).includes(finalizer);
}

/** Patch adding `finalizer`, or undefined if present. */
export function finalizerAddPatch(obj: HasMetadata, finalizer: string): JsonPatchOp[] | undefined {
  const meta = obj.metadata as { finalizers?: unknown } | undefined;
  if (hasFinalizer(obj, finalizer)) return undefined;
  if (!Array.isArray(meta?.finalizers)) {
    return [resourceVersionTest(obj), { op: "add", path: "/metadata/finalizers", value: [finalizer] }];
  }
  return [resourceVersionTest(obj), { op: "add", path: "/metadata/finalizers/-", value: finalizer }];
}

/** Patch removing `finalizer`, or undefined if absent. */
export function finalizerRemovePatch(obj: HasMetadata, finalizer: string): JsonPatchOp[] | undefined {
  const meta = obj.metadata as { finalizers?: unknown } | undefined;
  const list: unknown[] = Array.isArray(meta?.finalizers) ? meta.finalizers : [];
  const index = list.indexOf(finalizer);
  if (index < 0) return undefined;
  return [
    resourceVersionTest(obj),
    { op: "test", path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: "remove", path: `/metadata/finalizers/${index}` },
  ];
}

async function patchFinalizers<T extends HasMetadata>(
  api: CustomObjectsApi,
  ref: CustomObjectRef,
  build: (obj: T) => JsonPatchOp[] | undefined,
  options: { initial?: T; maxAttempts?: number },
): Promise<T | undefined> {
  const result = await guardedPatch<T>({
    what: `finalizers of ${ref.namespace}/${ref.name}`,
    read: () => getCustomObject<T>(api, ref),
    initial: options.initial,
    maxAttempts: options.maxAttempts,
    build,
    apply: async (patch) => (await api.patchNamespacedCustomObject({ ...ref, body: patch })) as T,
  });
  return result.object;
}

/** Ensure `finalizer` is on the object; returns the object after the write (undefined if it is gone). */
export function addFinalizer<T extends HasMetadata = KubeObject>(
  api: CustomObjectsApi,
  ref: CustomObjectRef,
  finalizer: string,
  options: { initial?: T; maxAttempts?: number } = {},
): Promise<T | undefined> {
  return patchFinalizers<T>(api, ref, (obj) => finalizerAddPatch(obj, finalizer), options);
}

/** Ensure `finalizer` is not on the object; returns the object after the write (undefined if it is gone). */
export function removeFinalizer<T extends HasMetadata = KubeObject>(
  api: CustomObjectsApi,
  ref: CustomObjectRef,
  finalizer: string,
  options: { initial?: T; maxAttempts?: number } = {},
): Promise<T | undefined> {
  return patchFinalizers<T>(api, ref, (obj) => finalizerRemovePatch(obj, finalizer), options);
}
