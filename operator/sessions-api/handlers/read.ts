/**
 * get and list (JSON objects or a server-side Table), with paging, field selectors and the resource-version rules
 * of docs/decisions/sessions-api-0004-resource-versions.md:
 *   list resourceVersion "" / "0" / N ≤ current (NotOlderThan): the current state;
 *   N > current: 504 Timeout (too large: another replica's or a future version — list again without one);
 *   resourceVersionMatch=Exact: only the current version (410 Expired otherwise: no snapshots are kept);
 *   continue: the page after the token's position, answered with the first page's resource version.
 */
import type { ServerResponse } from "node:http";
import { SESSIONS_API_VERSION, VIGIL_SESSION, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import { canonicalSelector } from "../core/field-selector.ts";
import { decodeContinue, encodeContinue } from "../core/continue-token.ts";
import { listPage, type ListSource } from "../core/list.ts";
import type { Representation } from "../core/negotiate.ts";
import type { ListQuery } from "../core/request.ts";
import { badRequest, expired, failure, notFound, type Status } from "../core/status.ts";
import { toTable, type TableMeta, type TableOptions, type TableVersion } from "../core/table.ts";
import { sendJson, sendStatus } from "../http/respond.ts";

export interface ReadSource extends ListSource {
  readonly resourceVersion: number;
}

type Shown = Exclude<Representation, { kind: "none" } | { kind: "discovery-v2" }>;

export const partialMetadata = (s: VigilSession, version: string): Record<string, unknown> => ({
  kind: "PartialObjectMetadata",
  apiVersion: `meta.k8s.io/${version}`,
  metadata: s.metadata,
});

/** One get or list: the representation asked for, the namespace ("" = all), the query, and the time ages are shown at. */
export interface ReadCall {
  rep: Shown;
  namespace: string;
  query: ListQuery;
  now: number;
}

const tableOptions = (call: ReadCall, version: TableVersion): TableOptions => ({ version, include: call.query.includeObject, now: call.now });

function renderObject(res: ServerResponse, call: ReadCall, object: VigilSession): void {
  const { rep } = call;
  if (rep.kind === "metadata") sendJson(res, 200, partialMetadata(object, rep.version));
  else if (rep.kind === "table") sendJson(res, 200, toTable([object], { resourceVersion: object.metadata.resourceVersion }, tableOptions(call, rep.version)));
  else sendJson(res, 200, object);
}

function renderList(res: ServerResponse, call: ReadCall, items: VigilSession[], meta: TableMeta): void {
  const { rep } = call;
  if (rep.kind === "metadata") {
    sendJson(res, 200, {
      kind: "PartialObjectMetadataList",
      apiVersion: `meta.k8s.io/${rep.version}`,
      metadata: meta,
      items: items.map((s) => partialMetadata(s, rep.version)),
    });
  } else if (rep.kind === "table") {
    sendJson(res, 200, toTable(items, meta, tableOptions(call, rep.version)));
  } else {
    sendJson(res, 200, { apiVersion: SESSIONS_API_VERSION, kind: VIGIL_SESSION.listKind, metadata: meta, items });
  }
}

export function handleGet(src: ReadSource, res: ServerResponse, call: ReadCall & { name: string }): void {
  const object = src.get(call.namespace, call.name);
  if (object === undefined) {
    sendStatus(res, notFound(call.name));
    return;
  }
  renderObject(res, call, object);
}

/** The list's resource-version check; undefined when the list may be served. */
export function listVersionProblem(query: ListQuery, current: number): Status | undefined {
  if (query.continueToken !== undefined && query.resourceVersion !== "" && query.resourceVersion !== "0") {
    return badRequest("specifying resourceVersion is not allowed when using continue");
  }
  if (query.resourceVersion === "" || query.resourceVersion === "0") {
    return query.resourceVersionMatch === "Exact" ? badRequest("resourceVersionMatch=Exact needs a resourceVersion other than 0") : undefined;
  }
  const rv = Number(query.resourceVersion);
  if (query.resourceVersionMatch === "Exact" && rv !== current) {
    return expired(`too old resource version: ${rv} (${current}): vigilsessions keep no snapshots, list without resourceVersionMatch=Exact`);
  }
  if (rv > current) {
    return failure(504, "Timeout", `Too large resource version: ${rv}, current: ${current}`, {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    });
  }
  return undefined;
}

export function handleList(src: ReadSource, res: ServerResponse, call: ReadCall): void {
  const { rep, namespace, query } = call;
  const problem = listVersionProblem(query, src.resourceVersion);
  if (problem !== undefined) {
    sendStatus(res, problem);
    return;
  }
  const selectorText = canonicalSelector(query.selector);
  let after: { namespace: string; name: string } | undefined;
  let rv = src.resourceVersion;
  if (query.continueToken !== undefined) {
    const decoded = decodeContinue(query.continueToken, namespace, selectorText);
    if (!decoded.ok) {
      sendStatus(res, badRequest(decoded.message));
      return;
    }
    after = { namespace: decoded.position.namespace, name: decoded.position.name };
    rv = decoded.position.rv;
  }
  const detail = rep.kind === "json" || (rep.kind === "table" && query.includeObject === "Object");
  const page = listPage(src, { namespace, selector: query.selector, limit: query.limit, after, detail });
  const meta: TableMeta = { resourceVersion: String(rv) };
  if (page.more && page.last !== undefined) {
    meta.continue = encodeContinue({ rv, namespace: page.last.namespace, name: page.last.name }, namespace, selectorText);
    if (page.remaining !== undefined) meta.remainingItemCount = page.remaining;
  }
  renderList(res, call, page.items, meta);
}
