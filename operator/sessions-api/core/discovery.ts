/**
 * Discovery documents (pure): what `kubectl api-resources` and every client's RESTMapper learn about the group.
 * Both the legacy documents (APIGroupList, APIGroup, APIResourceList) and aggregated discovery v2
 * (APIGroupDiscoveryList, which the aggregator asks for first).
 */
import { SESSIONS_API_VERSION, SESSIONS_GROUP, SESSIONS_VERSION, VIGIL_SESSION } from "../../api/sessions/v1alpha1.ts";

export const DISCOVERY_V2_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const groupVersion = { groupVersion: SESSIONS_API_VERSION, version: SESSIONS_VERSION };

const group = { name: SESSIONS_GROUP, versions: [groupVersion], preferredVersion: groupVersion };

export function apiGroup(): Record<string, unknown> {
  return { kind: "APIGroup", apiVersion: "v1", ...group };
}

export function apiGroupList(): Record<string, unknown> {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [group] };
}

export function apiResourceList(): Record<string, unknown> {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: SESSIONS_API_VERSION,
    resources: [
      {
        name: VIGIL_SESSION.plural,
        singularName: VIGIL_SESSION.singular,
        namespaced: true,
        kind: VIGIL_SESSION.kind,
        verbs: [...VIGIL_SESSION.verbs],
        shortNames: [...VIGIL_SESSION.shortNames],
        categories: [...VIGIL_SESSION.categories],
      },
    ],
  };
}

export function aggregatedDiscovery(): Record<string, unknown> {
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items: [
      {
        metadata: { name: SESSIONS_GROUP },
        versions: [
          {
            version: SESSIONS_VERSION,
            freshness: "Current",
            resources: [
              {
                resource: VIGIL_SESSION.plural,
                responseKind: { group: SESSIONS_GROUP, version: SESSIONS_VERSION, kind: VIGIL_SESSION.kind },
                scope: "Namespaced",
                singularResource: VIGIL_SESSION.singular,
                verbs: [...VIGIL_SESSION.verbs],
                shortNames: [...VIGIL_SESSION.shortNames],
                categories: [...VIGIL_SESSION.categories],
              },
            ],
          },
        ],
      },
    ],
  };
}
