/**
 * One page of a list (pure over a `ListSource`, which SessionIndex is): objects in (namespace, name) order,
 * starting after the continue position, filtered by the field selector, at most `limit` (0 = all). `more` says
 * whether objects remain after the page (a continue token is due); `remaining` counts them when no selector
 * filters (as the API server's remainingItemCount).
 */
import type { VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { SelectableFields } from "../index/render.ts";
import { matchesFields, type FieldSelector } from "./field-selector.ts";

export interface ListSource {
  namespaces(): readonly string[];
  idsIn(namespace: string): readonly string[];
  fields(namespace: string, id: string): SelectableFields | undefined;
  get(namespace: string, id: string, detail?: boolean): VigilSession | undefined;
  count(namespace: string): number;
}

export interface PageRequest {
  /** "" = all namespaces. */
  namespace: string;
  selector: FieldSelector;
  limit: number;
  after?: { namespace: string; name: string } | undefined;
  /** false: objects without their recent events (Tables). Default true. */
  detail?: boolean;
}

export interface Page {
  items: VigilSession[];
  last: { namespace: string; name: string } | undefined;
  more: boolean;
  remaining: number | undefined;
}

/** First index in sorted `ids` whose value is > `name`. */
function upperBound(ids: readonly string[], name: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] ?? "") <= name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The namespaces a request walks, in order, and where in the first one it starts. */
function walk(src: ListSource, req: PageRequest): { namespaces: readonly string[]; startAt: (ns: string, ids: readonly string[]) => number } {
  const all = req.namespace === "" ? src.namespaces() : src.count(req.namespace) > 0 ? [req.namespace] : [];
  const after = req.after;
  if (after === undefined) return { namespaces: all, startAt: () => 0 };
  return {
    namespaces: all.filter((ns) => ns >= after.namespace),
    startAt: (ns, ids) => (ns === after.namespace ? upperBound(ids, after.name) : 0),
  };
}

function matches(src: ListSource, selector: FieldSelector, ns: string, id: string): boolean {
  if (selector.length === 0) return true;
  const fields = src.fields(ns, id);
  return fields !== undefined && matchesFields(selector, fields);
}

export function listPage(src: ListSource, req: PageRequest): Page {
  const { namespaces, startAt } = walk(src, req);
  const limit = req.limit > 0 ? req.limit : Number.POSITIVE_INFINITY;
  const items: VigilSession[] = [];
  let last: Page["last"];
  for (let n = 0; n < namespaces.length; n++) {
    const ns = namespaces[n] ?? "";
    const ids = src.idsIn(ns);
    for (let i = startAt(ns, ids); i < ids.length; i++) {
      if (items.length >= limit) {
        return { items, last, more: true, remaining: req.selector.length === 0 ? countFrom(src, namespaces, n, ids.length - i) : undefined };
      }
      const id = ids[i] ?? "";
      const object = matches(src, req.selector, ns, id) ? src.get(ns, id, req.detail ?? true) : undefined;
      if (object === undefined) continue;
      items.push(object);
      last = { namespace: ns, name: id };
    }
  }
  return { items, last, more: false, remaining: undefined };
}

/** The (namespace, name) of every object a scope and selector match now, in list order (no object rendered). */
export function matchingKeys(src: ListSource, namespace: string, selector: FieldSelector): { namespace: string; name: string }[] {
  const { namespaces } = walk(src, { namespace, selector, limit: 0 });
  const out: { namespace: string; name: string }[] = [];
  for (const ns of namespaces) for (const id of src.idsIn(ns)) if (matches(src, selector, ns, id)) out.push({ namespace: ns, name: id });
  return out;
}

/** Objects left: `inCurrent` in namespace `n`, plus every later namespace's. */
function countFrom(src: ListSource, namespaces: readonly string[], n: number, inCurrent: number): number {
  let total = inCurrent;
  for (let k = n + 1; k < namespaces.length; k++) total += src.count(namespaces[k] ?? "");
  return total;
}
