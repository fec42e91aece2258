import type { V1Pod } from "@kubernetes/client-node";

/** The workload a pod belongs to, as people name it (`Deployment`/`web`), for the sessions its sidecar reports. */
export interface OwnerWorkload {
  kind: string;
  name: string;
}

const TEMPLATE_HASH_LABEL = "pod-template-hash";

/**
 * The owning workload from the pod's controller reference, as Istio's injector derives it: a ReplicaSet whose name
 * ends in the pod's `pod-template-hash` belongs to the Deployment named by the rest; a Job named `<cronjob>-<digits>`
 * with a CronJob's hash is not guessed (it stays the Job). A pod without a controller has no owner workload.
 */
export function ownerWorkload(pod: V1Pod): OwnerWorkload | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (owner === undefined || owner.kind === "" || owner.name === "") return undefined;
  const hash = pod.metadata?.labels?.[TEMPLATE_HASH_LABEL];
  if (owner.kind === "ReplicaSet" && hash !== undefined && hash !== "" && owner.name.endsWith(`-${hash}`)) {
    return { kind: "Deployment", name: owner.name.slice(0, -(hash.length + 1)) };
  }
  return { kind: owner.kind, name: owner.name };
}
