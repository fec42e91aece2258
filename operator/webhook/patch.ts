/**
 * RFC 6902 JSON patch from an original document to a changed one (what the admission response carries), pure.
 *
 * Contract: applying `jsonPatch(a, b)` to `a` yields `b` (compared as JSON: `undefined` members do not exist).
 * Equal documents give an empty patch. Objects are diffed member by member: a member missing in `a` is one `add`
 * of the whole value (so a pod without `initContainers`, `volumes` or `annotations` gets them added whole), a
 * member missing in `b` is a `remove`. Arrays whose change is a run of insertions (or of removals) at one place
 * become `add`/`remove` ops at those indexes (prepending a sidecar is `add /spec/initContainers/0`); equal-length
 * arrays are diffed element by element; anything else replaces the array. Path segments escape `~` as `~0` and
 * `/` as `~1` (`vigil.dev/inject` → `vigil.dev~1inject`).
 */
import { isDeepStrictEqual } from "node:util";

export type PatchOp = { op: "add" | "replace"; path: string; value: unknown } | { op: "remove"; path: string };

/** One JSON pointer segment (RFC 6901). */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function toJson(v: unknown): Json {
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as Json);
}

const isObject = (v: Json): v is { [k: string]: Json } => typeof v === "object" && v !== null && !Array.isArray(v);

export function jsonPatch(original: unknown, changed: unknown): PatchOp[] {
  const ops: PatchOp[] = [];
  diff(toJson(original), toJson(changed), "", ops);
  return ops;
}

function diff(a: Json, b: Json, path: string, ops: PatchOp[]): void {
  if (isDeepStrictEqual(a, b)) return;
  if (isObject(a) && isObject(b)) {
    diffObjects(a, b, path, ops);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    diffArrays(a, b, path, ops);
  } else {
    ops.push({ op: "replace", path, value: b });
  }
}

function diffObjects(a: { [k: string]: Json }, b: { [k: string]: Json }, path: string, ops: PatchOp[]): void {
  for (const key of Object.keys(a)) {
    if (!(key in b)) ops.push({ op: "remove", path: `${path}/${escapePointer(key)}` });
  }
  for (const [key, value] of Object.entries(b)) {
    const p = `${path}/${escapePointer(key)}`;
    const before = a[key];
    if (before === undefined) ops.push({ op: "add", path: p, value });
    else diff(before, value, p, ops);
  }
}

function diffArrays(a: Json[], b: Json[], path: string, ops: PatchOp[]): void {
  const shorter = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < shorter && isDeepStrictEqual(a[prefix], b[prefix])) prefix++;
  let suffix = 0;
  while (suffix < shorter - prefix && isDeepStrictEqual(a[a.length - 1 - suffix], b[b.length - 1 - suffix])) suffix++;
  const removed = a.length - prefix - suffix;
  const added = b.length - prefix - suffix;
  if (removed === 0) {
    b.slice(prefix, prefix + added).forEach((value, i) => ops.push({ op: "add", path: `${path}/${prefix + i}`, value }));
  } else if (added === 0) {
    for (let i = 0; i < removed; i++) ops.push({ op: "remove", path: `${path}/${prefix}` });
  } else if (a.length === b.length) {
    a.forEach((value, i) => {
      diff(value, b[i] ?? null, `${path}/${i}`, ops);
    });
  } else {
    ops.push({ op: "replace", path, value: b });
  }
}
