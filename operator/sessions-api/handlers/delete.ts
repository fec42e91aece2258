/**
 * delete = ask for the session's termination in this namespace (terminate.ts), then answer a `Status` Success
 * naming the SessionTermination. Not the object: the session stays listed (Ended, with its end reason, for the
 * retention period), and kubectl would otherwise wait for it to disappear
 * (docs/decisions/sessions-api-0006-delete-is-terminate.md). A session that already ended is answered at once.
 * DeleteOptions are read for `dryRun` and a `preconditions.uid` (409 Conflict when it does not match).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SESSIONS_GROUP, VIGIL_SESSION, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { TerminationRequest } from "../index/entries.ts";
import type { ListQuery } from "../core/request.ts";
import { badRequest, failure, notFound, success, tooLarge, type Status } from "../core/status.ts";
import { BodyTooLarge, readBody, sendStatus } from "../http/respond.ts";
import type { TerminationOutcome } from "../terminate.ts";

export interface DeleteTarget {
  get(namespace: string, id: string): VigilSession | undefined;
  requestTermination(namespace: string, id: string, request: TerminationRequest): boolean;
}

export type Terminate = (namespace: string, id: string, user: string, dryRun: boolean) => Promise<{ name: string; outcome: TerminationOutcome }>;

const MAX_BODY = 64 * 1024;

interface DeleteOptions {
  dryRun: boolean;
  uid: string | undefined;
}

/** DeleteOptions from the body (may be empty). */
export function parseDeleteOptions(body: Buffer): DeleteOptions | Status {
  if (body.length === 0) return { dryRun: false, uid: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return badRequest("the request body is not a JSON DeleteOptions");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return badRequest("the request body is not a JSON DeleteOptions");
  const o = parsed as { dryRun?: unknown; preconditions?: { uid?: unknown } | null };
  if (o.dryRun !== undefined && !(Array.isArray(o.dryRun) && o.dryRun.every((d) => d === "All"))) return badRequest('dryRun must be ["All"]');
  const uid = o.preconditions?.uid;
  if (uid !== undefined && uid !== null && typeof uid !== "string") return badRequest("preconditions.uid must be a string");
  return { dryRun: Array.isArray(o.dryRun) && o.dryRun.length > 0, uid: typeof uid === "string" ? uid : undefined };
}

const details = (name: string): Status["details"] => ({ name, group: SESSIONS_GROUP, kind: VIGIL_SESSION.plural });

export async function handleDelete(
  target: DeleteTarget,
  terminate: Terminate,
  req: IncomingMessage,
  res: ServerResponse,
  call: { namespace: string; name: string; user: string; query: ListQuery; now: number },
): Promise<{ outcome: string; termination?: string }> {
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY);
  } catch (err) {
    if (err instanceof BodyTooLarge) sendStatus(res, tooLarge(MAX_BODY));
    else res.destroy();
    return { outcome: "bad-body" };
  }
  const options = parseDeleteOptions(body);
  if ("kind" in options) {
    sendStatus(res, options);
    return { outcome: "bad-options" };
  }
  const session = target.get(call.namespace, call.name);
  if (session === undefined) {
    sendStatus(res, notFound(call.name));
    return { outcome: "not-found" };
  }
  if (options.uid !== undefined && options.uid !== session.metadata.uid) {
    sendStatus(res, failure(409, "Conflict", `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${session.metadata.uid}`, details(call.name)));
    return { outcome: "precondition-failed" };
  }
  if (session.state === "Ended") {
    sendStatus(res, success(`session already ended (${session.endReason ?? "no reason given"}); nothing to terminate`, details(call.name)));
    return { outcome: "already-ended" };
  }
  const dryRun = options.dryRun || call.query.dryRun;
  const { name, outcome } = await terminate(call.namespace, call.name, call.user, dryRun);
  if (!dryRun) target.requestTermination(call.namespace, call.name, { sessionTermination: name, user: call.user, time: call.now });
  const verb = outcome === "already-requested" ? "already requested" : outcome === "dry-run" ? "would be requested (dry run)" : "requested";
  sendStatus(res, success(`session termination ${verb}: SessionTermination ${call.namespace}/${name}`, details(call.name)));
  return { outcome, termination: name };
}
