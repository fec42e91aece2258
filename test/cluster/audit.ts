import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ClusterEnv } from "./env.ts";

export interface AuditedCall {
  user: string;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  code: number;
  /** A 403 from authorization (RBAC), not from admission: the NamespaceLifecycle plugin also answers 403 to a write into a namespace being deleted. */
  unauthorized: boolean;
}

/** Requests made by service accounts, as the API server's audit log recorded them (batched: ~1 s behind). */
export async function auditedCalls(env: ClusterEnv, user?: string): Promise<AuditedCall[]> {
  const text = await readFile(join(env.dir, "audit.log"), "utf8").catch(() => "");
  const calls: AuditedCall[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const e = JSON.parse(line) as {
      stage: string;
      verb: string;
      user: { username: string };
      objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number; message?: string };
    };
    if (e.stage !== "ResponseComplete" && e.stage !== "ResponseStarted") continue;
    if (user !== undefined && e.user.username !== user) continue;
    calls.push({
      user: e.user.username,
      verb: e.verb,
      apiGroup: e.objectRef?.apiGroup ?? "",
      resource: e.objectRef?.resource ?? "",
      subresource: e.objectRef?.subresource ?? "",
      namespace: e.objectRef?.namespace ?? "",
      name: e.objectRef?.name ?? "",
      code: e.responseStatus?.code ?? 0,
      unauthorized: e.responseStatus?.code === 403 && !(e.responseStatus.message ?? "").includes("because it is being terminated"),
    });
  }
  return calls;
}
