/**
 * A session's session-wide facts (identity, client IPs, user agent, start and last activity: what the object of
 * every namespace it touched shows): its entry built from the first observation, refreshed from newer ones.
 * Memory first: identical identities (one user's many sessions) share one object, strings come from the index's pool.
 */
import type { SessionSeen } from "../../api/sessions/records.ts";
import type { SessionIdentity } from "../../api/sessions/v1alpha1.ts";
import type { SessionEntry } from "./entries.ts";
import type { StringPool } from "./string-pool.ts";

/** Distinct identities kept for sharing; past it the map starts over (identities already stored stay valid). */
const MAX_IDENTITIES = 10_000;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameIdentity(a: SessionIdentity, b: SessionIdentity): boolean {
  if (a.issuer !== b.issuer || a.subject !== b.subject || a.email !== b.email || !sameList(a.groups, b.groups)) return false;
  const ca = Object.entries(a.claims ?? {});
  const cb = b.claims ?? {};
  return ca.length === Object.keys(cb).length && ca.every(([k, v]) => JSON.stringify(v) === JSON.stringify(cb[k]));
}

export class SessionFacts {
  readonly #strings: StringPool;
  readonly #identities = new Map<string, SessionIdentity>();

  constructor(strings: StringPool) {
    this.#strings = strings;
  }

  /** The entry of a session first seen in `rec` (no namespace part yet). */
  create(rec: SessionSeen): SessionEntry {
    return {
      id: rec.sessionId,
      identity: this.#intern(rec.identity),
      firstIP: rec.clientIP,
      lastIP: rec.clientIP,
      userAgent: this.#strings.intern(rec.userAgent),
      location: undefined,
      startTime: Math.min(rec.startTime ?? rec.time, rec.time),
      lastActivity: rec.time,
      endTime: undefined,
      endReason: undefined,
      endDetail: undefined,
      parts: [],
    };
  }

  /** Session-wide facts from a newer observation; true when something every namespace shows changed. */
  refresh(session: SessionEntry, rec: SessionSeen): boolean {
    let changed = false;
    if (rec.time >= session.lastActivity) {
      session.lastActivity = rec.time;
      if (session.lastIP !== rec.clientIP) {
        session.lastIP = rec.clientIP;
        changed = true;
      }
      if (rec.userAgent !== undefined && rec.userAgent !== session.userAgent) {
        session.userAgent = this.#strings.intern(rec.userAgent);
        changed = true;
      }
      const identity = this.#intern(rec.identity, session.identity);
      if (identity !== session.identity) {
        session.identity = identity;
        changed = true;
      }
    }
    if (rec.startTime !== undefined && rec.startTime < session.startTime) {
      session.startTime = rec.startTime;
      changed = true;
    }
    return changed;
  }

  /** Identical identities share one object. */
  #intern(identity: SessionIdentity, current?: SessionIdentity): SessionIdentity {
    if (current !== undefined && sameIdentity(current, identity)) return current;
    const key = JSON.stringify(identity);
    const known = this.#identities.get(key);
    if (known !== undefined) return known;
    if (this.#identities.size >= MAX_IDENTITIES) this.#identities.clear();
    const shared: SessionIdentity = { ...identity, issuer: this.#strings.intern(identity.issuer), groups: identity.groups.map((g) => this.#strings.intern(g)) };
    this.#identities.set(key, shared);
    return shared;
  }
}
