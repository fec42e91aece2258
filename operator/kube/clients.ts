/**
 * Kubernetes clients: the KubeConfig comes from `KUBECONFIG` when set (a path or colon-separated list), else
 * from the in-cluster service account (KUBERNETES_SERVICE_HOST + the mounted token); neither → a ConfigError.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig } from "@kubernetes/client-node";
import { ConfigError } from "../errors.ts";

export function loadKubeConfig(env: Readonly<Record<string, string | undefined>> = process.env): KubeConfig {
  const kc = new KubeConfig();
  const kubeconfig = env["KUBECONFIG"];
  if (kubeconfig !== undefined && kubeconfig !== "") {
    try {
      kc.loadFromDefault();
    } catch (err) {
      throw new ConfigError("KUBECONFIG", `cannot load: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") {
    kc.loadFromCluster();
  } else {
    throw new ConfigError("KUBECONFIG", "is not set and the process is not running in a cluster");
  }
  if (kc.getCurrentCluster() === null) throw new ConfigError("KUBECONFIG", "has no current cluster");
  return kc;
}

export interface KubeClients {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly customObjects: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly events: EventsV1Api;
}

export function makeClients(kc: KubeConfig): KubeClients {
  return Object.freeze({
    kc,
    core: kc.makeApiClient(CoreV1Api),
    customObjects: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
  });
}
