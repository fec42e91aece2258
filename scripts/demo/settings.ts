/**
 * What the demo can be told through its environment (all optional; pure parsing, no I/O):
 *
 *   VIGIL_DEMO_KUBECONFIG, VIGIL_DEMO_REDIS_URL, VIGIL_DEMO_KUBECTL
 *       use an already running control plane and Redis instead of starting one (all three, or none);
 *   VIGIL_DEMO_EGRESS_ROUTES_DIR   with those: the routes directory of that control plane's egress proxy (the
 *       harness's), through which its aggregation layer reaches the demo's sessions API;
 *   VIGIL_DEMO_NAMESPACE           the workload namespace (default `shop`);
 *   VIGIL_DEMO_OPERATOR_NAMESPACE  where the operator keeps its Lease (default `vigil-system`);
 *   VIGIL_DEMO_BUS_PREFIX          the policy bus key prefix (default `vigil:`);
 *   VIGIL_DEMO_DIR                 the state directory: tokens, env file, logs (default `<repo>/.vigil/demo`).
 *
 * A bad value throws a `DemoSettingError` whose message starts with the variable's name.
 */
import { isAbsolute, join, resolve } from "node:path";

export interface ExternalCluster {
  kubeconfig: string;
  redisUrl: string;
  kubectl: string;
  /** The control plane's egress routes (test/cluster/service-route.ts); absent: no sessions API route. */
  egressRoutesDir?: string;
}

export interface DemoSettings {
  repo: string;
  stateDir: string;
  namespace: string;
  operatorNamespace: string;
  busPrefix: string;
  /** Absent: the demo starts its own control plane and Redis. */
  external: ExternalCluster | undefined;
}

export class DemoSettingError extends Error {
  readonly code = "DEMO_SETTING_INVALID";
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`);
    this.name = "DemoSettingError";
    this.key = key;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespace(env: Readonly<Record<string, string | undefined>>, key: string, fallback: string): string {
  const value = env[key] ?? fallback;
  if (!DNS_LABEL.test(value)) throw new DemoSettingError(key, "must be a namespace name (DNS-1123 label)");
  return value;
}

function absolutePath(env: Readonly<Record<string, string | undefined>>, key: string): string {
  const value = env[key] ?? "";
  if (value === "") throw new DemoSettingError(key, "must be set with the other VIGIL_DEMO_* cluster variables");
  return resolve(value);
}

function external(env: Readonly<Record<string, string | undefined>>): ExternalCluster | undefined {
  const keys = ["VIGIL_DEMO_KUBECONFIG", "VIGIL_DEMO_REDIS_URL", "VIGIL_DEMO_KUBECTL"] as const;
  if (keys.every((k) => (env[k] ?? "") === "")) return undefined;
  const redisUrl = env["VIGIL_DEMO_REDIS_URL"] ?? "";
  if (!/^rediss?:\/\/[^\s]+$/.test(redisUrl)) throw new DemoSettingError("VIGIL_DEMO_REDIS_URL", "must be a redis:// or rediss:// URL");
  const routes = env["VIGIL_DEMO_EGRESS_ROUTES_DIR"] ?? "";
  return {
    kubeconfig: absolutePath(env, "VIGIL_DEMO_KUBECONFIG"),
    redisUrl,
    kubectl: absolutePath(env, "VIGIL_DEMO_KUBECTL"),
    ...(routes === "" ? {} : { egressRoutesDir: resolve(routes) }),
  };
}

export function demoSettings(env: Readonly<Record<string, string | undefined>>, repo: string): DemoSettings {
  const busPrefix = env["VIGIL_DEMO_BUS_PREFIX"] ?? "vigil:";
  if (!/^[\x21-\x7e]{1,64}$/.test(busPrefix)) {
    throw new DemoSettingError("VIGIL_DEMO_BUS_PREFIX", "must be 1–64 printable characters without spaces");
  }
  const dir = env["VIGIL_DEMO_DIR"] ?? join(repo, ".vigil/demo");
  if (dir === "" || (isAbsolute(dir) && resolve(dir) === "/")) throw new DemoSettingError("VIGIL_DEMO_DIR", "must be a directory of its own");
  return {
    repo,
    stateDir: resolve(dir),
    namespace: namespace(env, "VIGIL_DEMO_NAMESPACE", "shop"),
    operatorNamespace: namespace(env, "VIGIL_DEMO_OPERATOR_NAMESPACE", "vigil-system"),
    busPrefix,
    external: external(env),
  };
}
