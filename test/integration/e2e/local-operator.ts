/**
 * vigil-operator as installed by the chart, run as a local process: the container env of the installed Deployment
 * (read from the API server and resolved as the kubelet would, pod name `vigil-operator-local`), authenticated with
 * a token of the chart's own ServiceAccount. Only what must differ on this machine is overridden: the admin,
 * webhook and sessions API ports (free local ports), their hosts (loopback), the files the Deployment mounts (the
 * injection ConfigMap, the bus signing Secret: materialised under a temp dir, and the settings naming them pointed
 * there) and KUBECONFIG.
 */
import type { V1Deployment } from "@kubernetes/client-node";
import type { ClusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { serviceAccountKubeconfig } from "../../cluster/service-account.ts";
import { kubectlJson } from "../support/kubectl.ts";
import { resolveContainerEnv } from "./env-resolve.ts";
import { localPath, materialiseMounts } from "./volumes.ts";

export const LOCAL_OPERATOR_POD = "vigil-operator-local";

export interface LocalOperatorConfig {
  env: Record<string, string>;
  serviceAccount: string;
  webhookPort: number;
  adminPort: number;
  /** 0 when the chart does not serve the sessions API. */
  sessionsApiPort: number;
}

export async function localOperatorConfig(env: ClusterEnv, namespace: string, deploymentName: string, dir: string): Promise<LocalOperatorConfig> {
  const deployment = await kubectlJson<V1Deployment>(env, ["get", "deployment", deploymentName], { namespace });
  const spec = deployment.spec?.template.spec;
  const container = spec?.containers[0];
  if (spec === undefined || container === undefined) throw new Error(`deployment ${namespace}/${deploymentName} has no container`);
  const serviceAccount = spec.serviceAccountName ?? "default";
  const resolved = await resolveContainerEnv(env, container, { name: LOCAL_OPERATOR_POD, namespace });

  // What the Deployment mounts (ConfigMaps, Secrets), as local files; settings naming a mounted path follow them.
  const mounted = await materialiseMounts(env, { metadata: { namespace }, spec }, container, dir);
  const files = Object.fromEntries(Object.entries(resolved).flatMap(([k, v]) => (mounted.some((m) => v.startsWith(m)) ? [[k, localPath(dir, v)]] : [])));

  const [webhookPort, adminPort] = [await freePort(), await freePort()];
  const sessionsApiPort = resolved["VIGIL_SESSIONS_API_PORT"] === undefined ? 0 : await freePort();
  return {
    serviceAccount,
    webhookPort,
    adminPort,
    sessionsApiPort,
    env: {
      ...resolved,
      // Local overrides: free ports on this machine, loopback for the webhook, the ConfigMap as a file, the SA token.
      VIGIL_ADMIN_PORT: String(adminPort),
      VIGIL_WEBHOOK_PORT: String(webhookPort),
      VIGIL_WEBHOOK_HOST: "127.0.0.1",
      ...(sessionsApiPort === 0 ? {} : { VIGIL_SESSIONS_API_PORT: String(sessionsApiPort), VIGIL_SESSIONS_API_HOST: "127.0.0.1" }),
      ...files,
      KUBECONFIG: await serviceAccountKubeconfig(env, namespace, serviceAccount),
    },
  };
}
