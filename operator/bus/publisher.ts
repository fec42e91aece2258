import type { Redis } from "ioredis";
import type { Ack, Heartbeat, Revocation } from "../api/bus.ts";
import { decodeAck, decodeHeartbeat } from "../api/bus-codec.ts";
import { busKeys, DEFAULT_BUS_PREFIX, objectField, parseObjectField, type BusKeys } from "../api/bus-keys.ts";
import { pairsOf } from "../api/bus-replies.ts";
import { readBusState } from "../api/bus-snapshot.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { OperatorError } from "../errors.ts";
import { canonicalJson } from "../policy/canonical-json.ts";
import { DELETE_POLICY, PUBLISH_TERMINATION, runScript, scriptResult, UPSERT_POLICY, type BusScript } from "./scripts.ts";

/**
 * The OPERATOR side of the policy bus (key layout and wire format in operator/api/bus.ts).
 *
 * - Every change is one atomic Lua script: bump the revision, write the hash, append one event to the
 *   capped stream (XADD MAXLEN ~ cap). `upsertPolicy` is a no-op when the stored hash is equal.
 * - `publishTermination` writes the durable revocation record before the event, inside the same
 *   script; publishing the same termination id again is a no-op.
 * - `reassert(policies, revocations)` makes Redis match the resources: adds missing and fixes
 *   differing/invalid policies and revocations, deletes policies that no longer exist, prunes expired
 *   revocations and garbage entries, repairs a garbage revision key. Unexpired revocations of deleted
 *   terminations are kept until they expire (a revocation is never lifted early by a deletion).
 * - Revisions never go back: the publisher keeps the highest revision it has seen as a floor (raise
 *   it from resource status with `raiseRevisionFloor` after a restart).
 * Redis failures reject with OperatorError code BUS_UNAVAILABLE (cause attached).
 */

export const DEFAULT_STREAM_MAX_LENGTH = 10_000;

export interface PublisherOptions {
  redis: Redis;
  prefix?: string;
  /** Approximate cap of P events (XADD MAXLEN ~). Default 10,000. */
  maxStreamLength?: number;
  now?: () => number;
}

export interface PublishResult {
  /** False when nothing was written (unchanged policy, unknown policy, termination already published). */
  changed: boolean;
  /** Revision of the change, or of the stored record when unchanged (0 when there is none). */
  revision: number;
}

/** A revocation as the operator builds it; the bus assigns `revision`. */
export type RevocationRecord = Omit<Revocation, "revision">;

export interface ReassertReport {
  policiesAdded: string[];
  policiesUpdated: string[];
  policiesRemoved: string[];
  revocationsAdded: string[];
  revocationsUpdated: string[];
  revocationsPruned: string[];
  /** Entries that did not validate and were removed or overwritten. */
  invalidRemoved: number;
  revisionRepaired: boolean;
  /** Bus revision after the reassert. */
  revision: number;
}

export class BusPublisher {
  readonly keys: BusKeys;
  #redis: Redis;
  #maxLength: string;
  #now: () => number;
  #floor = 0;
  #invalidMessages = 0;

  constructor(options: PublisherOptions) {
    this.keys = busKeys(options.prefix ?? DEFAULT_BUS_PREFIX);
    this.#redis = options.redis;
    const cap = options.maxStreamLength ?? DEFAULT_STREAM_MAX_LENGTH;
    if (!Number.isSafeInteger(cap) || cap < 1) throw new OperatorError("CONFIG_INVALID", "maxStreamLength must be a positive integer");
    this.#maxLength = String(cap);
    this.#now = options.now ?? Date.now;
  }

  /** Highest bus revision this publisher has written or seen. */
  get highestRevision(): number {
    return this.#floor;
  }

  /** Heartbeats and acks read by this publisher that did not validate. */
  get invalidMessages(): number {
    return this.#invalidMessages;
  }

  /** Never publish at or below `revision` again (e.g. the largest status.busRevision seen at start). */
  raiseRevisionFloor(revision: number): void {
    if (Number.isSafeInteger(revision) && revision > this.#floor) this.#floor = revision;
  }

  async upsertPolicy(policy: CompiledPolicy, force = false): Promise<PublishResult> {
    const field = objectField(policy.namespace, policy.name);
    return this.#run(UPSERT_POLICY, [this.keys.revision, this.keys.policies, this.keys.events], [
      field,
      policy.hash,
      JSON.stringify(policy),
      this.#maxLength,
      String(this.#floor),
      force ? "1" : "0",
    ]);
  }

  async deletePolicy(namespace: string, name: string): Promise<PublishResult> {
    return this.#run(DELETE_POLICY, [this.keys.revision, this.keys.policies, this.keys.events], [
      objectField(namespace, name),
      JSON.stringify(namespace),
      JSON.stringify(name),
      this.#maxLength,
      String(this.#floor),
    ]);
  }

  async publishTermination(revocation: RevocationRecord, force = false): Promise<PublishResult> {
    const record: RevocationRecord = {
      v: 1,
      id: revocation.id,
      namespace: revocation.namespace,
      selector: revocation.selector,
      reason: revocation.reason,
      issuedAt: revocation.issuedAt,
      expiresAt: revocation.expiresAt,
    };
    return this.#run(PUBLISH_TERMINATION, [this.keys.revision, this.keys.revocations, this.keys.events], [
      revocation.id,
      JSON.stringify(record),
      this.#maxLength,
      String(this.#floor),
      force ? "1" : "0",
    ]);
  }

  async reassert(policies: readonly CompiledPolicy[], revocations: readonly RevocationRecord[]): Promise<ReassertReport> {
    const state = await this.#guard(() => readBusState(this.#redis, this.keys));
    if (state.revision !== null) this.raiseRevisionFloor(state.revision);
    const report: ReassertReport = {
      policiesAdded: [],
      policiesUpdated: [],
      policiesRemoved: [],
      revocationsAdded: [],
      revocationsUpdated: [],
      revocationsPruned: [],
      invalidRemoved: 0,
      revisionRepaired: false,
      revision: 0,
    };
    // Revocations first: they are the security-critical part of the bus.
    await this.#reassertRevocations(state.revocations, revocations, report);
    await this.#reassertPolicies(state.policies, policies, report);
    if (state.revision === null) {
      await this.#guard(() => this.#redis.set(this.keys.revision, String(this.#floor)));
      report.revisionRepaired = true;
    }
    report.revision = this.#floor;
    return report;
  }

  async readAcks(terminationId: string): Promise<Ack[]> {
    const reply = await this.#guard(() => this.#redis.call("HGETALL", this.keys.acks(terminationId)));
    const acks: Ack[] = [];
    for (const [field, raw] of pairsOf(reply)) {
      const decoded = decodeAck(raw);
      if (decoded.ok && decoded.value.terminationId === terminationId && objectField(decoded.value.namespace, decoded.value.pod) === field) {
        acks.push(decoded.value);
      } else this.#invalidMessages++;
    }
    return acks;
  }

  /** Sidecars whose last heartbeat is at most `maxAgeMs` old (and not further than that in the future). */
  async liveSidecars(now: number, maxAgeMs: number): Promise<Heartbeat[]> {
    const { live } = await this.#heartbeats(now, maxAgeMs);
    return live;
  }

  /** Removes heartbeats older than `maxAgeMs` (and invalid ones); returns how many were removed. */
  async pruneSidecars(now: number, maxAgeMs: number): Promise<number> {
    const { stale } = await this.#heartbeats(now, maxAgeMs);
    if (stale.length === 0) return 0;
    return this.#guard(() => this.#redis.hdel(this.keys.sidecars, ...stale));
  }

  async #heartbeats(now: number, maxAgeMs: number): Promise<{ live: Heartbeat[]; stale: string[] }> {
    const reply = await this.#guard(() => this.#redis.call("HGETALL", this.keys.sidecars));
    const live: Heartbeat[] = [];
    const stale: string[] = [];
    for (const [field, raw] of pairsOf(reply)) {
      const decoded = decodeHeartbeat(raw);
      if (!decoded.ok || objectField(decoded.value.namespace, decoded.value.pod) !== field) {
        this.#invalidMessages++;
        stale.push(field);
      } else if (Math.abs(now - decoded.value.at) <= maxAgeMs) live.push(decoded.value);
      else stale.push(field);
    }
    return { live, stale };
  }

  async #reassertRevocations(
    stored: Awaited<ReturnType<typeof readBusState>>["revocations"],
    desired: readonly RevocationRecord[],
    report: ReassertReport,
  ): Promise<void> {
    const now = this.#now();
    const wanted = new Map(desired.filter((r) => r.expiresAt > now).map((r) => [r.id, r]));
    for (const [id, record] of wanted) {
      const current = stored.get(id);
      if (current?.ok === true && sameRevocation(current.value, record)) continue;
      await this.publishTermination(record, true);
      if (current === undefined) report.revocationsAdded.push(id);
      else report.revocationsUpdated.push(id);
      if (current?.ok === false) report.invalidRemoved++;
    }
    const prune: string[] = [];
    for (const [id, current] of stored) {
      if (wanted.has(id)) continue;
      if (!current.ok) {
        prune.push(id);
        report.invalidRemoved++;
      } else if (current.value.expiresAt <= now) {
        prune.push(id);
        report.revocationsPruned.push(id);
      }
    }
    if (prune.length > 0) await this.#guard(() => this.#redis.hdel(this.keys.revocations, ...prune));
  }

  async #reassertPolicies(
    stored: Awaited<ReturnType<typeof readBusState>>["policies"],
    desired: readonly CompiledPolicy[],
    report: ReassertReport,
  ): Promise<void> {
    const wanted = new Map(desired.map((p) => [objectField(p.namespace, p.name), p]));
    for (const [field, policy] of wanted) {
      const current = stored.get(field);
      if (current?.ok === true && current.value.policy.hash === policy.hash) continue;
      await this.upsertPolicy(policy, current !== undefined);
      if (current === undefined) report.policiesAdded.push(field);
      else report.policiesUpdated.push(field);
      if (current?.ok === false) report.invalidRemoved++;
    }
    const garbage: string[] = [];
    for (const [field, current] of stored) {
      if (wanted.has(field)) continue;
      const parsed = parseObjectField(field);
      if (current.ok && parsed !== null) {
        await this.deletePolicy(parsed.namespace, parsed.name);
        report.policiesRemoved.push(field);
      } else {
        garbage.push(field);
        report.invalidRemoved++;
      }
    }
    if (garbage.length > 0) await this.#guard(() => this.#redis.hdel(this.keys.policies, ...garbage));
  }

  async #run(busScript: BusScript, keys: string[], args: string[]): Promise<PublishResult> {
    const result = await this.#guard(async () => scriptResult(await runScript(this.#redis, busScript, keys, args)));
    this.raiseRevisionFloor(result.revision);
    return result;
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error: unknown) {
      throw new OperatorError("BUS_UNAVAILABLE", "the policy bus (Redis) did not accept the operation", { cause: error });
    }
  }
}

function sameRevocation(stored: Revocation, record: RevocationRecord): boolean {
  return canonicalJson({ ...stored, revision: undefined }) === canonicalJson({ ...record, v: 1, revision: undefined });
}
