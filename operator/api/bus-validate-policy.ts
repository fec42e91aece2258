import { canonicalCidr } from "./cidr.ts";
import type {
  CompiledIdentity,
  CompiledPolicy,
  CompiledRequest,
  CompiledRule,
  CompiledSchedule,
  CompiledSelector,
  PathMatch,
} from "./compiled-policy.ts";
import type { HttpMethod, Weekday } from "./v1alpha1/index.ts";
import {
  anyString,
  anyStringOrEmpty,
  array,
  FieldError,
  integer,
  literal,
  matching,
  object,
  oneOf,
  record,
  string,
} from "./bus-validate.ts";

/** Validates a CompiledPolicy as read from the bus (shape, enums, bounds, canonical CIDRs, known time zone). */

const METHODS: readonly HttpMethod[] = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
const DAYS: readonly Weekday[] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HASH = /^[0-9a-f]{64}$/u;
const HOST = /^(\*\.)?[a-z0-9.-]{1,253}$/u;
const knownZones = new Map<string, boolean>();

function timeZone(value: unknown, field: string): string {
  const zone = string(value, field, 1, 64);
  let known = knownZones.get(zone);
  if (known === undefined) {
    try {
      known = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone.length > 0;
    } catch {
      known = false;
    }
    if (knownZones.size < 1000) knownZones.set(zone, known);
  }
  if (!known) throw new FieldError(field, "must be a known IANA time zone");
  return zone;
}

function cidr(value: unknown, field: string): string {
  const text = string(value, field, 1, 64);
  if (canonicalCidr(text) !== text) throw new FieldError(field, "must be a canonical CIDR");
  return text;
}

function pathMatch(value: unknown, field: string): PathMatch {
  const o = object(value, field);
  const kind = oneOf(o.kind, `${field}.kind`, ["exact", "prefix", "any"] as const);
  if (kind === "any") return { kind };
  const text = matching(o.value, `${field}.value`, /^\/[^\s?#]*$/u, "an absolute path");
  if (kind === "prefix" && !text.endsWith("/")) throw new FieldError(`${field}.value`, "a prefix must end with /");
  return { kind, value: text };
}

function request(value: unknown, field: string): CompiledRequest {
  const o = object(value, field);
  return {
    methods: array(o.methods, `${field}.methods`, (v, f) => oneOf(v, f, METHODS), METHODS.length),
    paths: array(o.paths, `${field}.paths`, pathMatch, 1024),
    hosts: array(o.hosts, `${field}.hosts`, (v, f) => matching(v, f, HOST, "a lower-case host"), 1024),
    ports: array(o.ports, `${field}.ports`, (v, f) => integer(v, f, 1, 65535), 1024),
  };
}

function identity(value: unknown, field: string): CompiledIdentity {
  const o = object(value, field);
  const kind = oneOf(o.kind, `${field}.kind`, ["subject", "email", "emailDomain", "group", "claim"] as const);
  if (kind === "claim") {
    return { kind, name: string(o.name, `${field}.name`, 1, 1024), values: array(o.values, `${field}.values`, anyString, 1024) };
  }
  return { kind, value: string(o.value, `${field}.value`, 1, 1024) };
}

function window(value: unknown, field: string): CompiledSchedule["windows"][number] {
  const o = object(value, field);
  const startMinute = integer(o.startMinute, `${field}.startMinute`, 0, 1439);
  const endMinute = integer(o.endMinute, `${field}.endMinute`, 1, 1440);
  if (endMinute <= startMinute) throw new FieldError(field, "endMinute must be after startMinute");
  return { days: array(o.days, `${field}.days`, (v, f) => oneOf(v, f, DAYS), 7), startMinute, endMinute };
}

function schedule(value: unknown, field: string): CompiledSchedule | null {
  if (value === null) return null;
  const o = object(value, field);
  return { timeZone: timeZone(o.timeZone, `${field}.timeZone`), windows: array(o.windows, `${field}.windows`, window, 1024) };
}

function rule(value: unknown, field: string): CompiledRule {
  const o = object(value, field);
  return {
    name: string(o.name, `${field}.name`, 1, 63),
    action: oneOf(o.action, `${field}.action`, ["Allow", "Deny"] as const),
    identities: array(o.identities, `${field}.identities`, identity, 1024),
    requests: array(o.requests, `${field}.requests`, request, 1024),
    sourceCIDRs: array(o.sourceCIDRs, `${field}.sourceCIDRs`, cidr, 1024),
    schedule: schedule(o.schedule, `${field}.schedule`),
  };
}

function selector(value: unknown, field: string): CompiledSelector {
  const o = object(value, field);
  return {
    matchLabels: record(o.matchLabels, `${field}.matchLabels`, anyStringOrEmpty, 1024),
    matchExpressions: array(
      o.matchExpressions,
      `${field}.matchExpressions`,
      (v, f) => {
        const e = object(v, f);
        return {
          key: string(e.key, `${f}.key`, 1, 317),
          operator: oneOf(e.operator, `${f}.operator`, ["In", "NotIn", "Exists", "DoesNotExist"] as const),
          values: array(e.values, `${f}.values`, anyStringOrEmpty, 1024),
        };
      },
      1024,
    ),
  };
}

export function compiledPolicy(value: unknown, field: string): CompiledPolicy {
  const o = object(value, field);
  const session = object(o.session, `${field}.session`);
  return {
    v: literal(o.v, `${field}.v`, 1),
    namespace: string(o.namespace, `${field}.namespace`, 1, 253),
    name: string(o.name, `${field}.name`, 1, 253),
    uid: string(o.uid, `${field}.uid`, 0, 128),
    generation: integer(o.generation, `${field}.generation`),
    hash: matching(o.hash, `${field}.hash`, HASH, "64 lower-case hex digits"),
    selector: selector(o.selector, `${field}.selector`),
    rules: array(o.rules, `${field}.rules`, rule, 256),
    session: {
      idleTimeoutSeconds: integer(session.idleTimeoutSeconds, `${field}.session.idleTimeoutSeconds`, 1),
      absoluteTimeoutSeconds: integer(session.absoluteTimeoutSeconds, `${field}.session.absoluteTimeoutSeconds`, 1),
    },
    failureMode: oneOf(o.failureMode, `${field}.failureMode`, ["Strict", "BestEffort"] as const),
  };
}
