/**
 * The serving certificate the injection webhook and the sessions API share: where it comes from (a mounted directory,
 * or the Secret the operator manages), and the loop that keeps a server on the current one.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../../lib/log.ts";
import type { OperatorConfig } from "../config.ts";
import { errorFields } from "../errors.ts";
import type { TlsMaterial } from "./server.ts";
import { readWebhookTls, type WebhookTlsTarget } from "./tls-secret.ts";

export interface ServingCertificateSettings {
  certMode: "self" | "file";
  certDir: string;
  /** The webhook's TLS Secret, Service and MutatingWebhookConfiguration. */
  tls: WebhookTlsTarget;
}

export function servingCertificateSettings(config: OperatorConfig): ServingCertificateSettings {
  return {
    certMode: config.webhookCertMode,
    certDir: config.webhookCertDir,
    tls: {
      namespace: config.leaseNamespace,
      secretName: config.webhookTlsSecret,
      service: config.webhookServiceName,
      configurationName: config.webhookConfigurationName,
    },
  };
}

/** Reads the current certificate: `tls.crt`/`tls.key` of the mounted directory, or the managed Secret. */
export function certificateLoader(core: CoreV1Api, settings: ServingCertificateSettings): () => Promise<TlsMaterial | undefined> {
  return async () =>
    settings.certMode === "file"
      ? { cert: await readFile(join(settings.certDir, "tls.crt"), "utf8"), key: await readFile(join(settings.certDir, "tls.key"), "utf8") }
      : readWebhookTls(core, settings.tls);
}

export interface CertificateRefresh {
  /** Log event prefix and the server's name in messages (`webhook`, `sessions_api`). */
  name: string;
  /** Self-managed certificates: keep the Secret (and what trusts it) current. */
  maintain: () => Promise<void>;
  load: () => Promise<TlsMaterial | undefined>;
  /** The certificate being served now. */
  initial: string;
  serve: (next: TlsMaterial) => void;
  periodMs: number;
  log: Logger;
}

/** Every `periodMs`: maintain, re-read, and serve a changed certificate. The timer does not hold the process. */
export function keepCertificateCurrent({ name, maintain, load, initial, serve, periodMs, log }: CertificateRefresh): NodeJS.Timeout {
  let current = initial;
  const timer = setInterval(() => {
    maintain()
      .then(load)
      .then(
        (next) => {
          if (next !== undefined && next.cert !== current) {
            serve(next);
            current = next.cert;
            log.info({ event: `${name}.tls_reloaded` }, `${name} serving certificate reloaded`);
          }
        },
        (err: unknown) => {
          log.warn({ event: `${name}.tls_failed`, ...errorFields(err) }, `could not maintain or re-read the ${name} certificate`);
        },
      );
  }, periodMs);
  timer.unref();
  return timer;
}
