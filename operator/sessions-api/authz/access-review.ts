/**
 * Delegated authorization: one SubjectAccessReview per distinct (user, verb, namespace, name), answered from a
 * bounded LRU cache for `ttlMs` (default 10 s, allowed and denied alike, as k8s.io/apiserver's delegating
 * authorizer) with concurrent identical checks sharing one review. A failed review is not cached: the request is
 * answered 500 and the next one asks again.
 */
import { AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { LRUCache } from "lru-cache";
import { SESSIONS_GROUP, SESSIONS_VERSION, VIGIL_SESSION } from "../../api/sessions/v1alpha1.ts";
import type { UserInfo } from "../authn/authenticate.ts";

export interface AccessCheck {
  user: UserInfo;
  verb: string;
  /** "" = cluster scope (all namespaces). */
  namespace: string;
  name: string | undefined;
}

export interface Decision {
  allowed: boolean;
  reason: string | undefined;
}

export type ReviewFn = (check: AccessCheck) => Promise<Decision>;

export interface AccessReviewerOptions {
  ttlMs?: number;
  max?: number;
}

/** The cache key: everything the decision depends on, in a canonical order. */
export function checkKey(c: AccessCheck): string {
  const extra = Object.entries(c.user.extra)
    .map(([k, v]) => [k, [...v].sort()] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([c.user.name, c.user.uid ?? "", [...c.user.groups].sort(), extra, c.verb, c.namespace, c.name ?? ""]);
}

export class AccessReviewer {
  readonly #cache: LRUCache<string, Decision, AccessCheck>;
  #reviews = 0;

  constructor(review: ReviewFn, options: AccessReviewerOptions = {}) {
    this.#cache = new LRUCache<string, Decision, AccessCheck>({
      max: options.max ?? 10_000,
      ttl: options.ttlMs ?? 10_000,
      fetchMethod: async (_key, _stale, { context }) => {
        this.#reviews += 1;
        return review(context);
      },
    });
  }

  /** Reviews sent to the API server so far (cache misses). */
  get reviews(): number {
    return this.#reviews;
  }

  async check(c: AccessCheck): Promise<Decision> {
    const decision = await this.#cache.fetch(checkKey(c), { context: c });
    if (decision === undefined) throw new Error("access review returned nothing");
    return decision;
  }
}

/** A ReviewFn that asks the API server (needs `create subjectaccessreviews`, e.g. system:auth-delegator). */
export function subjectAccessReview(kc: KubeConfig): ReviewFn {
  const api = kc.makeApiClient(AuthorizationV1Api);
  return async (c) => {
    const result = await api.createSubjectAccessReview({
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: c.user.name,
          ...(c.user.uid === undefined ? {} : { uid: c.user.uid }),
          groups: c.user.groups,
          extra: c.user.extra,
          resourceAttributes: {
            group: SESSIONS_GROUP,
            version: SESSIONS_VERSION,
            resource: VIGIL_SESSION.plural,
            verb: c.verb,
            namespace: c.namespace,
            ...(c.name === undefined ? {} : { name: c.name }),
          },
        },
      },
    });
    return { allowed: result.status?.allowed === true && result.status.denied !== true, reason: result.status?.reason };
  };
}
