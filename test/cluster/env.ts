import { inject } from "vitest";
import type { FrontProxyPki } from "./pki.ts";

/** What the harness hands to integration tests (see global-setup.ts). */
export interface ClusterEnv {
  /** Scratch directory of this run (removed on stop). */
  dir: string;
  /** Admin (system:masters) kubeconfig. */
  kubeconfig: string;
  apiServerUrl: string;
  /** etcd client URL (plain HTTP on loopback), e.g. for forcing a compaction. */
  etcdUrl: string;
  redisUrl: string;
  kubectl: string;
  helm: string;
  /**
   * Routes of the API server's `cluster` egress proxy (egress-proxy.ts): register a Service with
   * `routeService()` (service-route.ts) to have the API server reach it on a local port.
   */
  egressRoutesDir: string;
  /** The aggregation layer's front-proxy PKI (paths), for tests of extension API servers. */
  frontProxy: FrontProxyPki;
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterEnv;
  }
}

export function clusterEnv(): ClusterEnv {
  return inject("cluster");
}
