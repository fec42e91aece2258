/**
 * Field selectors on VigilSessions (pure). Syntax as Kubernetes' `fields.ParseSelector`: comma-separated terms
 * `field=value`, `field==value` or `field!=value`, all of which must hold; `\,` `\=` `\\` escape inside values.
 *
 * Fields (docs/decisions/sessions-api-0003-field-selectors.md):
 *   metadata.name, metadata.namespace
 *   user       the subject or the email (what the USER column shows)
 *   email      the email (case-insensitive)
 *   group      one of the groups
 *   workload   a pod or owning workload name of this namespace
 *   state      Active | Idle | Ended
 *   clientIP   the first or the last client IP
 *   stale      true | false
 * For the multi-valued ones (`user`, `group`, `workload`, `clientIP`), `=` means "one of them is" and `!=` "none of
 * them is". An unknown field, a bad term or a value that can never match (a state that does not exist, a clientIP
 * that is not an IP) is an error whose message says what is allowed.
 */
import { isIP } from "node:net";
import { SESSION_STATES } from "../../api/sessions/v1alpha1.ts";
import type { SelectableFields } from "../index/render.ts";

export const SELECTABLE_FIELDS = ["metadata.name", "metadata.namespace", "user", "email", "group", "workload", "state", "clientIP", "stale"] as const;
export type SelectableField = (typeof SELECTABLE_FIELDS)[number];

export interface FieldRequirement {
  field: SelectableField;
  op: "=" | "!=";
  value: string;
}

export type FieldSelector = readonly FieldRequirement[];

export type ParsedSelector = { ok: true; selector: FieldSelector } | { ok: false; message: string };

/** Splits on unescaped `sep`, keeping escapes (they are resolved per value). */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === "\\" && i + 1 < text.length) {
      current += c + text.charAt(i + 1);
      i += 1;
    } else if (c === sep) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescape(value: string): string | undefined {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = value.charAt(i + 1);
    if (next !== "\\" && next !== "," && next !== "=") return undefined;
    out += next;
    i += 1;
  }
  return out;
}

/** The first unescaped operator of a term: `!=`, `==` or `=`. */
function splitTerm(term: string): { key: string; op: "=" | "!="; raw: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term.charAt(i);
    if (c === "\\") {
      i += 1;
      continue;
    }
    if (c === "!" && term.charAt(i + 1) === "=") return { key: term.slice(0, i), op: "!=", raw: term.slice(i + 2) };
    if (c === "=") {
      const skip = term.charAt(i + 1) === "=" ? 2 : 1;
      return { key: term.slice(0, i), op: "=", raw: term.slice(i + skip) };
    }
  }
  return undefined;
}

function checkValue(field: SelectableField, value: string): string | undefined {
  if (field === "state" && !(SESSION_STATES as readonly string[]).includes(value)) return `state must be one of ${SESSION_STATES.join(", ")} (got "${value}")`;
  if (field === "stale" && value !== "true" && value !== "false") return `stale must be true or false (got "${value}")`;
  if (field === "clientIP" && isIP(value) === 0) return `clientIP must be an IP address (got "${value}")`;
  return undefined;
}

export function parseFieldSelector(text: string | undefined): ParsedSelector {
  if (text === undefined || text.trim() === "") return { ok: true, selector: [] };
  if (text.length > 4096) return { ok: false, message: "field selector is longer than 4096 characters" };
  const selector: FieldRequirement[] = [];
  for (const rawTerm of splitUnescaped(text, ",")) {
    const term = rawTerm.trim();
    const parsed = splitTerm(term);
    if (parsed === undefined || parsed.key.trim() === "")
      return { ok: false, message: `invalid field selector term "${term}": expected field=value, field==value or field!=value` };
    const key = parsed.key.trim();
    if (!(SELECTABLE_FIELDS as readonly string[]).includes(key)) {
      return { ok: false, message: `field label not supported: "${key}" (vigilsessions support ${SELECTABLE_FIELDS.join(", ")})` };
    }
    const field = key as SelectableField;
    const value = unescape(parsed.raw);
    if (value === undefined) return { ok: false, message: `invalid escape in field selector value "${parsed.raw}": only \\\\, \\, and \\= are allowed` };
    const problem = checkValue(field, value);
    if (problem !== undefined) return { ok: false, message: `invalid field selector: ${problem}` };
    selector.push({ field, op: parsed.op, value: field === "email" ? value.toLowerCase() : value });
  }
  return { ok: true, selector };
}

function valuesOf(fields: SelectableFields, field: SelectableField): readonly string[] {
  switch (field) {
    case "metadata.name":
      return [fields.name];
    case "metadata.namespace":
      return [fields.namespace];
    case "user":
      return fields.email === "" ? [fields.subject] : [fields.subject, fields.email];
    case "email":
      return [fields.email];
    case "group":
      return fields.groups;
    case "workload":
      return fields.workloads;
    case "state":
      return [fields.state];
    case "clientIP":
      return fields.clientIPs;
    case "stale":
      return [String(fields.stale)];
  }
}

export function matchesFields(selector: FieldSelector, fields: SelectableFields): boolean {
  for (const r of selector) {
    const has = valuesOf(fields, r.field).includes(r.value);
    if (has !== (r.op === "=")) return false;
  }
  return true;
}

/** The name a selector pins (`metadata.name=x`), for authorization of single-object lists and watches. */
export function pinnedName(selector: FieldSelector): string | undefined {
  return selector.find((r) => r.field === "metadata.name" && r.op === "=")?.value;
}

/** A canonical text of the selector (for continue tokens). */
export function canonicalSelector(selector: FieldSelector): string {
  return selector
    .map((r) => `${r.field}${r.op}${r.value}`)
    .sort()
    .join(",");
}
