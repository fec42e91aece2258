/**
 * Keeps the front-proxy settings current: an informer on the one ConfigMap
 * `kube-system/extension-apiserver-authentication` (LIST + WATCH by field selector, which the
 * `extension-apiserver-authentication-reader` Role allows), parsed on every change and handed to `onChange`.
 * A ConfigMap that disappears or turns unusable leaves the last good settings in place (logged).
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../../lib/log.ts";
import { Informer } from "../../kube/informer.ts";
import type { ResourceSource } from "../../kube/sources.ts";
import { AUTH_CONFIGMAP, parseAuthConfigMap, type FrontProxyConfig } from "./front-proxy-config.ts";

export function authConfigMapSource(kc: KubeConfig): ResourceSource {
  const api = kc.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${AUTH_CONFIGMAP.name}`;
  return {
    description: `v1/configmaps ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}`,
    watchPath: `/api/v1/namespaces/${AUTH_CONFIGMAP.namespace}/configmaps?fieldSelector=${encodeURIComponent(fieldSelector)}`,
    async listPage(continueToken, limit) {
      const list = await api.listNamespacedConfigMap({
        namespace: AUTH_CONFIGMAP.namespace,
        fieldSelector,
        limit,
        ...(continueToken === undefined ? {} : { _continue: continueToken }),
      });
      const token = list.metadata?._continue ?? "";
      return { items: list.items as never[], resourceVersion: list.metadata?.resourceVersion ?? "", continueToken: token === "" ? undefined : token };
    },
  };
}

export interface AuthConfigWatch {
  /** Resolves after the first LIST (the settings may still be undefined if the ConfigMap is unusable). */
  synced: Promise<void>;
  current: () => FrontProxyConfig | undefined;
  stop: () => Promise<void>;
}

export function watchAuthConfig(kc: KubeConfig, log: Logger, onChange: (config: FrontProxyConfig) => void, resyncMs = 300_000): AuthConfigWatch {
  let current: FrontProxyConfig | undefined;
  const key = `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}`;
  const informer: Informer = new Informer({
    kc,
    log,
    resyncMs,
    source: authConfigMapSource(kc),
    onKey: (changed) => {
      if (changed !== key) return;
      const object = informer.get(key) as { data?: Record<string, string> } | undefined;
      if (object === undefined) {
        log.warn({ event: "sessions_api.authn_config_missing" }, "front-proxy ConfigMap deleted; keeping the last settings");
        return;
      }
      const parsed = parseAuthConfigMap(object.data);
      if (!parsed.ok) {
        log.warn({ event: "sessions_api.authn_config_invalid", problem: parsed.problem }, "front-proxy settings unusable; keeping the last ones");
        return;
      }
      if (current?.caPem === parsed.config.caPem && JSON.stringify({ ...current, cas: [] }) === JSON.stringify({ ...parsed.config, cas: [] })) return;
      current = parsed.config;
      log.info({ event: "sessions_api.authn_config", allowedNames: current.allowedNames, cas: current.cas.length }, "front-proxy settings loaded");
      onChange(current);
    },
  });
  informer.start();
  return {
    synced: informer.waitForSync(),
    current: () => current,
    stop: () => informer.stop(),
  };
}
