/**
 * vigil-operator as installed by the chart, run as a local process: the container env of the installed Deployment
 * (read from the API server and resolved as the kubelet would, pod name `vigil-operator-local`), authenticated with
 * a token of the chart's own ServiceAccount. Only what must differ on this machine is overridden: the admin,
 * webhook and sessions API ports (free local ports), their hosts (loopback), the injection config file (the chart's
 * ConfigMap written to a temp file instead of mounted) and KUBECONFIG.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import type { ClusterEnv } from "../../cluster/env.ts";
import { freePort } from "../../cluster/ports.ts";
import { serviceAccountKubeconfig } from "../../cluster/service-account.ts";
import { kubectlJson } from "../support/kubectl.ts";
import { resolveContainerEnv } from "./env-resolve.ts";

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

  // The injection config the Deployment mounts from a ConfigMap, as a local file.
  const injectionVolume = spec.volumes?.find((v) => v.configMap !== undefined && container.volumeMounts?.some((m) => m.name === v.name && resolved["VIGIL_INJECTION_CONFIG_FILE"]?.startsWith(m.mountPath)));
  const configMap = await kubectlJson<{ data: Record<string, string> }>(env, ["get", "configmap", injectionVolume?.configMap?.name ?? ""], { namespace });
  const injectionFile = join(dir, "injection.json");
  await writeFile(injectionFile, configMap.data["injection.json"] ?? "");

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
      VIGIL_INJECTION_CONFIG_FILE: injectionFile,
      KUBECONFIG: await serviceAccountKubeconfig(env, namespace, serviceAccount),
    },
  };
}
