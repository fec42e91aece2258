/**
 * The sessions API in the demo: what the chart installs for it (a Service for the operator's sessions API port and
 * the APIService `v1alpha1.sessions.vigil.dev`), here applied by the demo itself, and the route from the control
 * plane's aggregation layer to the local operator process (test/cluster/service-route.ts: the API server reaches
 * the Service through the harness's loopback egress proxy, as in the sessions API tests).
 */

export const SESSIONS_API_SERVICE = "vigil-sessions";
export const SESSIONS_API_PORT = 8443;
export const API_SERVICE_NAME = "v1alpha1.sessions.vigil.dev";

/** The Service and the APIService (caBundle: the operator fills it in, self-managed certificate). */
export function sessionsApiManifest(operatorNamespace: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${SESSIONS_API_SERVICE}
  namespace: ${operatorNamespace}
spec:
  ports:
    - name: sessions-api
      port: ${SESSIONS_API_PORT}
      protocol: TCP
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: ${API_SERVICE_NAME}
spec:
  group: sessions.vigil.dev
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: false
  service:
    name: ${SESSIONS_API_SERVICE}
    namespace: ${operatorNamespace}
    port: ${SESSIONS_API_PORT}
`;
}

/** True once the aggregator reports the APIService Available (discovery through the route worked). */
export function apiServiceAvailable(json: string): boolean {
  const status = (JSON.parse(json) as { status?: { conditions?: { type: string; status: string }[] } }).status;
  return status?.conditions?.some((c) => c.type === "Available" && c.status === "True") === true;
}
