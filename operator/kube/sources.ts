/**
 * What an informer lists and watches. A `ResourceSource<T>` is a paginated LIST plus the watch path of the same
 * collection, typed by the objects it yields; build one with `customObjectSource<AccessPolicy>(…)` (AccessPolicy,
 * SessionTermination, test CRDs) or `podSource` (V1Pod). An empty namespace means all namespaces.
 * The type parameter is where the API server's JSON becomes a typed object: it is trusted as the CRD's schema (the
 * API server validated it), as controller-runtime's decoder does.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { KubeObject } from "./cache.ts";
import type { HasMetadata } from "./keys.ts";

export interface ListPage<T extends HasMetadata = KubeObject> {
  items: T[];
  resourceVersion: string;
  continueToken: string | undefined;
}

export interface ResourceSource<T extends HasMetadata = KubeObject> {
  /** For logs, e.g. `vigil.dev/v1alpha1/accesspolicies (all namespaces)`. */
  readonly description: string;
  /** Collection path for `Watch.watch`, e.g. `/apis/vigil.dev/v1alpha1/namespaces/ns/accesspolicies`. */
  readonly watchPath: string;
  listPage(continueToken: string | undefined, limit: number): Promise<ListPage<T>>;
}

interface ListBody {
  items?: unknown;
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

function toPage<T extends HasMetadata>(body: ListBody): ListPage<T> {
  const items = Array.isArray(body.items) ? (body.items as T[]) : [];
  const token = body.metadata?._continue ?? body.metadata?.continue;
  return {
    items,
    resourceVersion: body.metadata?.resourceVersion ?? "",
    continueToken: token === undefined || token === "" ? undefined : token,
  };
}

export interface CustomResourceRef {
  group: string;
  version: string;
  plural: string;
  /** Empty or absent: all namespaces. */
  namespace?: string;
}

export function customObjectSource<T extends HasMetadata = KubeObject>(kc: KubeConfig, ref: CustomResourceRef): ResourceSource<T> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const ns = ref.namespace ?? "";
  const base = `/apis/${ref.group}/${ref.version}`;
  return {
    description: `${ref.group}/${ref.version}/${ref.plural} (${ns === "" ? "all namespaces" : `namespace ${ns}`})`,
    watchPath: ns === "" ? `${base}/${ref.plural}` : `${base}/namespaces/${ns}/${ref.plural}`,
    async listPage(continueToken, limit) {
      const common = { group: ref.group, version: ref.version, plural: ref.plural, limit };
      const paging = continueToken === undefined ? {} : { _continue: continueToken };
      const body = (
        ns === "" ? await api.listClusterCustomObject({ ...common, ...paging }) : await api.listNamespacedCustomObject({ ...common, ...paging, namespace: ns })
      ) as ListBody;
      return toPage<T>(body);
    },
  };
}

export function podSource(kc: KubeConfig, options: { namespace?: string; labelSelector?: string } = {}): ResourceSource<V1Pod> {
  const api = kc.makeApiClient(CoreV1Api);
  const ns = options.namespace ?? "";
  const selector = options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector };
  const query = options.labelSelector === undefined ? "" : `?labelSelector=${encodeURIComponent(options.labelSelector)}`;
  return {
    description: `v1/pods (${ns === "" ? "all namespaces" : `namespace ${ns}`})`,
    watchPath: `${ns === "" ? "/api/v1/pods" : `/api/v1/namespaces/${ns}/pods`}${query}`,
    async listPage(continueToken, limit) {
      const paging = continueToken === undefined ? {} : { _continue: continueToken };
      const list =
        ns === ""
          ? await api.listPodForAllNamespaces({ ...selector, ...paging, limit })
          : await api.listNamespacedPod({ ...selector, ...paging, limit, namespace: ns });
      return toPage<V1Pod>({
        items: list.items,
        metadata: { resourceVersion: list.metadata?.resourceVersion ?? "", _continue: list.metadata?._continue ?? "" },
      });
    },
  };
}
