/**
 * Signals end sessions by creating REAL SessionTerminations, so status, counts, acknowledgements, Events, the audit
 * trail and `kubectl` work exactly as for a manual termination.
 *
 * `SignalTerminations.end(signal)` creates one SessionTermination per namespace the signal must reach — the
 * namespaces with live sidecars or a head on the bus (a subject's or IdP session's sessions may be on any of them), or for a Vigil
 * session the namespaces its sealed record says it touched (plus the reporting one) — labelled with the source
 * (SIGNAL_SOURCE_LABEL) and signal (SIGNAL_LABEL), its reason naming the signal, `cutoffTime` = the moment the
 * identity provider (or the finding) reports, so a login made after the event is never ended by it, and a TTL.
 * Names derive from the signal's identity (`vigil-<source>-<hash>`): a signal delivered twice creates nothing new
 * (409 AlreadyExists is an answer). Never throws for a namespace that refuses (counted, logged).
 */
import { createHash } from "node:crypto";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { SIGNAL_ID_ANNOTATION, SIGNAL_LABEL, SIGNAL_SOURCE_LABEL } from "../api/annotations.ts";
import { API_VERSION, GROUP, SESSION_TERMINATION, VERSION, type SessionTermination, type TerminationTarget } from "../api/v1alpha1/index.ts";
import { describeError, httpStatusOf } from "../errors.ts";
import type { Logger } from "../../lib/log.ts";

export type SignalSource = "backchannel-logout" | "ssf" | "session-protection";

export interface Signal {
  source: SignalSource;
  /** Short, label-safe name of the signal (`logout`, `session-revoked`, `SESSION_NETWORK_CHANGED`). */
  signal: string;
  /** Unique per signal (issuer + jti, session + code): the resource name derives from it. */
  id: string;
  target: TerminationTarget;
  /** Epoch ms of the event. */
  cutoff: number;
  reason: string;
  /** Namespaces to end it in. */
  namespaces: readonly string[];
}

export interface SignalOutcome {
  created: string[];
  existing: string[];
  failed: string[];
}

export const SIGNAL_TTL_SECONDS = 3600;

const LABEL_VALUE = /[^A-Za-z0-9._-]/g;

export function signalTermination(signal: Signal, namespace: string): SessionTermination {
  const hash = createHash("sha256").update(`${signal.source}\n${signal.id}`).digest("hex").slice(0, 20);
  return {
    apiVersion: API_VERSION,
    kind: SESSION_TERMINATION.kind,
    metadata: {
      name: `vigil-${signal.source}-${hash}`,
      namespace,
      labels: { [SIGNAL_SOURCE_LABEL]: signal.source, [SIGNAL_LABEL]: signal.signal.replace(LABEL_VALUE, "_").slice(0, 63) },
      annotations: { [SIGNAL_ID_ANNOTATION]: signal.id.slice(0, 1024) },
    },
    spec: {
      target: signal.target,
      reason: printable(signal.reason),
      cutoffTime: new Date(Math.floor(signal.cutoff / 1000) * 1000).toISOString(),
      ttlSecondsAfterFinished: SIGNAL_TTL_SECONDS,
    },
  };
}

function printable(text: string): string {
  let out = "";
  for (const ch of text) out += ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? " " : ch;
  return out.slice(0, 1000) || "signal";
}

export class SignalTerminations {
  readonly #api: CustomObjectsApi;
  readonly #log: Logger;
  readonly #count: (source: SignalSource, outcome: "created" | "existing" | "failed") => void;

  constructor(api: CustomObjectsApi, log: Logger, count: (source: SignalSource, outcome: "created" | "existing" | "failed") => void = () => undefined) {
    this.#api = api;
    this.#log = log;
    this.#count = count;
  }

  async end(signal: Signal): Promise<SignalOutcome> {
    const outcome: SignalOutcome = { created: [], existing: [], failed: [] };
    await Promise.all(
      [...new Set(signal.namespaces)].map(async (namespace) => {
        const body = signalTermination(signal, namespace);
        const name = `${namespace}/${body.metadata.name ?? ""}`;
        try {
          await this.#api.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: SESSION_TERMINATION.plural, namespace, body });
          outcome.created.push(name);
          this.#count(signal.source, "created");
        } catch (err) {
          if (httpStatusOf(err) === 409) {
            outcome.existing.push(name);
            this.#count(signal.source, "existing");
            return;
          }
          outcome.failed.push(name);
          this.#count(signal.source, "failed");
          this.#log.warn(
            { event: "signal.termination_failed", source: signal.source, signal: signal.signal, namespace, err: describeError(err) },
            "could not create the SessionTermination for a signal",
          );
        }
      }),
    );
    this.#log.info(
      {
        event: "signal.terminations",
        source: signal.source,
        signal: signal.signal,
        created: outcome.created.length,
        existing: outcome.existing.length,
        failed: outcome.failed.length,
      },
      "signal turned into SessionTerminations",
    );
    return outcome;
  }
}
