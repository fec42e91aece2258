/**
 * Status writes for custom objects, through the `/status` subresource, only when something changed.
 *
 * Contract of `updateStatus`: take the object (the one just read, or a fresh GET), compute the desired status
 * from it, and
 * - if it deep-equals (JSON semantics: key order and `undefined` members ignored) the current status → no write
 *   at all (resourceVersion unchanged, no watch event, no reconcile loop);
 * - else JSON-patch `/status` guarded by `test /metadata/resourceVersion`; if the object changed meanwhile
 *   (409, or the 422 of a failed test; see guarded-patch.ts) → GET it again, recompute, retry (at most
 *   `maxAttempts`, default 5).
 * `compute` must be pure over the object it is given (it runs again on every retry). The object being gone
 * (404) is not an error: `{changed: false, object: undefined}`.
 */
import { isDeepStrictEqual } from "node:util";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { isNotFound } from "../errors.ts";
import type { KubeObject } from "./cache.ts";
import { guardedPatch, resourceVersionTest, type GuardedPatchResult, type JsonPatchOp } from "./guarded-patch.ts";
import type { HasMetadata } from "./keys.ts";

export type { JsonPatchOp } from "./guarded-patch.ts";

export interface CustomObjectRef {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
}

/** Equality as the API server would see it: the JSON encodings of both, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalise(a), normalise(b));
}

function normalise(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

/** An object with a status subresource. */
export type WithStatus = HasMetadata & { status?: unknown };

/** The patch that sets `status` to `desired` on `obj`, or undefined when nothing would change. */
export function statusPatch(obj: WithStatus, desired: unknown): JsonPatchOp[] | undefined {
  if (jsonEqual(obj.status ?? {}, desired ?? {})) return undefined;
  return [resourceVersionTest(obj), { op: "add", path: "/status", value: normalise(desired ?? {}) }];
}

/** The object at `ref`, typed as the caller's kind (controller-runtime's `client.Get`), or undefined when gone. */
export async function getCustomObject<T extends HasMetadata = KubeObject>(api: CustomObjectsApi, ref: CustomObjectRef): Promise<T | undefined> {
  try {
    return (await api.getNamespacedCustomObject(ref)) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export type StatusUpdateResult<T extends WithStatus = KubeObject> = GuardedPatchResult<T>;

export function updateStatus<T extends WithStatus = KubeObject>(
  api: CustomObjectsApi,
  ref: CustomObjectRef,
  compute: (current: T) => unknown,
  options: { initial?: T; maxAttempts?: number } = {},
): Promise<StatusUpdateResult<T>> {
  return guardedPatch<T>({
    what: `status of ${ref.namespace}/${ref.name}`,
    read: () => getCustomObject<T>(api, ref),
    initial: options.initial,
    maxAttempts: options.maxAttempts,
    build: (current) => statusPatch(current, compute(current)),
    apply: async (patch) => (await api.patchNamespacedCustomObjectStatus({ ...ref, body: patch })) as T,
  });
}
