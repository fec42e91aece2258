/**
 * "Service ns/name:port is served by 127.0.0.1:<localPort>" for the test control plane, where no kubelet or
 * kube-proxy exists (docs/decisions/sessions-api-0007-egress-in-tests.md):
 *
 * - the egress proxy (egress-proxy.ts) gets a route for the Service's cluster IP and its DNS name at that port,
 *   so kube-apiserver's connections to the Service (aggregated APIs, webhooks by Service) reach the local port;
 * - an EndpointSlice (managed by the harness, not by kube-controller-manager) marks the Service's port ready, as
 *   the aggregator's availability check requires. Its address is from TEST-NET-1 (192.0.2.0/24, RFC 5737) and is
 *   never dialled: the aggregator dials the cluster IP, which the egress proxy maps to loopback.
 *
 * `unroute()` removes both.
 */
import { rm, writeFile } from "node:fs/promises";
import { CoreV1Api, DiscoveryV1Api, KubeConfig } from "@kubernetes/client-node";
import type { ClusterEnv } from "./env.ts";
import { routeFile } from "./egress-routes.ts";

export interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
}

/** Never dialled (see above); documentation range, so it can never be a real host. */
const PLACEHOLDER_ADDRESS = "192.0.2.10";
const MANAGED_BY = "harness.test.vigil.dev";

function clients(env: Pick<ClusterEnv, "kubeconfig">): { core: CoreV1Api; discovery: DiscoveryV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return { core: kc.makeApiClient(CoreV1Api), discovery: kc.makeApiClient(DiscoveryV1Api) };
}

export async function routeService(env: Pick<ClusterEnv, "kubeconfig" | "egressRoutesDir">, svc: ServiceRef, localPort: number): Promise<() => Promise<void>> {
  const routesDir = env.egressRoutesDir;
  if (routesDir === undefined) throw new Error("this cluster has no egress proxy (it runs a node): Services are reachable for real");
  const { core, discovery } = clients(env);
  const service = await core.readNamespacedService({ name: svc.name, namespace: svc.namespace });
  const servicePort = service.spec?.ports?.find((p) => p.port === svc.port);
  if (servicePort === undefined) throw new Error(`service ${svc.namespace}/${svc.name} has no port ${svc.port}`);
  const clusterIP = service.spec?.clusterIP;
  const authorities = [
    `${svc.name}.${svc.namespace}.svc:${svc.port}`,
    ...(clusterIP === undefined || clusterIP === "None" ? [] : [`${clusterIP}:${svc.port}`]),
  ];
  for (const a of authorities) await writeFile(routeFile(routesDir, a), `${localPort}\n`);

  const sliceName = `${svc.name}-harness-${svc.port}`;
  await discovery.deleteNamespacedEndpointSlice({ name: sliceName, namespace: svc.namespace }).catch(() => undefined);
  await discovery.createNamespacedEndpointSlice({
    namespace: svc.namespace,
    body: {
      metadata: { name: sliceName, labels: { "kubernetes.io/service-name": svc.name, "endpointslice.kubernetes.io/managed-by": MANAGED_BY } },
      addressType: "IPv4",
      endpoints: [{ addresses: [PLACEHOLDER_ADDRESS], conditions: { ready: true } }],
      ports: [{ ...(servicePort.name === undefined ? {} : { name: servicePort.name }), port: localPort, protocol: "TCP" }],
    },
  });
  return async () => {
    for (const a of authorities) await rm(routeFile(routesDir, a), { force: true });
    await discovery.deleteNamespacedEndpointSlice({ name: sliceName, namespace: svc.namespace }).catch(() => undefined);
  };
}
