/**
 * Runs the injection webhook inside vigil-operator: loads the injection configuration, obtains the serving
 * certificate, serves `/mutate-pods` on every replica, and keeps the certificate current.
 *
 * Certificates: mode `self` shares one Secret between replicas (tls-secret.ts): every replica, at start and every
 * `refreshMs`, makes sure it is current (creating or renewing it, keeping the caBundle current — safe concurrently,
 * see tls-secret.ts), then serves what the Secret holds, swapping its certificate without a restart; mode `file` reads `tls.crt`/`tls.key` from a directory
 * (cert-manager writes them) and reloads them when they change.
 */
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Logger } from "../../lib/log.ts";
import { OperatorError } from "../errors.ts";
import { loadInjectionConfig } from "./config.ts";
import { namespaceLabelsFrom } from "./namespaces.ts";
import { certificateLoader, keepCertificateCurrent, type ServingCertificateSettings } from "./serving-certificate.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";
import { ensureWebhookTls } from "./tls-secret.ts";

export interface WebhookSettings extends ServingCertificateSettings {
  port: number;
  host: string;
  injectionConfigFile: string;
  /** How often replicas re-read the certificate and the leader re-checks it. Default 60 s. */
  refreshMs?: number;
}

export interface RunningWebhook {
  server: WebhookServer;
  stop(): Promise<void>;
}

export async function runWebhook(kc: KubeConfig, settings: WebhookSettings, log: Logger, registry: Registry): Promise<RunningWebhook> {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const config = await loadInjectionConfig(settings.injectionConfigFile);
  const load = certificateLoader(core, settings);
  const maintain = async (): Promise<void> => {
    if (settings.certMode !== "self") return;
    const report = await ensureWebhookTls(core, admission, settings.tls);
    if (report.secret !== "unchanged" || report.caBundleChanged) log.info({ event: "webhook.tls", ...report }, "webhook certificate maintained");
  };

  await maintain();
  const tls = await load();
  if (tls === undefined)
    throw new OperatorError(
      "WEBHOOK_TLS_UNAVAILABLE",
      `no webhook certificate in ${settings.certMode === "file" ? settings.certDir : `Secret ${settings.tls.secretName}`}`,
    );

  const server = await startWebhookServer({ config, namespaceLabels: namespaceLabelsFrom(core), tls, host: settings.host, port: settings.port, registry, log });
  const refresh = keepCertificateCurrent({
    name: "webhook",
    maintain,
    load,
    initial: tls.cert,
    serve: (next) => {
      server.setCertificate(next);
    },
    periodMs: settings.refreshMs ?? 60_000,
    log,
  });
  log.info({ event: "webhook.started", port: server.port, certMode: settings.certMode }, "injection webhook serving");
  return {
    server,
    async stop() {
      clearInterval(refresh);
      await server.close();
    },
  };
}
