import type { TestProject } from "vitest/node";
import { startCluster, type Cluster } from "./harness.ts";

let cluster: Cluster | undefined;

/** Vitest global setup: one control plane + Redis per test run, handed to tests via inject("cluster"). */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startCluster();
  console.log(`[cluster] etcd + kube-apiserver + kube-controller-manager + redis ready in ${(cluster.startupMs / 1000).toFixed(1)} s`);
  project.provide("cluster", cluster.env);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
  cluster = undefined;
}
