/**
 * What an informer lists and watches. A `ResourceSource` is a paginated LIST plus the watch path of the same
 * collection; build one with `customObjectSource` (AccessPolicy, SessionTermination, test CRDs) or `podSource`.
 * An empty namespace means all namespaces.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { KubeObject } from "./cache.ts";

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continueToken: string | undefined;
}

export interface ResourceSource {
  /** For logs, e.g. `vigil.dev/v1alpha1/accesspolicies (all namespaces)`. */
  readonly description: string;
  /** Collection path for `Watch.watch`, e.g. `/apis/vigil.dev/v1alpha1/namespaces/ns/accesspolicies`. */
  readonly watchPath: string;
  listPage(continueToken: string | undefined, limit: number): Promise<ListPage>;
}

interface ListBody {
  items?: unknown;
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

function toPage(body: ListBody): ListPage {
  const items = Array.isArray(body.items) ? (body.items as KubeObject[]) : [];
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

export function customObjectSource(kc: KubeConfig, ref: CustomResourceRef): ResourceSource {
  const api = kc.makeApiClient(CustomObjectsApi);
  const ns = ref.namespace ?? "";
  const base = `/apis/${ref.group}/${ref.version}`;
  return {
    description: `${ref.group}/${ref.version}/${ref.plural} (${ns === "" ? "all namespaces" : `namespace ${ns}`})`,
    watchPath: ns === "" ? `${base}/${ref.plural}` : `${base}/namespaces/${ns}/${ref.plural}`,
    async listPage(continueToken, limit) {
      const common = { group: ref.group, version: ref.version, plural: ref.plural, limit };
      const paging = continueToken === undefined ? {} : { _continue: continueToken };
      const body = (ns === ""
        ? await api.listClusterCustomObject({ ...common, ...paging })
        : await api.listNamespacedCustomObject({ ...common, ...paging, namespace: ns })) as ListBody;
      return toPage(body);
    },
  };
}

export function podSource(kc: KubeConfig, options: { namespace?: string; labelSelector?: string } = {}): ResourceSource {
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
      return toPage({
        items: list.items,
        metadata: { resourceVersion: list.metadata?.resourceVersion ?? "", _continue: list.metadata?._continue ?? "" },
      });
    },
  };
}
