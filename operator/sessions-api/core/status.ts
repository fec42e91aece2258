/**
 * `metav1.Status` answers (pure), worded as the API server words them so kubectl prints the usual
 * `Error from server (NotFound): vigilsessions.sessions.vigil.dev "s_…" not found`.
 */
import { SESSIONS_GROUP, VIGIL_SESSION } from "../../api/sessions/v1alpha1.ts";

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: { reason?: string; message: string; field?: string }[] };
  code: number;
}

const RESOURCE = `${VIGIL_SESSION.plural}.${SESSIONS_GROUP}`;

export function failure(code: number, reason: string, message: string, details?: Status["details"]): Status {
  const out: Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details !== undefined) out.details = details;
  return out;
}

const resourceDetails = (name?: string): Status["details"] => ({ ...(name === undefined ? {} : { name }), group: SESSIONS_GROUP, kind: VIGIL_SESSION.plural });

export const notFound = (name: string): Status => failure(404, "NotFound", `${RESOURCE} "${name}" not found`, resourceDetails(name));

export const badRequest = (message: string): Status => failure(400, "BadRequest", message);

export const unauthorized = (): Status => failure(401, "Unauthorized", "Unauthorized");

export const methodNotAllowed = (method: string, what: string): Status =>
  failure(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${method} ${what} is not supported by vigilsessions (get, list, watch, delete)`,
  );

export const notAcceptable = (accept: string): Status =>
  failure(
    406,
    "NotAcceptable",
    `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io (got "${accept.slice(0, 200)}")`,
  );

export const pathNotFound = (path: string): Status => failure(404, "NotFound", `the server could not find the requested resource (${path.slice(0, 200)})`);

export const expired = (message: string): Status => failure(410, "Expired", message);

export const tooLarge = (limit: number): Status => failure(413, "RequestEntityTooLarge", `the request body is larger than ${limit} bytes`);

export const internal = (message: string): Status => failure(500, "InternalError", `Internal error occurred: ${message}`);

export interface ForbiddenOptions {
  user: string;
  verb: string;
  namespace: string;
  name?: string | undefined;
  reason?: string | undefined;
}

/** As the API server's authorizer denial: `… is forbidden: User "u" cannot list resource … in the namespace "ns"`. */
export function forbidden(o: ForbiddenOptions): Status {
  const subject = o.name === undefined ? RESOURCE : `${RESOURCE} "${o.name}"`;
  const scope = o.namespace === "" ? "at the cluster scope" : `in the namespace "${o.namespace}"`;
  const why = o.reason === undefined || o.reason === "" ? "" : `: ${o.reason}`;
  return failure(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${o.user}" cannot ${o.verb} resource "${VIGIL_SESSION.plural}" in API group "${SESSIONS_GROUP}" ${scope}${why}`,
    resourceDetails(o.name),
  );
}
