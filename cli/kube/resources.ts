/**
 * Paths and reads of the resources kubectl-vigil uses: vigilsessions (the aggregated sessions API), AccessPolicies
 * and SessionTerminations (CRDs), and who the user is (SelfSubjectReview). Lists follow `continue` to the end.
 */
import { SESSIONS_GROUP, SESSIONS_VERSION, VIGIL_SESSION, type VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import { ACCESS_POLICY, GROUP, SESSION_TERMINATION, VERSION } from "../../operator/api/v1alpha1/group.ts";
import type { AccessPolicy } from "../../operator/api/v1alpha1/access-policy.ts";
import type { SessionTermination } from "../../operator/api/v1alpha1/session-termination.ts";
import type { Kube } from "./client.ts";

/** null = every namespace. */
export type Scope = string | null;

const nsPart = (namespace: Scope): string => (namespace === null ? "" : `/namespaces/${encodeURIComponent(namespace)}`);

export const sessionsPath = (namespace: Scope, name?: string): string =>
  `/apis/${SESSIONS_GROUP}/${SESSIONS_VERSION}${nsPart(namespace)}/${VIGIL_SESSION.plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
export const vigilPath = (plural: string, namespace: Scope, name?: string): string =>
  `/apis/${GROUP}/${VERSION}${nsPart(namespace)}/${plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
export const terminationsPath = (namespace: Scope, name?: string): string => vigilPath(SESSION_TERMINATION.plural, namespace, name);
export const policiesPath = (namespace: Scope, name?: string): string => vigilPath(ACCESS_POLICY.plural, namespace, name);

export interface List<T> {
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** One page. */
export function listPage<T>(kube: Kube, path: string, query: Record<string, string | number | undefined> = {}, signal?: AbortSignal): Promise<List<T>> {
  return kube.json<List<T>>({ path, query, ...(signal === undefined ? {} : { signal }) });
}

/** Every item, following `continue` in pages of `pageSize`. */
export async function listAll<T>(kube: Kube, path: string, query: Record<string, string | number | undefined> = {}, pageSize = 500): Promise<List<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await listPage<T>(kube, path, { ...query, limit: pageSize, continue: cont });
    items.push(...page.items);
    resourceVersion ??= page.metadata.resourceVersion;
    cont = page.metadata.continue === "" ? undefined : page.metadata.continue;
  } while (cont !== undefined);
  return { metadata: resourceVersion === undefined ? {} : { resourceVersion }, items };
}

export const listSessions = (kube: Kube, namespace: Scope, fieldSelector: string): Promise<List<VigilSession>> =>
  listAll<VigilSession>(kube, sessionsPath(namespace), { fieldSelector });
export const listPolicies = (kube: Kube, namespace: Scope): Promise<List<AccessPolicy>> => listAll<AccessPolicy>(kube, policiesPath(namespace));
export const listTerminations = (kube: Kube, namespace: Scope): Promise<List<SessionTermination>> =>
  listAll<SessionTermination>(kube, terminationsPath(namespace));

export interface Identity {
  username: string;
  groups: string[];
}

/** Who the API server says the user is (authentication.k8s.io/v1 SelfSubjectReview, allowed to every user). */
export async function whoAmI(kube: Kube): Promise<Identity> {
  const review = await kube.json<{ status?: { userInfo?: { username?: string; groups?: string[] } } }>({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  return { username: review.status?.userInfo?.username ?? "unknown", groups: review.status?.userInfo?.groups ?? [] };
}
