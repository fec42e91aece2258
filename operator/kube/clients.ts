/**
 * Kubernetes clients: the KubeConfig comes from `KUBECONFIG` when set (a path or colon-separated list), else
 * from the in-cluster service account (KUBERNETES_SERVICE_HOST + the mounted token); neither → a ConfigError.
 *
 * It is a `PooledKubeConfig`: every API client and watch made from it shares one connection pool per (cluster,
 * user). @kubernetes/client-node 2.0.1 makes a new undici Agent for every request
 * (`KubeConfig.applySecurityAuthentication` → `createDispatcher`, which is not cached as `createAgent` is), so
 * every API call of the operator opened a new TLS connection (handshake, a TLS context with the CA, kept open
 * until its keep-alive ran out): most of the operator's native memory and much of its CPU at scale
 * (docs/decisions/perf-0003-operator-at-scale.md). client-go shares one transport per TLS configuration the same way.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, type Cluster, type User } from "@kubernetes/client-node";
import { ConfigError } from "../errors.ts";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * What a connection pool is shared by: the cluster and the user as configured (client-go's TLS cache key). A
 * certificate file rewritten in place keeps its key (the pool keeps the connections it has; new ones read it).
 */
export function dispatcherKey(cluster: Cluster | null, user: User | null): string {
  const c =
    cluster === null ? null : [cluster.name, cluster.server, cluster.caFile, cluster.caData, cluster.skipTLSVerify, cluster.tlsServerName, cluster.proxyUrl];
  const u = user === null ? null : [user.name, user.certFile, user.certData, user.keyFile, user.keyData];
  return JSON.stringify([c, u]);
}

/** A KubeConfig whose requests share one undici dispatcher (connection pool) per `dispatcherKey`. */
export class PooledKubeConfig extends KubeConfig {
  readonly #dispatchers = new Map<string, Dispatcher>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getDispatcher();
    if (made === undefined) return;
    const key = dispatcherKey(this.getCurrentCluster(), this.getCurrentUser());
    const shared = this.#dispatchers.get(key);
    // The Agent just made has not connected anywhere: dropping it releases nothing but the object.
    if (shared === undefined) this.#dispatchers.set(key, made);
    else context.setDispatcher(shared);
  }
}

export function loadKubeConfig(env: Readonly<Record<string, string | undefined>> = process.env): KubeConfig {
  const kc = new PooledKubeConfig();
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
