/**
 * Runs the sessions API inside vigil-operator (every replica serves it from its own SessionIndex):
 *
 * - serving certificate: the webhook's (docs/decisions/sessions-api-0001-serving-certificate.md) — mode `self`:
 *   the shared Secret, kept current with the same code as the webhook (safe on every replica), plus the
 *   APIService's caBundle; mode `file`: tls.crt/tls.key from a directory (cert-manager, which also injects the
 *   APIService's caBundle). Re-read every `refreshMs` and swapped without a restart;
 * - front-proxy settings: watched in kube-system/extension-apiserver-authentication, swapped into TLS at once;
 * - authorization: SubjectAccessReviews (cached 10 s); delete: SessionTerminations;
 * - the index's housekeeping (`sweep`) every `sweepMs`.
 */
import { AdmissionregistrationV1Api, ApiregistrationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { SESSIONS_API_SERVICE } from "../api/sessions/v1alpha1.ts";
import type { Logger } from "../../lib/log.ts";
import type { TlsMaterial } from "../webhook/server.ts";
import { certificateLoader, keepCertificateCurrent, type ServingCertificateSettings } from "../webhook/serving-certificate.ts";
import { ensureWebhookTls, readWebhookCaBundle } from "../webhook/tls-secret.ts";
import { ensureApiServiceCaBundle } from "./apiservice-ca.ts";
import { watchAuthConfig } from "./authn/config-source.ts";
import { AccessReviewer, subjectAccessReview } from "./authz/access-review.ts";
import type { SessionIndex } from "./index/session-index.ts";
import { startSessionsServer, type RequestRecord, type SessionsServer } from "./server.ts";
import { requestTermination } from "./terminate.ts";

/** The serving certificate is the webhook's (shared). */
export interface SessionsApiSettings extends ServingCertificateSettings {
  port: number;
  host: string;
  /** Certificate re-read and caBundle check. Default 60 s. */
  refreshMs?: number;
  /** Index housekeeping. Default 5 s. */
  sweepMs?: number;
  bookmarkMs?: number;
  observe?: (r: RequestRecord) => void;
}

export interface RunningSessionsApi {
  server: SessionsServer;
  stop(): Promise<void>;
}

export async function runSessionsApi(
  kc: KubeConfig,
  settings: SessionsApiSettings,
  index: SessionIndex,
  log: Logger,
  registry?: Registry,
): Promise<RunningSessionsApi> {
  const customObjects = kc.makeApiClient(CustomObjectsApi);
  const certificate = servingCertificate(kc, settings, log);
  await certificate.maintain();
  const tls = await certificate.load();
  if (tls === undefined) throw new Error(`no serving certificate in ${settings.certMode === "file" ? settings.certDir : `Secret ${settings.tls.secretName}`}`);

  const started: { server?: SessionsServer } = {};
  const auth = watchAuthConfig(kc, log, (config) => {
    started.server?.setClientCa(config.caPem);
  });
  await auth.synced;
  const reviewer = new AccessReviewer(subjectAccessReview(kc));
  const running = await startSessionsServer({
    source: index,
    tls,
    host: settings.host,
    port: settings.port,
    authConfig: auth.current,
    reviewer,
    terminate: (namespace, id, user, dryRun) => requestTermination(customObjects, namespace, id, user, dryRun),
    log,
    ...(registry === undefined ? {} : { registry }),
    ...(settings.observe === undefined ? {} : { observe: settings.observe }),
    ...(settings.bookmarkMs === undefined ? {} : { bookmarkMs: settings.bookmarkMs }),
  });
  started.server = running;

  const refresh = keepCertificateCurrent({
    name: "sessions_api",
    ...certificate,
    initial: tls.cert,
    serve: (next) => {
      running.setTls(next);
    },
    periodMs: settings.refreshMs ?? 60_000,
    log,
  });
  const sweeper = setInterval(() => {
    index.sweep();
  }, settings.sweepMs ?? 5000);
  sweeper.unref();

  log.info(
    { event: "sessions_api.started", port: running.port, certMode: settings.certMode, frontProxy: auth.current() !== undefined },
    "sessions API serving",
  );
  return {
    server: running,
    async stop() {
      clearInterval(refresh);
      clearInterval(sweeper);
      await running.close();
      await auth.stop();
    },
  };
}

interface ServingCertificate {
  load: () => Promise<TlsMaterial | undefined>;
  /** Self-managed certificates: keep the Secret and the APIService's caBundle current. */
  maintain: () => Promise<void>;
}

function servingCertificate(kc: KubeConfig, settings: SessionsApiSettings, log: Logger): ServingCertificate {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const apiRegistration = kc.makeApiClient(ApiregistrationV1Api);
  return {
    load: certificateLoader(core, settings),
    maintain: async () => {
      if (settings.certMode !== "self") return;
      await ensureWebhookTls(core, admission, settings.tls);
      const bundle = await readWebhookCaBundle(core, settings.tls);
      if (bundle === undefined) return;
      const result = await ensureApiServiceCaBundle(apiRegistration, SESSIONS_API_SERVICE, bundle);
      if (result.changed) log.info({ event: "sessions_api.ca_bundle" }, "APIService caBundle updated");
      if (!result.found)
        log.warn(
          { event: "sessions_api.apiservice_missing", apiService: SESSIONS_API_SERVICE },
          "APIService not found: the aggregator will not route to this server",
        );
    },
  };
}
