/**
 * The OPERATOR side of the policy bus (wire format and key layout in operator/api/bus/messages.ts). The only
 * writer of enforcement state: every entry, head, event and epoch record is signed with the primary key of the
 * signing ring.
 *
 * Lifecycle (driven by the bus controller, operator/controller/bus-resync.ts, on the leader):
 * - `load()` adopts the bus found in Redis when it is whole: a valid epoch record and, for every namespace,
 *   a head whose digest matches its entries, all signed by a key of the ring. Otherwise nothing is adopted.
 * - `rebuild(desired, reason)` writes a NEW epoch holding exactly the desired state (plus lifts still in force),
 *   deleting every namespace key, in ONE MULTI: readers see the old bus or the new one, never a part.
 * - `check()` (every few seconds and after a reconnect) compares the epoch id and every head revision with
 *   memory, and the key types; `verifyContents()` (each resync) compares every entry's bytes. Any difference
 *   is damage: the controller rebuilds. `refreshEpoch()` re-signs the epoch record (`signedAt`), which is how
 *   sidecars know the bus is live.
 * - `sync(desired)` publishes the difference between the resources and what was written (no Redis read).
 *
 * Changes (`upsertPolicy`, `deletePolicy`, `publishRevocation`, `liftRevocationsOf`, `ensureNamespace`, prunes)
 * are serialised per namespace; each is one compare-and-set script (scripts.ts) that fails, instead of forking
 * the namespace's chain, when Redis no longer holds what the operator wrote: the publisher then marks the bus
 * damaged (BUS_DAMAGED) and the controller rebuilds it. Before the first load or rebuild, changes fail with
 * BUS_NOT_READY; Redis failures with BUS_UNAVAILABLE (cause attached). Revisions never go back: the floor is the
 * highest revision seen (raise it from resource status after a restart with `raiseRevisionFloor`).
 *
 * What to write is decided in plan.ts (pure) and signed in signed-writes.ts (pure); this class keeps the state,
 * serialises the changes and runs the writes.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { decodeAck, decodeHeartbeat } from "../api/bus/codec.ts";
import { busKeys, DEFAULT_BUS_PREFIX, namespaceOfKey, podField, type BusKeys } from "../api/bus/keys.ts";
import { entryField, policyField, revocationField, type Ack, type Heartbeat, type Revocation } from "../api/bus/messages.ts";
import { execValues, pairsOf, parseCounter } from "../api/bus/replies.ts";
import { verifyEpoch, verifyNamespace } from "../api/bus/snapshot.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import { OperatorError } from "../errors.ts";
import { desiredByNamespace, planSync, rebuildDrafts, type Draft, type Plan, type SyncReport } from "./plan.ts";
import { PublishedNamespace, revocationContent, summaryOf, type DesiredBus, type PublishedEpoch } from "./published.ts";
import { compareEntries } from "./compare-entries.ts";
import { applyOutcome, defineBusScripts } from "./scripts.ts";
import { kidOf, signChange, signEpoch, signNamespace } from "./signed-writes.ts";
import type { SigningKeyRing } from "./signing-keys.ts";

export type { SyncReport } from "./plan.ts";

export const BUS_UNAVAILABLE = "BUS_UNAVAILABLE";
export const BUS_NOT_READY = "BUS_NOT_READY";
export const BUS_DAMAGED = "BUS_DAMAGED";
export const DEFAULT_STREAM_MAX_LENGTH = 10_000;
/** Reads of a namespace by `probeContents` while its head keeps moving, before a mismatch counts. */
const PROBE_ATTEMPTS = 3;
/** Changes per event when a resync or a rebuild publishes many at once (bounded message size). */
const MAX_CHANGES_PER_EVENT = 64;

export interface PublisherOptions {
  redis: Redis;
  /** The current signing ring (read at every signature, so a reloaded ring takes effect at once). */
  keys: () => SigningKeyRing;
  prefix?: string;
  /** Approximate cap of each namespace stream (XADD MAXLEN ~). Default 10,000. */
  maxStreamLength?: number;
  now?: () => number;
}

export interface PublishResult {
  /** False when nothing was written (unchanged, unknown, already lifted). */
  changed: boolean;
  /** Revision of the change, or of the stored entry when unchanged (0 when there is none). */
  revision: number;
}

/** Why a rebuild is needed (the label of vigil_operator_bus_rebuilds_total). */
export type RebuildReason = "not_built" | "lost" | "damaged" | "altered" | "sidecar_reported" | "key_rotated";

export interface Damage {
  reason: RebuildReason;
  message: string;
}

export class BusPublisher {
  readonly keys: BusKeys;
  readonly #redis: Redis;
  readonly #signing: () => SigningKeyRing;
  readonly #maxLength: string;
  readonly #now: () => number;
  #floor = 0;
  #epoch: PublishedEpoch | null = null;
  #namespaces = new Map<string, PublishedNamespace>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #damage: Damage | null = null;
  /** The one key id that signed the whole bus, or null when several did (then the next check re-signs it all). */
  #signedBy: string | null = null;
  #invalidMessages = 0;

  constructor(options: PublisherOptions) {
    this.keys = busKeys(options.prefix ?? DEFAULT_BUS_PREFIX);
    this.#redis = defineBusScripts(options.redis);
    this.#signing = options.keys;
    const cap = options.maxStreamLength ?? DEFAULT_STREAM_MAX_LENGTH;
    if (!Number.isSafeInteger(cap) || cap < 1) throw new OperatorError("CONFIG_INVALID", "maxStreamLength must be a positive integer");
    this.#maxLength = String(cap);
    this.#now = options.now ?? Date.now;
  }

  /** The epoch this publisher writes (null before the first load or rebuild). */
  get epoch(): Readonly<PublishedEpoch> | null {
    return this.#epoch;
  }

  /** Why the bus needs a rebuild (null while it is intact as far as this publisher knows). */
  get damage(): Damage | null {
    return this.#damage;
  }

  get highestRevision(): number {
    return this.#floor;
  }

  /** Heartbeats and acks read by this publisher that did not validate (a rogue writer), skipped. */
  get invalidMessages(): number {
    return this.#invalidMessages;
  }

  /** Never publish at or below `revision` again (e.g. the largest status.busRevision seen at start). */
  raiseRevisionFloor(revision: number): void {
    if (Number.isSafeInteger(revision) && revision > this.#floor) this.#floor = revision;
  }

  /** Revision of a published policy's entry (0 when there is none). */
  policyRevision(namespace: string, name: string): number {
    return this.#namespaces.get(namespace)?.entries.get(policyField(name))?.revision ?? 0;
  }

  /** Namespaces with a head in this epoch. */
  namespaces(): string[] {
    return [...this.#namespaces.keys()];
  }

  // ---- lifecycle ------------------------------------------------------------------------------------------

  /** Adopts the bus in Redis if it is whole and signed by this ring; returns why not otherwise. */
  async load(): Promise<{ adopted: true } | { adopted: false; damage: Damage }> {
    const verifying = this.#signing().verifying;
    const [epochReply, revisionReply] = await this.#guard(async () =>
      execValues(await this.#redis.multi().call("HGETALL", this.keys.epoch).call("GET", this.keys.revision).exec(), 2),
    );
    this.raiseRevisionFloor(parseCounter(revisionReply) ?? 0);
    const epoch = verifyEpoch(epochReply, verifying);
    if (!epoch.ok) return { adopted: false, damage: { reason: epoch.error.code === "BUS_NO_EPOCH" ? "not_built" : "damaged", message: epoch.error.message } };
    const namespaces = new Map<string, PublishedNamespace>();
    const signers = new Set([kidOf(epochReply)]);
    for (const namespace of await this.#scanNamespaces()) {
      const nsKeys = this.keys.namespace(namespace);
      const [head, entries] = await this.#guard(async () =>
        execValues(await this.#redis.multi().call("HGETALL", nsKeys.head).call("HGETALL", nsKeys.entries).exec(), 2),
      );
      const verified = verifyNamespace(namespace, epoch.value, head, entries, verifying);
      if (!verified.ok)
        return { adopted: false, damage: { reason: "damaged", message: `namespace ${namespace}: ${verified.error.code}: ${verified.error.message}` } };
      if (verified.value.head === null) continue;
      for (const kid of verified.value.signers) signers.add(kid);
      const state = new PublishedNamespace();
      state.revision = verified.value.head.revision;
      state.digest = verified.value.digest;
      for (const entry of [...verified.value.policies, ...verified.value.revocations]) state.entries.set(entryField(entry), summaryOf(entry));
      namespaces.set(namespace, state);
      this.raiseRevisionFloor(state.revision);
    }
    this.#epoch = { id: epoch.value.epoch, createdAt: epoch.value.createdAt };
    this.#namespaces = namespaces;
    this.#damage = null;
    this.#signedBy = signers.size === 1 ? ([...signers][0] ?? null) : null;
    return { adopted: true };
  }

  /**
   * Writes a new epoch holding `desired` (unexpired revocations, and the lifts this publisher knows that are still
   * in force, so a sidecar that missed a lift still gets it) for every namespace that has or needs a head.
   */
  async rebuild(desired: DesiredBus, why: Damage): Promise<{ epoch: string; revision: number }> {
    return this.#exclusiveAll(async () => {
      const now = this.#now();
      const epoch: PublishedEpoch = { id: randomBytes(16).toString("base64url"), createdAt: now };
      const revision = ++this.#floor;
      const drafts = rebuildDrafts(desired, this.#namespaces, now);
      const key = this.#signing().primary;
      const stale = await this.#scanKeys();
      const multi = this.#redis.multi();
      multi.del(this.keys.epoch, this.keys.revision, ...stale);
      const namespaces = new Map<string, PublishedNamespace>();
      for (const [namespace, list] of drafts) {
        const nsKeys = this.keys.namespace(namespace);
        const signed = signNamespace({ epoch: epoch.id, namespace, revision, drafts: list }, key);
        for (let i = 0; i < signed.fields.length; i += 2048) multi.hset(nsKeys.entries, ...signed.fields.slice(i, i + 2048));
        multi.hset(nsKeys.head, "revision", String(revision), "signed", signed.head);
        multi.xadd(nsKeys.events, "MAXLEN", "~", this.#maxLength, "*", "m", signed.event);
        namespaces.set(namespace, signed.state);
      }
      multi.hset(this.keys.epoch, "id", epoch.id, "signed", signEpoch(epoch, now, key));
      multi.set(this.keys.revision, String(revision));
      const results = await this.#guard(() => multi.exec());
      for (const [error] of results ?? [[new Error("rebuild transaction was aborted")]]) {
        if (error !== null) throw new OperatorError(BUS_UNAVAILABLE, `the bus rebuild failed (${why.message})`, { cause: error });
      }
      this.#epoch = epoch;
      this.#namespaces = namespaces;
      this.#damage = null;
      this.#signedBy = key.kid;
      return { epoch: epoch.id, revision };
    });
  }

  /** Cheap integrity check against memory: epoch id, key types, every head revision. Null when intact; damage is recorded. */
  async check(): Promise<Damage | null> {
    return this.#record(await this.probe());
  }

  /**
   * `check()` without recording what it finds. Safe with publishes in flight (it runs under no gate): a publish
   * that has written its head in Redis but not yet in memory looks like damage, so a finding must be confirmed by
   * `check()` with no publish in flight before anything is rebuilt.
   */
  async probe(): Promise<Damage | null> {
    if (this.#damage !== null) return this.#damage;
    const epoch = this.#epoch;
    if (epoch === null) return { reason: "not_built", message: "the bus was never loaded" };
    const primary = this.#signing().primary.kid;
    if (this.#signedBy !== primary) {
      // A new primary key (rotation): re-sign the whole bus with it, so the old key can be retired.
      return { reason: "key_rotated", message: `the signing key is now ${primary}; the bus is re-signed with it` };
    }
    const namespaces = [...this.#namespaces].map(([namespace, state]) => ({ namespace, revision: state.revision }));
    const pipeline = this.#redis.pipeline().hget(this.keys.epoch, "id").type(this.keys.sidecars).type(this.keys.ackEvents);
    for (const { namespace } of namespaces) pipeline.hget(this.keys.namespace(namespace).head, "revision");
    const results = (await this.#guard(() => pipeline.exec())) ?? [];
    const [[epochError, epochId], [, sidecarsType], [, ackType]] = results as [[Error | null, unknown], [Error | null, unknown], [Error | null, unknown]];
    await this.#repairSidecarKeys(sidecarsType, ackType);
    if (epochError !== null) return { reason: "damaged", message: `the epoch key is unreadable: ${epochError.message}` };
    if (epochId === null) return { reason: "lost", message: "the epoch record is gone (Redis lost its data?)" };
    if (epochId !== epoch.id) return { reason: "damaged", message: "the epoch record was replaced" };
    for (let i = 0; i < namespaces.length; i++) {
      const [error, value] = results[i + 3] ?? [null, null];
      const { namespace, revision } = namespaces[i] ?? { namespace: "", revision: 0 };
      if (error !== null) return { reason: "damaged", message: `the head of namespace ${namespace} is unreadable: ${error.message}` };
      if (parseCounter(value) !== revision) return { reason: "damaged", message: `the head of namespace ${namespace} is not the one written` };
    }
    return null;
  }

  /** Deep check: every entry's bytes equal what was written. Null when intact; damage is recorded. */
  async verifyContents(): Promise<Damage | null> {
    return this.#record(await this.probeContents());
  }

  /**
   * `verifyContents()` without recording what it finds (like `probe()`: a finding must be confirmed). It yields while
   * comparing (compare-entries.ts); a namespace whose head moved meanwhile (a publish) is read again, up to
   * PROBE_ATTEMPTS times, before what it found counts.
   */
  async probeContents(): Promise<Damage | null> {
    const check = await this.probe();
    if (check !== null) return check;
    for (const [namespace, state] of [...this.#namespaces]) {
      const nsKeys = this.keys.namespace(namespace);
      for (let attempt = 1; ; attempt++) {
        const revision = state.revision;
        const [head, entries] = await this.#guard(async () =>
          execValues(await this.#redis.multi().hget(nsKeys.head, "revision").call("HGETALL", nsKeys.entries).exec(), 2),
        );
        // undefined: the head had moved on (a publish in flight); a result is settled if no publish landed meanwhile.
        const found = parseCounter(head) === revision ? await compareEntries(namespace, state, entries) : undefined;
        if (found !== undefined && state.revision === revision) {
          if (found !== null) return found;
          break;
        }
        // What an unsettled read found may be a publish landing mid-read: a suspicion, named as such.
        if (attempt === PROBE_ATTEMPTS) return { reason: "altered", message: `namespace ${namespace} changed during each of ${PROBE_ATTEMPTS} reads` };
      }
    }
    return null;
  }

  /** Records damage found (a bus never built is not damage: nothing may be published until the first rebuild anyway). */
  #record(found: Damage | null): Damage | null {
    return found === null || found.reason === "not_built" ? found : this.#markDamaged(found.reason, found.message);
  }

  /** Re-signs the epoch record with a fresh `signedAt` (sidecars measure staleness from it). */
  async refreshEpoch(): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === null) return;
    const record = signEpoch(epoch, this.#now(), this.#signing().primary);
    const replaced = await this.#guard(() => this.#redis.vigilResignEpoch(this.keys.epoch, epoch.id, record));
    if (replaced !== 1) this.#markDamaged("damaged", "the epoch record was replaced or lost");
  }

  // ---- changes --------------------------------------------------------------------------------------------

  async upsertPolicy(policy: CompiledPolicy): Promise<PublishResult> {
    return this.#change(policy.namespace, (state) => {
      const current = state.entries.get(policyField(policy.name));
      if (current?.content === policy.hash) return { unchanged: current.revision };
      return { puts: [{ type: "policy", policy }], dels: [] };
    });
  }

  async deletePolicy(namespace: string, name: string): Promise<PublishResult> {
    return this.#change(namespace, (state) => (state.entries.has(policyField(name)) ? { puts: [], dels: [policyField(name)] } : { unchanged: 0 }));
  }

  /** Publishes a revocation (idempotent: the same content is not written twice). */
  async publishRevocation(revocation: Revocation): Promise<PublishResult> {
    return this.#change(revocation.namespace, (state) => {
      const current = state.entries.get(revocationField(revocation.id));
      if (current !== undefined && !current.lifted && current.content === revocationContent(revocation)) return { unchanged: current.revision };
      return { puts: [{ type: "revocation", revocation }], dels: [] };
    });
  }

  /** Lifts every revocation of the SessionTermination `namespace/name` still in force (the resource was deleted). */
  async liftRevocationsOf(namespace: string, name: string): Promise<PublishResult> {
    const prefix = revocationField(`${namespace}/${name}/`);
    return this.#change(namespace, (state) => {
      const puts = [...state.entries]
        .filter(([field, s]) => field.startsWith(prefix) && s.type === "revocation" && !s.lifted)
        .map(([, s]): Draft => ({ type: "revocation", revocation: JSON.parse(s.content) as Revocation, liftedAt: this.#now() }));
      return puts.length === 0 ? { unchanged: state.revision } : { puts, dels: [] };
    });
  }

  /** Writes an empty head for a namespace that has none yet (its sidecars then load an authenticated empty view). */
  async ensureNamespace(namespace: string): Promise<PublishResult> {
    return this.#change(namespace, (state) => (state.revision === 0 ? { puts: [], dels: [] } : { unchanged: state.revision }));
  }

  /** Publishes the difference between `desired` and what was written; prunes revocations past their expiry. */
  async sync(desired: DesiredBus): Promise<SyncReport> {
    const report: SyncReport = { policiesPut: [], policiesDeleted: [], revocationsPut: [], revocationsLifted: [], pruned: 0, namespacesAdded: [] };
    const now = this.#now();
    const wanted = desiredByNamespace(desired, now);
    const all = new Set([...wanted.keys(), ...this.#namespaces.keys()]);
    for (const namespace of all) {
      const want = wanted.get(namespace) ?? { policies: new Map(), revocations: new Map() };
      await this.#changeChunks(namespace, (state) => planSync(state, want, now, report));
      if (!this.#namespaces.has(namespace) || this.#namespaces.get(namespace)?.revision === 0) {
        if ((await this.ensureNamespace(namespace)).changed) report.namespacesAdded.push(namespace);
      }
    }
    return report;
  }

  // ---- what sidecars write ----------------------------------------------------------------------------------

  async readAcks(terminationId: string): Promise<Ack[]> {
    const reply = await this.#repairing(this.keys.acks(terminationId), () => this.#redis.call("HGETALL", this.keys.acks(terminationId)));
    const acks: Ack[] = [];
    for (const [field, raw] of pairsOf(reply)) {
      const decoded = decodeAck(raw);
      if (decoded.ok && decoded.value.terminationId === terminationId && podField(decoded.value.namespace, decoded.value.pod) === field)
        acks.push(decoded.value);
      else this.#invalidMessages++;
    }
    return acks;
  }

  /** Sidecars whose last heartbeat is at most `maxAgeMs` old (and not further than that in the future). */
  async liveSidecars(now: number, maxAgeMs: number): Promise<Heartbeat[]> {
    return (await this.#heartbeats(now, maxAgeMs)).live;
  }

  /** Removes heartbeats older than `maxAgeMs` (and invalid ones); returns how many were removed. */
  async pruneSidecars(now: number, maxAgeMs: number): Promise<number> {
    const { stale } = await this.#heartbeats(now, maxAgeMs);
    if (stale.length === 0) return 0;
    return this.#guard(() => this.#redis.hdel(this.keys.sidecars, ...stale));
  }

  // ---- internals --------------------------------------------------------------------------------------------

  async #heartbeats(now: number, maxAgeMs: number): Promise<{ live: Heartbeat[]; stale: string[] }> {
    const reply = await this.#repairing(this.keys.sidecars, () => this.#redis.call("HGETALL", this.keys.sidecars));
    const live: Heartbeat[] = [];
    const stale: string[] = [];
    for (const [field, raw] of pairsOf(reply)) {
      const decoded = decodeHeartbeat(raw);
      if (!decoded.ok || podField(decoded.value.namespace, decoded.value.pod) !== field) {
        this.#invalidMessages++;
        stale.push(field);
      } else if (Math.abs(now - decoded.value.at) <= maxAgeMs) live.push(decoded.value);
      else stale.push(field);
    }
    return { live, stale };
  }

  /**
   * One change of `namespace`, planned from what was written: a plan to apply, or nothing to do, with the revision of
   * what is stored (the entry's own revision, not the head's: statuses name it, and must not change whenever
   * something else of the namespace is published).
   */
  async #change(namespace: string, plan: (state: PublishedNamespace) => Plan | { unchanged: number }): Promise<PublishResult> {
    return this.#withNamespace(namespace, async () => {
      const state = this.#namespaces.get(namespace) ?? new PublishedNamespace();
      const changes = plan(state);
      if ("unchanged" in changes) return { changed: false, revision: changes.unchanged };
      const revision = await this.#apply(namespace, state, changes.puts, changes.dels);
      return { changed: true, revision };
    });
  }

  /** Like #change, for a plan that may hold many changes: applied in events of at most MAX_CHANGES_PER_EVENT. */
  async #changeChunks(namespace: string, plan: (state: PublishedNamespace) => Plan): Promise<void> {
    await this.#withNamespace(namespace, async () => {
      const state = this.#namespaces.get(namespace) ?? new PublishedNamespace();
      const { puts, dels } = plan(state);
      for (let i = 0; i < dels.length; i += MAX_CHANGES_PER_EVENT) await this.#apply(namespace, state, [], dels.slice(i, i + MAX_CHANGES_PER_EVENT));
      for (let i = 0; i < puts.length; i += MAX_CHANGES_PER_EVENT) await this.#apply(namespace, state, puts.slice(i, i + MAX_CHANGES_PER_EVENT), []);
    });
  }

  /** Signs and writes one change of `namespace` (compare-and-set on epoch and head revision); returns its revision. */
  async #apply(namespace: string, state: PublishedNamespace, drafts: readonly Draft[], dels: readonly string[]): Promise<number> {
    const epoch = this.#epoch;
    if (epoch === null) throw new OperatorError(BUS_NOT_READY, "the policy bus is not loaded yet");
    if (this.#damage !== null) throw new OperatorError(BUS_DAMAGED, `the policy bus must be rebuilt: ${this.#damage.message}`);
    const revision = this.#floor + 1;
    const { sealed, preview, args } = signChange({ epoch: epoch.id, namespace, state, revision, drafts, dels }, this.#signing().primary, this.#maxLength);
    const nsKeys = this.keys.namespace(namespace);
    this.#floor = revision;
    const outcome = applyOutcome(
      await this.#guard(() => this.#redis.vigilApplyChange(this.keys.epoch, this.keys.revision, nsKeys.head, nsKeys.entries, nsKeys.events, ...args)),
    );
    if (!outcome.applied) {
      const reason =
        outcome.reason === "epoch" ? "the epoch record changed under the publisher" : `the head of namespace ${namespace} changed under the publisher`;
      this.#markDamaged("damaged", reason);
      throw new OperatorError(BUS_DAMAGED, `the policy bus must be rebuilt: ${reason}`);
    }
    preview.commit();
    state.revision = revision;
    for (const s of sealed) state.entries.set(s.field, summaryOf(s.entry));
    for (const field of dels) state.entries.delete(field);
    this.#namespaces.set(namespace, state);
    return revision;
  }

  async #repairSidecarKeys(sidecarsType: unknown, ackType: unknown): Promise<void> {
    const wrong = [
      [this.keys.sidecars, sidecarsType, "hash"],
      [this.keys.ackEvents, ackType, "stream"],
    ]
      .filter(([, type, expected]) => type !== "none" && type !== expected)
      .map(([key]) => String(key));
    if (wrong.length > 0) await this.#guard(() => this.#redis.del(...wrong));
  }

  /** Records damage the controller must repair (a sidecar's report, a failed check); the first one is kept. */
  #markDamaged(reason: RebuildReason, message: string): Damage {
    this.#damage ??= { reason, message };
    return this.#damage;
  }

  /** A sidecar reported an integrity failure of the current epoch: rebuild. */
  reportDamage(message: string): void {
    this.#markDamaged("sidecar_reported", message);
  }

  async #scanKeys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = "0";
    do {
      const reply = await this.#guard(() => this.#redis.scan(cursor, "MATCH", this.keys.namespacePattern, "COUNT", 1000));
      cursor = reply[0];
      found.push(...reply[1]);
    } while (cursor !== "0");
    return found;
  }

  async #scanNamespaces(): Promise<string[]> {
    const namespaces = new Set<string>();
    for (const key of await this.#scanKeys()) {
      const namespace = namespaceOfKey(this.keys, key);
      if (namespace !== null) namespaces.add(namespace);
    }
    return [...namespaces];
  }

  async #withNamespace<T>(namespace: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(namespace) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.#locks.set(namespace, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(namespace) === settled) this.#locks.delete(namespace);
    }
  }

  /** Runs `fn` with no namespace change in flight (a rebuild replaces every namespace). */
  async #exclusiveAll<T>(fn: () => Promise<T>): Promise<T> {
    await Promise.all([...this.#locks.values()]);
    return fn();
  }

  /**
   * A read of a key sidecars write (heartbeats, acks): if a rogue gave it the wrong type, delete it (sidecars write it
   * again within a heartbeat) and read nothing, instead of failing every reconcile.
   */
  async #repairing(key: string, read: () => Promise<unknown>): Promise<unknown> {
    try {
      return await read();
    } catch (error: unknown) {
      if (!(error instanceof Error)) throw new OperatorError("BUS_UNAVAILABLE", "the policy bus (Redis) did not accept the operation", { cause: error });
      if (!error.message.includes("WRONGTYPE")) return this.#guard(() => Promise.reject(error));
      await this.#guard(() => this.#redis.del(key));
      return [];
    }
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error: unknown) {
      if (error instanceof OperatorError) throw error;
      if (error instanceof Error && error.message.includes("WRONGTYPE")) this.#markDamaged("damaged", `a bus key holds the wrong type: ${error.message}`);
      throw new OperatorError(BUS_UNAVAILABLE, "the policy bus (Redis) did not accept the operation", { cause: error });
    }
  }
}

const NOTHING: DesiredBus = { policies: [], revocations: [], namespaces: [] };

/** Adopts the bus in Redis, or rebuilds it holding `desired` (the bus controller does this with metrics and events). */
export async function openBus(publisher: BusPublisher, desired: DesiredBus = NOTHING): Promise<"adopted" | "rebuilt"> {
  const loaded = await publisher.load();
  if (loaded.adopted) return "adopted";
  await publisher.rebuild(desired, loaded.damage);
  return "rebuilt";
}
