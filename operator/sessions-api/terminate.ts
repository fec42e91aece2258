/**
 * `kubectl delete vigilsession s_… -n ns` = a SessionTermination in `ns` targeting that session id, its reason
 * naming the user the aggregator authenticated (docs/decisions/sessions-api-0006-delete-is-terminate.md).
 *
 * The name is derived from the session id (`vs-delete-<hash>`), so deleting the same session twice asks once: the
 * API server's 409 AlreadyExists is an answer, not an error. `dryRun` creates it with `dryRun=All` (validated by
 * the API server, stored nowhere).
 */
import { createHash } from "node:crypto";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { REQUESTED_BY_ANNOTATION } from "../api/annotations.ts";
import { API_VERSION, GROUP, SESSION_TERMINATION, VERSION, type SessionTermination } from "../api/v1alpha1/index.ts";
import { httpStatusOf } from "../errors.ts";

export const terminationName = (sessionId: string): string => `vs-delete-${createHash("sha256").update(sessionId).digest("hex").slice(0, 16)}`;

/** The user name as safe text for a reason (no control characters, bounded). */
export function printableUser(user: string): string {
  let clean = "";
  for (let i = 0; i < user.length; i++) {
    const code = user.charCodeAt(i);
    clean += code < 0x20 || code === 0x7f ? "?" : user.charAt(i);
  }
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

export function terminationFor(namespace: string, sessionId: string, user: string): SessionTermination {
  return {
    apiVersion: API_VERSION,
    kind: SESSION_TERMINATION.kind,
    metadata: { name: terminationName(sessionId), namespace, annotations: { [REQUESTED_BY_ANNOTATION]: user.slice(0, 1024) } },
    spec: { target: { sessionID: sessionId }, reason: `kubectl delete vigilsession by ${printableUser(user)}` },
  };
}

export type TerminationOutcome = "created" | "already-requested" | "dry-run";

export async function requestTermination(
  api: CustomObjectsApi,
  namespace: string,
  sessionId: string,
  user: string,
  dryRun: boolean,
): Promise<{ name: string; outcome: TerminationOutcome }> {
  const body = terminationFor(namespace, sessionId, user);
  const name = body.metadata.name ?? "";
  try {
    await api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: SESSION_TERMINATION.plural,
      namespace,
      body,
      ...(dryRun ? { dryRun: "All" } : {}),
    });
    return { name, outcome: dryRun ? "dry-run" : "created" };
  } catch (err) {
    if (httpStatusOf(err) === 409) return { name, outcome: "already-requested" };
    throw err;
  }
}
