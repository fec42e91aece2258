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

export function ruleMatches(rule: CompiledRule, principal: Principal, facts: RequestFacts, now: Date): boolean {
  const mode = rule.action;
  return (
    (rule.identities.length === 0 || rule.identities.some((m) => identityMatches(m, principal))) &&
    (rule.requests.length === 0 || rule.requests.some((m) => requestMatches(m, facts, mode))) &&
    (rule.sourceCIDRs.length === 0 || sourceMatches(rule.sourceCIDRs, facts.clientIp, mode)) &&
    (rule.schedule === null || scheduleMatches(rule.schedule, now, mode))
  );
}

export function identityMatches(m: CompiledIdentity, p: Principal): boolean {
  switch (m.kind) {
    case "subject":
      return p.subject === m.value;
    case "email":
      return p.email !== undefined && p.email.toLowerCase() === m.value.toLowerCase();
    case "emailDomain": {
      const at = p.email?.lastIndexOf("@") ?? -1;
      return p.email !== undefined && at > 0 && p.email.slice(at + 1).toLowerCase() === m.value.toLowerCase();
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
  const method = facts.method.toUpperCase();
  const tunnel = method === "CONNECT";
  if (m.methods.length > 0 && !(m.methods as readonly string[]).includes(method)) return false;
  if (m.ports.length > 0 && (!tunnel || facts.port === undefined || !m.ports.includes(facts.port))) return false;
  if (m.paths.length > 0 && (tunnel || !m.paths.some((pm) => pathMatches(pm, facts.path, mode)))) return false;
  return m.hosts.length === 0 || m.hosts.some((h) => hostMatches(h, facts.host));
}

export function pathMatches(m: PathMatch, path: string, mode: Mode): boolean {
  if (m.kind === "any") return true;
  const fold = (s: string): string => (mode === "Deny" ? trimSlash(s.toLowerCase()) : s);
  const subject = fold(path);
  if (m.kind === "exact") return subject === fold(m.value);
  const base = trimSlash(fold(m.value.endsWith("*") ? m.value.slice(0, -1) : m.value));
  return base === "" || subject === base || subject.startsWith(`${base}/`);
}

function trimSlash(s: string): string {
  return s.length > 1 && s.endsWith("/") ? s.slice(0, -1) : s === "/" ? "" : s;
}

export function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
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
