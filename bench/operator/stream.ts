/**
 * Tails one namespace's event stream of the signed bus (`<prefix>ns:<ns>:events`, operator/api/bus/keys.ts) and
 * records when each change first appeared: `policy/<name>/<generation>`, `termination/<id>`, `delete/<field>`.
 * The bench reads the signed body text; verifying signatures is the sidecars' job and not what is measured here.
 */
import { Redis } from "ioredis";
import { busKeys, STREAM_MESSAGE_FIELD } from "../../operator/api/bus/keys.ts";
import type { Change, Envelope, EventBody } from "../../operator/api/bus/messages.ts";

export class StreamWatch {
  readonly arrivals = new Map<string, number>();
  readonly #redis: Redis;
  readonly #stream: string;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(url: string, prefix: string, namespace: string) {
    this.#redis = new Redis(url, { maxRetriesPerRequest: null });
    this.#stream = busKeys(prefix).namespace(namespace).events;
  }

  async start(): Promise<void> {
    const last = (await this.#redis.xrevrange(this.#stream, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
    this.#loop = this.#run(last);
  }

  async #run(from: string): Promise<void> {
    let id = from;
    while (!this.#stopped) {
      const reply = await this.#redis.xread("COUNT", 1000, "BLOCK", 200, "STREAMS", this.#stream, id);
      const now = performance.now();
      for (const [entryId, fields] of (reply ?? []).flatMap(([, list]) => list)) {
        id = entryId;
        const raw = fields[fields.indexOf(STREAM_MESSAGE_FIELD) + 1];
        for (const key of changeKeys(raw)) if (!this.arrivals.has(key)) this.arrivals.set(key, now);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.#redis.disconnect();
  }
}

function changeKeys(raw: string | undefined): string[] {
  try {
    const body = JSON.parse((JSON.parse(raw ?? "") as Envelope).body) as EventBody;
    return body.changes.map(keyOf);
  } catch {
    return [];
  }
}

function keyOf(change: Change): string {
  if (change.op === "delete") return `delete/${change.field}`;
  const entry = change.entry;
  return entry.type === "policy" ? `policy/${entry.policy.name}/${entry.policy.generation}` : `termination/${entry.revocation.id}`;
}
