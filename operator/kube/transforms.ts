/**
 * What the informer caches keep of each kind (controller-runtime's cache `TransformFunc`): only what the
 * controllers read. Pure functions: they never mutate their input and return a new object when they drop
 * anything. See docs/decisions/operator-runtime-0006-slim-informer-caches.md.
 *
 * - Pods: the operator reads a cached Pod's labels only (`AccessPolicyReconciler` asks whether any Pod of the
 *   namespace matches a policy's selector); the informer needs its key (namespace, name) and resourceVersion.
 *   Everything else (spec, status, annotations, ownerReferences, managedFields…) is dropped: a Pod is typically
 *   4 KB and more of JSON, its cached form a few hundred bytes.
 * - AccessPolicies and SessionTerminations: the reconcilers read spec, status, finalizers, generation,
 *   deletionTimestamp, uid and Vigil's own annotations (the termination plan), so they are kept whole but for the
 *   server-side-apply bookkeeping (`metadata.managedFields`) and `kubectl apply`'s copy of the whole object
 *   (the `kubectl.kubernetes.io/last-applied-configuration` annotation), which nothing in the operator reads.
 *   The annotations map stays (empty if that was its only entry): a JSON patch that adds an annotation to an
 *   object without one replaces the whole map (session-termination.ts `planPatch`).
 * - A FINISHED SessionTermination (Completed/Failed) is kept as a summary (`terminationForCache`): nothing is left to
 *   do for it but keep its revocation on the bus (a rebuild after a Redis loss re-creates it from the cache), count
 *   late acknowledgements and delete it after its TTL. Kept: apiVersion, kind, name, namespace, uid, resourceVersion,
 *   generation, creation and deletion times, the spec (the revocation's target, reason, cutoff, lifetime, TTL), the
 *   plan without its list of expected sidecars (its expiry and session key), and of the status the phase, the bus
 *   revision, the completion time and the four counts. Dropped: conditions, unresponsiveSidecars, start time,
 *   labels, other annotations, the expected sidecars (up to 2,000 pod names). The reconciler never writes a
 *   finished termination's status from this summary: it reads the object first (session-termination.ts).
 *   Unfinished terminations are kept whole (as above): their reconciles write status from the cached object.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { TERMINATION_PLAN_ANNOTATION } from "../api/annotations.ts";
import type { ObjectMeta, SessionTermination, SessionTerminationStatus } from "../api/v1alpha1/index.ts";
import { decodePlan, encodePlan } from "../controller/termination-plan.ts";
import { isFinished } from "../controller/termination-status.ts";
import type { HasMetadata } from "./keys.ts";

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/** A Pod as the informer caches it: the only fields any controller reads. */
export interface CachedPod {
  metadata: {
    name?: string | undefined;
    namespace?: string | undefined;
    resourceVersion?: string | undefined;
    labels?: Record<string, string> | undefined;
  };
}

/** The cached form of a Pod: key, resourceVersion and labels (a copy of the labels map). */
export function podForCache(pod: V1Pod): CachedPod {
  const meta = pod.metadata;
  const metadata: CachedPod["metadata"] = {};
  if (meta?.name !== undefined) metadata.name = meta.name;
  if (meta?.namespace !== undefined) metadata.namespace = meta.namespace;
  if (meta?.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion;
  if (meta?.labels !== undefined) metadata.labels = { ...meta.labels };
  return { metadata };
}

type BookkeepingMetadata = NonNullable<HasMetadata["metadata"]> & { managedFields?: unknown; annotations?: Record<string, string> | undefined };

/**
 * The object without `metadata.managedFields` and the last-applied-configuration annotation; the object itself
 * when it has neither (nothing to copy). Shallow copies of the object, its metadata and its annotations otherwise.
 */
export function withoutApplyBookkeeping<T extends HasMetadata>(obj: T): T {
  const meta = obj.metadata as BookkeepingMetadata | undefined;
  if (meta === undefined) return obj;
  const hasLastApplied = meta.annotations !== undefined && Object.hasOwn(meta.annotations, LAST_APPLIED_ANNOTATION);
  if (meta.managedFields === undefined && !hasLastApplied) return obj;
  const metadata: BookkeepingMetadata = { ...meta };
  delete metadata.managedFields;
  if (hasLastApplied) {
    metadata.annotations = Object.fromEntries(Object.entries(meta.annotations ?? {}).filter(([key]) => key !== LAST_APPLIED_ANNOTATION));
  }
  return { ...obj, metadata };
}

const SUMMARY_METADATA = ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp"] as const;
const SUMMARY_STATUS = [
  "phase",
  "busRevision",
  "completionTime",
  "sidecarsAcknowledged",
  "sidecarsExpected",
  "sessionsTerminated",
  "connectionsClosed",
] as const;

/** Copies the fields of `from` named in `fields` that are set. */
function pick<T extends object, K extends keyof T>(from: T, fields: readonly K[]): Pick<T, K> {
  const out: Partial<Pick<T, K>> = {};
  for (const field of fields) if (from[field] !== undefined) out[field] = from[field];
  return out as Pick<T, K>;
}

/**
 * The cached form of a SessionTermination: a finished one as its summary (see above), an unfinished one
 * `withoutApplyBookkeeping`. The spec object is shared with the input, never modified.
 */
export function terminationForCache(t: SessionTermination): SessionTermination {
  if (!isFinished(t.status)) return withoutApplyBookkeeping(t);
  const metadata: ObjectMeta = pick(t.metadata, SUMMARY_METADATA);
  const raw = t.metadata.annotations?.[TERMINATION_PLAN_ANNOTATION];
  const plan = decodePlan(raw);
  metadata.annotations =
    plan === undefined || raw === undefined ? {} : { [TERMINATION_PLAN_ANNOTATION]: plan.expected.length === 0 ? raw : encodePlan({ ...plan, expected: [] }) };
  const status: SessionTerminationStatus = pick(t.status ?? {}, SUMMARY_STATUS);
  return { apiVersion: t.apiVersion, kind: t.kind, metadata, spec: t.spec, status };
}
