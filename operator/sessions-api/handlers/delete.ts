/**
 * delete (docs/decisions/sessions-api-0006-delete-is-terminate.md): a live session gets a SessionTermination in
 * this namespace (terminate.ts) — the usual termination, status and counts follow; then this namespace's object
 * is deleted from the API (answered with its last state, as the API server answers an immediate delete; watchers
 * get DELETED). An ended session is simply deleted. A namespace being deleted refuses new objects: its sessions
 * are deleted without a SessionTermination (its workloads are going away), so namespace deletion never waits on
 * sessions. DeleteOptions are read for `dryRun` (nothing changes; the SessionTermination is validated by the API
 * server with dryRun=All) and `preconditions.uid` (409 Conflict when it does not match).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SESSIONS_GROUP, VIGIL_SESSION, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import { httpStatusOf } from "../../errors.ts";
import type { TerminationRequest } from "../index/entries.ts";
import type { ListQuery } from "../core/request.ts";
import { badRequest, failure, notFound, tooLarge, type Status } from "../core/status.ts";
import { BodyTooLarge, readBody, sendJson, sendStatus } from "../http/respond.ts";
import type { TerminationOutcome } from "../terminate.ts";

export interface DeleteTarget {
  get(namespace: string, id: string): VigilSession | undefined;
  deleteObject(namespace: string, id: string, request: TerminationRequest): VigilSession | undefined;
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

/** The API server refuses new objects in a namespace that is being deleted (403, cause NamespaceTerminating). */
export function isNamespaceTerminating(err: unknown): boolean {
  if (httpStatusOf(err) !== 403) return false;
  const body = (err as { body?: unknown }).body;
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
  return text.includes("NamespaceTerminating") || text.includes("is being terminated");
}

export interface DeleteCall {
  namespace: string;
  name: string;
  user: string;
  query: ListQuery;
  now: number;
}

export interface DeleteResult {
  outcome: string;
  termination?: string;
}

async function readOptions(req: IncomingMessage, res: ServerResponse): Promise<DeleteOptions | undefined> {
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY);
  } catch (err) {
    if (err instanceof BodyTooLarge) sendStatus(res, tooLarge(MAX_BODY));
    else res.destroy();
    return undefined;
  }
  const options = parseDeleteOptions(body);
  if ("kind" in options) {
    sendStatus(res, options);
    return undefined;
  }
  return options;
}

/** Ask for the live session's end; the SessionTermination's name, or undefined when the namespace is going away. */
async function terminateLive(terminate: Terminate, call: DeleteCall, dryRun: boolean): Promise<{ name: string | undefined; outcome: string }> {
  try {
    return await terminate(call.namespace, call.name, call.user, dryRun);
  } catch (err) {
    if (isNamespaceTerminating(err)) return { name: undefined, outcome: "namespace-terminating" };
    throw err;
  }
}

export async function handleDelete(
  target: DeleteTarget,
  terminate: Terminate,
  req: IncomingMessage,
  res: ServerResponse,
  call: DeleteCall,
): Promise<DeleteResult> {
  const options = await readOptions(req, res);
  if (options === undefined) return { outcome: "bad-request" };
  const session = target.get(call.namespace, call.name);
  if (session === undefined) {
    sendStatus(res, notFound(call.name));
    return { outcome: "not-found" };
  }
  if (options.uid !== undefined && options.uid !== session.metadata.uid) {
    const details = { name: call.name, group: SESSIONS_GROUP, kind: VIGIL_SESSION.plural };
    sendStatus(res, failure(409, "Conflict", `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${session.metadata.uid}`, details));
    return { outcome: "precondition-failed" };
  }
  const dryRun = options.dryRun || call.query.dryRun;
  const live = session.state !== "Ended";
  const { name, outcome } = live ? await terminateLive(terminate, call, dryRun) : { name: undefined, outcome: "ended" };
  if (dryRun) {
    sendJson(res, 200, session);
    return { outcome: "dry-run" };
  }
  const deleted = target.deleteObject(call.namespace, call.name, { sessionTermination: name, user: call.user, time: call.now });
  sendJson(res, 200, deleted ?? session);
  return name === undefined ? { outcome } : { outcome, termination: name };
}
