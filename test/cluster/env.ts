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
   * `routeService()` (service-route.ts) to have the API server reach it on a local port. Absent with a node, whose
   * Pods and Services are reachable for real.
   */
  egressRoutesDir?: string;
  /** The aggregation layer's front-proxy PKI (paths), for tests of extension API servers. */
  frontProxy?: FrontProxyPki;
  /** Present when the cluster runs a node (`startCluster({ node: true })`): Pods really run. */
  node?: NodeEnv;
}

/** The test node (test/cluster/node.ts). */
export interface NodeEnv {
  /** Node name (kubectl get nodes). */
  name: string;
  /** The node's address inside its network namespace (also the API server's advertised address). */
  ip: string;
  podCidr: string;
  serviceCidr: string;
  /** The cgroup tree (in every hierarchy) that holds everything the node runs, e.g. `vigil-ab12cd`. */
  cgroup: string;
  /** Hierarchy root of the cgroup v1 memory controller, or of the unified hierarchy on cgroup v2. */
  memoryCgroupRoot: string;
  /** argv prefix that runs a command in the node's network and mount namespaces (and its cgroup). */
  exec: string[];
  /** containerd's socket as seen from the host, and the matching ctr. */
  containerdAddress: string;
  ctr: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterEnv;
  }
}

export function clusterEnv(): ClusterEnv {
  return inject("cluster");
}
