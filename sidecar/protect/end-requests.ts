/**
 * Ending a session everywhere: a protection in Enforce ends the session on THIS sidecar at once (refusal, local
 * flows reset) and asks the operator to end it on every other one, by adding a request to the capped stream
 * `P end-requests`. The operator validates it, reads the session's sealed record and creates a SessionTermination
 * (labelled with its source) in each namespace the session touched — the same path as a manual termination, so
 * status, counts, acknowledgements and the audit trail work as usual (operator/signals/end-requests.ts).
 * The request holds no personal data: the session ID, the finding code, the namespace and pod, the time.
 */
import type { Redis } from "ioredis";
import type { BusKeys } from "../../operator/api/bus/keys.ts";
import { STREAM_MESSAGE_FIELD } from "../../operator/api/bus/keys.ts";
import type { EndRequest } from "../../operator/api/protections/end-request.ts";

export const END_REQUESTS_MAXLEN = 10_000;

export class EndRequester {
  readonly #redis: Redis;
  readonly #keys: BusKeys;

  constructor(redis: Redis, keys: BusKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async request(r: EndRequest): Promise<void> {
    await this.#redis.xadd(this.#keys.endRequests, "MAXLEN", "~", END_REQUESTS_MAXLEN, "*", STREAM_MESSAGE_FIELD, JSON.stringify(r));
  }
}
