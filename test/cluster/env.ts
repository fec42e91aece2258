import { inject } from "vitest";

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
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterEnv;
  }
}

export function clusterEnv(): ClusterEnv {
  return inject("cluster");
}
