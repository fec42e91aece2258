/**
 * Sidecars' requests to end a session everywhere (a session protection in Enforce; sidecar/protect/end-requests.ts):
 * a controller with ONE synthetic key (leader only) following `P end-requests` with XREAD BLOCK on its own
 * connection. Each valid request becomes SessionTerminations (terminations.ts) targeting the session ID in every
 * namespace its sealed record says it touched and the reporting one, cutoff = the finding's time, reason naming
 * the finding. Anyone who can write to Redis can add a request — it can only END a session it names by ID, never
 * grant anything — so entries are validated (zod), the same session is ended once per code, and at most
 * `maxPerSecond` requests are acted on (the rest counted and dropped: the reporting sidecar already ended the
 * session locally).
 */
import type { Redis } from "ioredis";
import { STREAM_MESSAGE_FIELD, type BusKeys } from "../api/bus/keys.ts";
import { parseXread } from "../api/bus/replies.ts";
import { END_REASONS, endRequestSchema, type EndRequest } from "../api/protections/end-request.ts";
import type { ReconcileContext, Reconciler, Result } from "../controller/reconciler.ts";
import type { SignalTerminations } from "./terminations.ts";

export const END_REQUESTS_KEY = "vigil-operator/end-requests";

export interface EndRequestWatchOptions {
  blocking: Redis;
  keys: BusKeys;
  terminations: Pick<SignalTerminations, "end">;
  /** Namespaces the session touched, from its sealed record (empty when unknown). */
  sessionNamespaces: (sessionId: string) => Promise<string[]>;
  count: (outcome: "accepted" | "invalid" | "throttled") => void;
  maxPerSecond?: number;
  blockMs?: number;
  now?: () => number;
}

export class EndRequestWatch implements Reconciler {
  readonly #o: EndRequestWatchOptions;
  #position = "$";
  #windowStart = 0;
  #inWindow = 0;

  constructor(options: EndRequestWatchOptions) {
    this.#o = options;
  }

  async reconcile(_key: string, ctx: ReconcileContext): Promise<Result> {
    const reply = await this.#o.blocking.call(
      "XREAD",
      "COUNT",
      "100",
      "BLOCK",
      String(this.#o.blockMs ?? 2000),
      "STREAMS",
      this.#o.keys.endRequests,
      this.#position,
    );
    if (ctx.signal.aborted) return {};
    const requests: EndRequest[] = [];
    for (const entry of parseXread(reply, this.#o.keys.endRequests, STREAM_MESSAGE_FIELD)) {
      this.#position = entry.id;
      const request = parse(entry.message);
      if (request === undefined) this.#o.count("invalid");
      else if (this.#admit()) requests.push(request);
      else this.#o.count("throttled");
    }
    for (const r of requests) {
      this.#o.count("accepted");
      const touched = await this.#o.sessionNamespaces(r.sessionId);
      await this.#o.terminations.end({
        source: "session-protection",
        signal: r.code,
        id: `${r.sessionId}/${r.code}`,
        target: { sessionID: r.sessionId },
        cutoff: r.time,
        reason: `${r.code}: ${END_REASONS[r.code]} (found by ${r.namespace}/${r.pod})`,
        namespaces: [r.namespace, ...touched],
      });
    }
    return { requeueAfterMs: 1 };
  }

  #admit(): boolean {
    const now = (this.#o.now ?? Date.now)();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    this.#inWindow++;
    return this.#inWindow <= (this.#o.maxPerSecond ?? 50);
  }
}

function parse(message: string | null): EndRequest | undefined {
  if (message === null || message.length > 4096) return undefined;
  try {
    const parsed = endRequestSchema.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
