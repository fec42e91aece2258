/**
 * The webhook's TLS material, shared by every operator replica through one Secret (`<release>-webhook-tls`).
 *
 * Contract:
 * - `ensureWebhookTls` (the leader, at start and periodically) makes the Secret hold a valid CA and a serving
 *   certificate for the webhook Service: creates it when missing or unreadable, renews the serving certificate when
 *   `needsRotation`, renews the CA when it would expire before a fresh leaf; then makes the MutatingWebhookConfiguration's
 *   `caBundle` trust the current CA (and the previous one while a renewed CA rolls out). Writes only on change.
 *   Safe on every replica at once: the Secret is written with optimistic concurrency, and a replica that loses
 *   (409) patches nothing; the next round re-reads what the winner wrote.
 * - `readWebhookTls` (every replica) returns the serving key and certificate the Secret holds, or undefined.
 */
import { AdmissionregistrationV1Api, CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import { isConflict, isNotFound } from "../errors.ts";
import { ensureCaBundle } from "./ca-bundle.ts";
import { generateCa, issueServingCert, needsRotation, type KeyAndCert } from "./certs.ts";
import type { TlsMaterial } from "./server.ts";

export interface WebhookTlsTarget {
  namespace: string;
  secretName: string;
  service: string;
  /** MutatingWebhookConfiguration whose caBundle must trust the CA. */
  configurationName: string;
}

export interface TlsReport {
  secret: "unchanged" | "created" | "renewed-serving" | "renewed-ca" | "lost-race";
  caBundleChanged: boolean;
}

const CA_CERT = "ca.crt";
const CA_KEY = "ca.key";
const PREVIOUS_CA = "ca-previous.crt";
const TLS_CERT = "tls.crt";
const TLS_KEY = "tls.key";
/** A CA is renewed while it still has this many days, so a fresh 90-day leaf never outlives it. */
const CA_MIN_DAYS = 120;

export async function ensureWebhookTls(core: CoreV1Api, admission: AdmissionregistrationV1Api, target: WebhookTlsTarget, now = new Date()): Promise<TlsReport> {
  const existing = await readSecret(core, target);
  const plan = await planMaterial(decode(existing), existing !== undefined, target, now);
  if (plan.secret !== "unchanged" && !(await writeSecret(core, target, existing, plan.data))) {
    return { secret: "lost-race", caBundleChanged: false }; // another replica wrote first; its CA is the one to trust
  }
  const { changed } = await ensureCaBundle(admission, target.configurationName, plan.bundle);
  return { secret: plan.secret, caBundleChanged: changed };
}

interface Plan {
  secret: Exclude<TlsReport["secret"], "lost-race">;
  data: Record<string, string>;
  /** PEM CA bundle: the current CA, plus the previous one while a renewed CA rolls out. */
  bundle: string;
}

async function planMaterial(data: Partial<Record<string, string>>, exists: boolean, target: WebhookTlsTarget, now: Date): Promise<Plan> {
  const pair = (cert: string, key: string): Pick<KeyAndCert, "certPem" | "keyPem"> | undefined => {
    const certPem = data[cert];
    const keyPem = data[key];
    return certPem === undefined || keyPem === undefined ? undefined : { certPem, keyPem };
  };
  let ca = pair(CA_CERT, CA_KEY);
  let serving = pair(TLS_CERT, TLS_KEY);
  let previousCa = data[PREVIOUS_CA];
  let secret: Plan["secret"] = "unchanged";
  if (ca === undefined || needsRotation(ca.certPem, now, CA_MIN_DAYS)) {
    previousCa = ca?.certPem;
    ca = await generateCa({ now });
    secret = exists ? "renewed-ca" : "created";
  }
  if (secret !== "unchanged" || serving === undefined || needsRotation(serving.certPem, now)) {
    serving = await issueServingCert(ca, { service: target.service, namespace: target.namespace, now });
    if (secret === "unchanged") secret = exists ? "renewed-serving" : "created";
  }
  const out: Record<string, string> = { [CA_CERT]: ca.certPem, [CA_KEY]: ca.keyPem, [TLS_CERT]: serving.certPem, [TLS_KEY]: serving.keyPem };
  if (previousCa !== undefined) out[PREVIOUS_CA] = previousCa;
  return { secret, data: out, bundle: previousCa === undefined ? ca.certPem : `${ca.certPem.trimEnd()}\n${previousCa}` };
}

export async function readWebhookTls(core: CoreV1Api, target: Pick<WebhookTlsTarget, "namespace" | "secretName">): Promise<TlsMaterial | undefined> {
  const data = decode(await readSecret(core, target));
  const cert = data[TLS_CERT];
  const key = data[TLS_KEY];
  return cert === undefined || key === undefined ? undefined : { cert, key };
}

/** The CA bundle clients must trust (the current CA, plus the previous one while a renewed CA rolls out), or undefined. */
export async function readWebhookCaBundle(core: CoreV1Api, target: Pick<WebhookTlsTarget, "namespace" | "secretName">): Promise<string | undefined> {
  const data = decode(await readSecret(core, target));
  const ca = data[CA_CERT];
  if (ca === undefined) return undefined;
  const previous = data[PREVIOUS_CA];
  return previous === undefined ? ca : `${ca.trimEnd()}\n${previous}`;
}

async function readSecret(core: CoreV1Api, target: Pick<WebhookTlsTarget, "namespace" | "secretName">): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name: target.secretName, namespace: target.namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function decode(secret: V1Secret | undefined): Partial<Record<string, string>> {
  const out: Partial<Record<string, string>> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  return out;
}

/** False when another writer got there first (409 on create or on a stale resourceVersion). */
async function writeSecret(core: CoreV1Api, target: WebhookTlsTarget, existing: V1Secret | undefined, stringData: Record<string, string>): Promise<boolean> {
  const metadata = { name: target.secretName, namespace: target.namespace, labels: { "app.kubernetes.io/managed-by": "vigil-operator" } };
  try {
    if (existing === undefined) {
      await core.createNamespacedSecret({ namespace: target.namespace, body: { metadata, type: "kubernetes.io/tls", stringData } });
    } else {
      const resourceVersion = existing.metadata?.resourceVersion;
      await core.replaceNamespacedSecret({
        name: target.secretName,
        namespace: target.namespace,
        body: { metadata: resourceVersion === undefined ? metadata : { ...metadata, resourceVersion }, type: "kubernetes.io/tls", stringData },
      });
    }
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}
