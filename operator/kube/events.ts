/**
 * Kubernetes Events (`events.k8s.io/v1`) on the operator's objects, for outcomes a user should see in
 * `kubectl describe` (e.g. `Normal Published`, `Warning BusUnavailable`).
 *
 * Contract: `record` never throws and never rejects — a failed Event is logged and dropped (events are
 * best-effort; they must never fail a reconcile). `reason` is CamelCase (`/^[A-Z][A-Za-z0-9]{0,127}$/`); the
 * note is cut to 1 KiB. The same (object uid, type, reason, note) is not recorded twice within `dedupeMs`
 * (default 10 min), so periodic resyncs do not flood the object with identical Events; the last 2048 recorded
 * outcomes are remembered (an `lru-cache` with that TTL).
 *
 * `audit(target, type, note)` records an operator audit event of the catalogue (operator/api/audit/catalogue.ts):
 * the Event's reason is the catalogue's `k8sReason`, its type Normal for an `…I` code and Warning otherwise, its note
 * starts with the code; and the same event goes to the log as an audit line (`event`, `code`, the resource), once
 * per deduplicated outcome — so the Event, the log and docs/audit-events.md use the same words.
 */
import { randomBytes } from "node:crypto";
import { EventsV1Api, V1MicroTime, type EventsV1Event, type KubeConfig, type V1ObjectReference } from "@kubernetes/client-node";
import { LRUCache } from "lru-cache";
import { AUDIT_CATALOGUE, type OperatorEventType } from "../api/audit/catalogue.ts";
import { errorFields } from "../errors.ts";
import type { Logger } from "../../lib/log.ts";

export type EventType = "Normal" | "Warning";

export interface EventTarget {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined; resourceVersion?: string | undefined } | undefined;
}

export interface EventRecorderOptions {
  kc: KubeConfig;
  /** `reportingController`, e.g. `vigil.dev/operator`. */
  controller: string;
  /** `reportingInstance`, e.g. the pod name. */
  instance: string;
  log: Logger;
  dedupeMs?: number;
}

/** What one Event says about its target; `note` already cut to size. */
interface Outcome {
  type: EventType;
  reason: string;
  note: string;
  action: string;
}

const REASON = /^[A-Z][A-Za-z0-9]{0,127}$/;
const MAX_NOTE_BYTES = 1024;
const MAX_REMEMBERED = 2048;

export function isEventReason(reason: string): boolean {
  return REASON.test(reason);
}

/** Cut to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > maxBytes - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}

export class EventRecorder {
  readonly #api: EventsV1Api;
  readonly #o: EventRecorderOptions;
  /** Outcomes recorded within the dedupe window. */
  readonly #recent: LRUCache<string, true>;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#api = options.kc.makeApiClient(EventsV1Api);
    this.#recent = new LRUCache({ max: MAX_REMEMBERED, ttl: options.dedupeMs ?? 600_000 });
  }

  /** Record an Event on `target`. Resolves true if an Event was created; never rejects. */
  async record(target: EventTarget, type: EventType, reason: string, note: string, action = reason): Promise<boolean> {
    const { namespace = "", name = "" } = target.metadata ?? {};
    const log = this.#o.log.child({ resource_kind: target.kind ?? "", resource_namespace: namespace, resource_name: name });
    if (!isEventReason(reason) || name === "" || namespace === "") {
      log.error({ reason }, "refusing to record an Event: bad reason or target");
      return false;
    }
    const text = truncateUtf8(note, MAX_NOTE_BYTES);
    const dedupeKey = this.#dedupeKey(target, type, reason, text);
    if (this.#recent.has(dedupeKey)) return false;
    try {
      await this.#api.createNamespacedEvent({ namespace, body: this.#event(target, { type, reason, note: text, action }, Date.now()) });
      this.#recent.set(dedupeKey, true);
      return true;
    } catch (err) {
      log.warn({ ...errorFields(err), reason }, "recording Event failed");
      return false;
    }
  }

  /** An operator audit event as a Kubernetes Event and an audit log line (see the file comment). Never rejects. */
  async audit(target: EventTarget, event: OperatorEventType, note: string): Promise<boolean> {
    const entry = AUDIT_CATALOGUE[event];
    const type: EventType = entry.code.endsWith("I") ? "Normal" : "Warning";
    const text = `${entry.code} ${note}`;
    if (!this.#recent.has(this.#dedupeKey(target, type, entry.k8sReason, truncateUtf8(text, MAX_NOTE_BYTES)))) {
      const meta = target.metadata ?? {};
      const fields = {
        event,
        code: entry.code,
        outcome: type === "Normal" ? "success" : "failure",
        resource_kind: target.kind ?? "",
        resource_namespace: meta.namespace ?? "",
        resource_name: meta.name ?? "",
      };
      if (type === "Normal") this.#o.log.info(fields, note);
      else this.#o.log.warn(fields, note);
    }
    return this.record(target, type, entry.k8sReason, text);
  }

  #dedupeKey(target: EventTarget, type: EventType, reason: string, text: string): string {
    const { namespace = "", name = "", uid } = target.metadata ?? {};
    return `${uid ?? `${namespace}/${name}`}|${type}|${reason}|${text}`;
  }

  #event(target: EventTarget, { type, reason, note, action }: Outcome, now: number): EventsV1Event {
    const meta = target.metadata ?? {};
    const namespace = meta.namespace ?? "";
    const name = meta.name ?? "";
    const regarding: V1ObjectReference = { apiVersion: target.apiVersion ?? "", kind: target.kind ?? "", namespace, name };
    if (meta.uid !== undefined) regarding.uid = meta.uid;
    if (meta.resourceVersion !== undefined) regarding.resourceVersion = meta.resourceVersion;
    return {
      metadata: { name: `${name.slice(0, 200)}.${randomBytes(8).toString("hex")}`, namespace },
      eventTime: new V1MicroTime(now),
      type,
      reason,
      action: action.slice(0, 128),
      note,
      reportingController: this.#o.controller,
      reportingInstance: this.#o.instance.slice(0, 128),
      regarding,
    };
  }
}
