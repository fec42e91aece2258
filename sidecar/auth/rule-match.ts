/**
 * Does one compiled rule match one request? (pure; used by authorize.ts)
 *
 * A rule matches when every present matcher matches (AND); each list is any-of (OR), and an
 * empty list matches anything. Matching is *fail-safe by action*: when a condition cannot be
 * decided (an unparseable CIDR or client IP, an unknown time zone) it counts as a match for a
 * Deny rule and as no match for an Allow rule, and Deny rules compare paths case-insensitively and
 * ignore one trailing slash, so `/ADMIN/` cannot slip past a deny on `/admin` on a
 * case-insensitive upstream. Allow rules compare paths exactly.
 * Request semantics: a matcher listing `ports` matches only CONNECT tunnels; a matcher listing
 * `paths` matches only HTTP requests (tunnels have no path). Prefix `/a/` (or `/a`) matches `/a`
 * and everything under `/a/`, never `/ab`. Hosts are exact or `*.x` (any subdomain of x, not x).
 */
import type { BlockList } from "node:net";
import { LRUCache } from "lru-cache";
import type { CompiledIdentity, CompiledRequest, CompiledRule, CompiledSchedule, PathMatch } from "../../operator/api/compiled-policy.ts";
import { cidrBlockList, inList, normaliseIp } from "../proxy/ip.ts";
import type { Principal, RequestFacts } from "./types.ts";

type Mode = "Allow" | "Deny";

// Every request walks every rule of every selecting policy: the matchers below allocate nothing per call (indexed
// loops instead of closures and iterators; lower-cased forms of a principal's email and of a rule's paths and hosts are computed once
// per object and kept in WeakMaps, principals being the token cache's objects and rules the view's).

export function ruleMatches(rule: CompiledRule, principal: Principal, facts: RequestFacts, now: Date): boolean {
  const mode = rule.action;
  return (
    anyIdentityMatches(rule.identities, principal) &&
    anyRequestMatches(rule.requests, facts, mode) &&
    (rule.sourceCIDRs.length === 0 || sourceMatches(rule.sourceCIDRs, facts.clientIp, mode)) &&
    (rule.schedule === null || scheduleMatches(rule.schedule, now, mode))
  );
}

function anyIdentityMatches(matchers: readonly CompiledIdentity[], principal: Principal): boolean {
  if (matchers.length === 0) return true;
  for (let i = 0; i < matchers.length; i++) if (identityMatches(matchers[i] as CompiledIdentity, principal)) return true;
  return false;
}

function anyRequestMatches(matchers: readonly CompiledRequest[], facts: RequestFacts, mode: Mode): boolean {
  if (matchers.length === 0) return true;
  for (let i = 0; i < matchers.length; i++) if (requestMatches(matchers[i] as CompiledRequest, facts, mode)) return true;
  return false;
}

/** A principal's email lower-cased, and the lower-cased part after its last `@` (null without an `@` past the start). */
interface EmailForms {
  lower: string;
  domain: string | null;
}

const emailForms = new WeakMap<Principal, EmailForms | null>();

function emailOf(p: Principal): EmailForms | null {
  let forms = emailForms.get(p);
  if (forms === undefined) {
    const email = p.email;
    const at = email?.lastIndexOf("@") ?? -1;
    forms = email === undefined ? null : { lower: email.toLowerCase(), domain: at > 0 ? email.slice(at + 1).toLowerCase() : null };
    emailForms.set(p, forms);
  }
  return forms;
}

export function identityMatches(m: CompiledIdentity, p: Principal): boolean {
  switch (m.kind) {
    case "subject":
      return p.subject === m.value;
    case "email": {
      const email = emailOf(p);
      return email !== null && email.lower === m.value.toLowerCase();
    }
    case "emailDomain": {
      const email = emailOf(p);
      return email?.domain != null && email.domain === m.value.toLowerCase();
    }
    case "group":
      return p.groups.includes(m.value);
    case "claim": {
      const claim = p.claims[m.name];
      if (typeof claim === "string") return m.values.includes(claim);
      return Array.isArray(claim) && claim.some((v) => typeof v === "string" && m.values.includes(v));
    }
    default:
      return false;
  }
}

export function requestMatches(m: CompiledRequest, facts: RequestFacts, mode: Mode): boolean {
  const method = facts.method.toUpperCase(); // no copy when it already is (the facts' method always is)
  const tunnel = method === "CONNECT";
  if (m.methods.length > 0 && !(m.methods as readonly string[]).includes(method)) return false;
  if (m.ports.length > 0 && (!tunnel || facts.port === undefined || !m.ports.includes(facts.port))) return false;
  if (m.paths.length > 0 && (tunnel || !anyPathMatches(m.paths, facts.path, mode))) return false;
  if (m.hosts.length === 0) return true;
  for (let i = 0; i < m.hosts.length; i++) if (hostMatches(m.hosts[i] as string, facts.host)) return true;
  return false;
}

function anyPathMatches(matchers: readonly PathMatch[], path: string, mode: Mode): boolean {
  let subject: string | undefined; // the path as this mode compares it, folded at most once per call
  for (let i = 0; i < matchers.length; i++) {
    const pm = matchers[i] as PathMatch;
    if (pm.kind === "any") return true;
    subject ??= mode === "Deny" ? foldPath(path) : path;
    if (matchesFolded(pm, subject, mode)) return true;
  }
  return false;
}

/** Deny rules compare case-insensitively and without one trailing slash. */
function foldPath(s: string): string {
  return trimSlash(s.toLowerCase());
}

/** What a path matcher compares against, per mode: `exact` the value, `prefix` the base and the base + `/`. */
interface PathForms {
  value: string;
  base: string;
  under: string;
}

const pathForms = new WeakMap<PathMatch, { Allow?: PathForms; Deny?: PathForms }>();

function formsOf(m: Exclude<PathMatch, { kind: "any" }>, mode: Mode): PathForms {
  let byMode = pathForms.get(m);
  if (byMode === undefined) {
    byMode = {};
    pathForms.set(m, byMode);
  }
  let forms = byMode[mode];
  if (forms === undefined) {
    const fold = (v: string): string => (mode === "Deny" ? foldPath(v) : v);
    const base = trimSlash(fold(m.value.endsWith("*") ? m.value.slice(0, -1) : m.value));
    forms = { value: fold(m.value), base, under: `${base}/` };
    byMode[mode] = forms;
  }
  return forms;
}

function matchesFolded(m: Exclude<PathMatch, { kind: "any" }>, subject: string, mode: Mode): boolean {
  const forms = formsOf(m, mode);
  if (m.kind === "exact") return subject === forms.value;
  return forms.base === "" || subject === forms.base || subject.startsWith(forms.under);
}

function trimSlash(s: string): string {
  return s.length > 1 && s.endsWith("/") ? s.slice(0, -1) : s === "/" ? "" : s;
}

export function hostMatches(pattern: string, host: string): boolean {
  const h = host.endsWith(".") ? host.toLowerCase().slice(0, -1) : host.toLowerCase();
  const p = pattern.toLowerCase();
  if (p.startsWith("*.")) return h.length > p.length - 1 && h.endsWith(p.slice(1));
  return h === p;
}

const cidrCache = new WeakMap<readonly string[], { list: BlockList; anyInvalid: boolean }>();

export function sourceMatches(cidrs: readonly string[], clientIp: string, mode: Mode): boolean {
  let parsed = cidrCache.get(cidrs);
  if (parsed === undefined) {
    const { list, invalid } = cidrBlockList(cidrs);
    parsed = { list, anyInvalid: invalid.length > 0 };
    cidrCache.set(cidrs, parsed);
  }
  const indeterminate = normaliseIp(clientIp) === undefined || parsed.anyInvalid;
  if (inList(parsed.list, clientIp)) return true;
  return indeterminate && mode === "Deny";
}

/** One formatter per time zone seen in policies; `false` remembers a zone Intl does not know. */
const zoneFormats = new LRUCache<string, Intl.DateTimeFormat | false>({ max: 256 });

function formatFor(timeZone: string): Intl.DateTimeFormat | false {
  let format = zoneFormats.get(timeZone);
  if (format !== undefined) return format;
  try {
    format = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  } catch {
    format = false;
  }
  zoneFormats.set(timeZone, format);
  return format;
}

/** Weekday (`Mon`…) and minute of the day of `now` in `timeZone`; undefined for an unknown zone. */
export function localTime(now: Date, timeZone: string): { day: string; minute: number } | undefined {
  const format = formatFor(timeZone);
  if (format === false || Number.isNaN(now.getTime())) return undefined;
  let day = "";
  let hour = 0;
  let minute = 0;
  for (const part of format.formatToParts(now)) {
    if (part.type === "weekday") day = part.value;
    else if (part.type === "hour") hour = Number(part.value);
    else if (part.type === "minute") minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

export function scheduleMatches(schedule: CompiledSchedule, now: Date, mode: Mode): boolean {
  const local = localTime(now, schedule.timeZone);
  if (local === undefined) return mode === "Deny";
  return schedule.windows.some(
    (w) => (w.days.length === 0 || (w.days as readonly string[]).includes(local.day)) && local.minute >= w.startMinute && local.minute < w.endMinute,
  );
}
