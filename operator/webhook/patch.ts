/**
 * The RFC 6902 JSON patch an admission response carries: `fast-json-patch`'s `compare`, as pepr's mutate
 * processor does (no hand-written diff).
 *
 * Contract: applying `jsonPatch(a, b)` to `a` yields `b`, compared as JSON (both sides go through a JSON round trip
 * first, so `undefined` members do not exist and nothing but JSON reaches the diff). Equal documents give an empty
 * patch. A member missing in `a` is one `add` of the whole value (a pod without `initContainers`, `volumes` or
 * `annotations` gets them added whole); a member missing in `b` is a `remove`. Arrays are diffed index by index
 * (a prepended sidecar shows up as changes to the existing items plus an `add` at the end); the result is the
 * same document. Path segments escape `~` as `~0` and `/` as `~1` (`vigil.dev/inject` → `vigil.dev~1inject`).
 */
import jsonPatchLib, { type Operation } from "fast-json-patch";

export type PatchOp = Operation;

const toJson = (v: object): object => JSON.parse(JSON.stringify(v)) as object;

export function jsonPatch(original: object, changed: object): PatchOp[] {
  return jsonPatchLib.compare(toJson(original), toJson(changed));
}
