/**
 * What a request to the sessions API asks for (pure): method + path + query → a typed request, or the Status to
 * answer. Resource paths:
 *   GET    /apis/sessions.vigil.dev/v1alpha1/vigilsessions                         list / watch, all namespaces
 *   GET    /apis/sessions.vigil.dev/v1alpha1/namespaces/{ns}/vigilsessions         list / watch
 *   GET    /apis/sessions.vigil.dev/v1alpha1/namespaces/{ns}/vigilsessions/{name}  get (watch=true: watch it)
 *   DELETE /apis/sessions.vigil.dev/v1alpha1/namespaces/{ns}/vigilsessions/{name}  delete = request termination
 * Discovery: /apis, /apis/sessions.vigil.dev, /apis/sessions.vigil.dev/v1alpha1; OpenAPI: /openapi/v3 and
 * /openapi/v3/apis/sessions.vigil.dev/v1alpha1; probes: /healthz, /readyz, /livez.
 */
import { SESSIONS_GROUP, SESSIONS_VERSION, VIGIL_SESSION } from "../../api/sessions/v1alpha1.ts";
import { parseFieldSelector, pinnedName, type FieldSelector } from "./field-selector.ts";
import { badRequest, methodNotAllowed, pathNotFound, type Status } from "./status.ts";

export type Verb = "get" | "list" | "watch" | "delete";

export interface ListQuery {
  selector: FieldSelector;
  /** Canonical selector text (continue tokens are bound to it). */
  selectorText: string;
  limit: number;
  continueToken: string | undefined;
  resourceVersion: string;
  resourceVersionMatch: "" | "Exact" | "NotOlderThan";
  timeoutSeconds: number | undefined;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  includeObject: "None" | "Object" | "PartialObjectMetadata";
  dryRun: boolean;
}

export type ApiRequest =
  | { kind: "discovery"; doc: "apis" | "group" | "version" }
  | { kind: "openapi"; doc: "root" | "version" }
  | { kind: "health"; path: string }
  | { kind: "resource"; verb: Verb; namespace: string; name: string | undefined; query: ListQuery }
  | { kind: "error"; status: Status };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const GV = `/apis/${SESSIONS_GROUP}/${SESSIONS_VERSION}`;
const isTrue = (v: string | null): boolean => v === "true" || v === "1";

function integerParam(query: URLSearchParams, name: string, min: number, max: number): number | undefined | Status {
  const raw = query.get(name);
  if (raw === null || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) return badRequest(`${name} must be an integer (got "${raw.slice(0, 40)}")`);
  const n = Number(raw);
  if (n < min || n > max) return badRequest(`${name} must be between ${min} and ${max}`);
  return n;
}

const isStatus = (v: unknown): v is Status => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "Status";

function stringParam(query: URLSearchParams, name: string, allowed: readonly string[], fallback: string): string | Status {
  const value = query.get(name) ?? fallback;
  return allowed.includes(value) ? value : badRequest(`${name} must be one of ${allowed.filter((a) => a !== "").join(", ")} (got "${value.slice(0, 40)}")`);
}

function selectorParams(query: URLSearchParams): { selector: FieldSelector; selectorText: string } | Status {
  const fields = parseFieldSelector(query.get("fieldSelector") ?? undefined);
  if (!fields.ok) return badRequest(fields.message);
  const labels = query.get("labelSelector") ?? "";
  if (labels.trim() !== "")
    return badRequest(`vigilsessions have no labels: labelSelector "${labels.slice(0, 100)}" is not supported; use a field selector instead`);
  return { selector: fields.selector, selectorText: query.get("fieldSelector") ?? "" };
}

function versionParams(query: URLSearchParams): Pick<ListQuery, "resourceVersion" | "resourceVersionMatch"> | Status {
  const match = stringParam(query, "resourceVersionMatch", ["", "Exact", "NotOlderThan"], "");
  if (isStatus(match)) return match;
  const rv = query.get("resourceVersion") ?? "";
  if (rv !== "" && !/^\d{1,19}$/.test(rv)) return badRequest(`resourceVersion must be a resource version returned by this API (got "${rv.slice(0, 40)}")`);
  return { resourceVersion: rv, resourceVersionMatch: match as ListQuery["resourceVersionMatch"] };
}

export function parseQuery(query: URLSearchParams): ListQuery | Status {
  const selector = selectorParams(query);
  if (isStatus(selector)) return selector;
  const versions = versionParams(query);
  if (isStatus(versions)) return versions;
  const limit = integerParam(query, "limit", 0, 1_000_000);
  if (isStatus(limit)) return limit;
  const timeout = integerParam(query, "timeoutSeconds", 0, 86_400);
  if (isStatus(timeout)) return timeout;
  const include = stringParam(query, "includeObject", ["None", "Object", "PartialObjectMetadata"], "PartialObjectMetadata");
  if (isStatus(include)) return include;
  const dryRun = query.getAll("dryRun");
  if (dryRun.some((d) => d !== "All")) return badRequest('dryRun must be "All"');
  const continueToken = query.get("continue") ?? "";
  return {
    ...selector,
    ...versions,
    limit: limit ?? 0,
    continueToken: continueToken === "" ? undefined : continueToken,
    timeoutSeconds: timeout,
    allowWatchBookmarks: isTrue(query.get("allowWatchBookmarks")),
    sendInitialEvents: isTrue(query.get("sendInitialEvents")),
    includeObject: include as ListQuery["includeObject"],
    dryRun: dryRun.length > 0,
  };
}

function resourceRequest(method: string, namespace: string, name: string | undefined, query: URLSearchParams): ApiRequest {
  if (namespace !== "" && !DNS_LABEL.test(namespace)) return { kind: "error", status: badRequest(`invalid namespace "${namespace.slice(0, 80)}"`) };
  const parsed = parseQuery(query);
  if (isStatus(parsed)) return { kind: "error", status: parsed };
  const watch = isTrue(query.get("watch"));
  if (method === "GET" || method === "HEAD") {
    if (name !== undefined) return { kind: "resource", verb: watch ? "watch" : "get", namespace, name, query: parsed };
    return { kind: "resource", verb: watch ? "watch" : "list", namespace, name: pinnedName(parsed.selector), query: parsed };
  }
  if (method === "DELETE" && name !== undefined) return { kind: "resource", verb: "delete", namespace, name, query: parsed };
  return { kind: "error", status: methodNotAllowed(method, name === undefined ? "on the collection" : "") };
}

function decodeSegments(rest: string): string[] {
  return rest.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return "\u0000";
    }
  });
}

/** Discovery, OpenAPI and probe paths; undefined for anything else. */
function metaRequest(method: string, path: string): ApiRequest | undefined {
  if (path === "/healthz" || path === "/readyz" || path === "/livez") return { kind: "health", path };
  const docs: Record<string, ApiRequest> = {
    "/apis": { kind: "discovery", doc: "apis" },
    [`/apis/${SESSIONS_GROUP}`]: { kind: "discovery", doc: "group" },
    [GV]: { kind: "discovery", doc: "version" },
    "/openapi/v3": { kind: "openapi", doc: "root" },
    [`/openapi/v3${GV}`]: { kind: "openapi", doc: "version" },
  };
  const doc = docs[path];
  if (doc === undefined) return undefined;
  return method === "GET" || method === "HEAD" ? doc : { kind: "error", status: methodNotAllowed(method, path) };
}

export function parseRequest(method: string, rawUrl: string): ApiRequest {
  let url: URL;
  try {
    // The request target is a path: never let `//host/…` be read as an authority.
    url = new URL(`https://sessions.invalid${rawUrl.startsWith("/") ? rawUrl : `/${rawUrl}`}`);
  } catch {
    return { kind: "error", status: badRequest("malformed request URL") };
  }
  const path = url.pathname.length > 1 && url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname;
  const meta = metaRequest(method, path);
  if (meta !== undefined) return meta;
  if (!path.startsWith(`${GV}/`)) return { kind: "error", status: pathNotFound(path) };
  const [a, b, c, d, ...rest] = decodeSegments(path.slice(GV.length + 1));
  if (a === VIGIL_SESSION.plural && b === undefined) return resourceRequest(method, "", undefined, url.searchParams);
  if (a === "namespaces" && b !== undefined && c === VIGIL_SESSION.plural && rest.length === 0) {
    return resourceRequest(method, b, d, url.searchParams);
  }
  return { kind: "error", status: pathNotFound(path) };
}
