/**
 * `continue` tokens of paged lists (pure). A token says where the next page starts: after (namespace, name) in the
 * list's order, for the same scope and selector; it also carries the resource version of the first page.
 * Opaque to clients (base64url of a small JSON document). A token that does not decode, or that was issued for
 * another namespace or selector, is refused (400). Pages are not a snapshot: see
 * docs/decisions/sessions-api-0004-resource-versions.md.
 */
import { createHash } from "node:crypto";

export interface ContinuePosition {
  /** Resource version of the list's first page. */
  rv: number;
  /** The last object of the previous page. */
  namespace: string;
  name: string;
}

interface Wire {
  v: 1;
  rv: number;
  ns: string;
  n: string;
  /** Hash of (scope, selector). */
  q: string;
}

export type DecodedToken = { ok: true; position: ContinuePosition } | { ok: false; message: string };

/** Hash of what a token is only valid for. */
export function queryKey(scope: string, selector: string): string {
  return createHash("sha256").update(`${scope}\n${selector}`).digest("base64url").slice(0, 12);
}

export function encodeContinue(position: ContinuePosition, scope: string, selector: string): string {
  const wire: Wire = { v: 1, rv: position.rv, ns: position.namespace, n: position.name, q: queryKey(scope, selector) };
  return Buffer.from(JSON.stringify(wire), "utf8").toString("base64url");
}

export function decodeContinue(token: string, scope: string, selector: string): DecodedToken {
  const bad = { ok: false, message: "invalid continue token: it was not issued by this server (list again without continue)" } as const;
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) return bad;
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return bad;
  }
  if (typeof wire !== "object" || wire === null) return bad;
  const w = wire as Partial<Wire>;
  if (w.v !== 1 || typeof w.rv !== "number" || !Number.isSafeInteger(w.rv) || typeof w.ns !== "string" || typeof w.n !== "string" || typeof w.q !== "string")
    return bad;
  if (w.q !== queryKey(scope, selector)) {
    return { ok: false, message: "invalid continue token: it was issued for another namespace or field selector (use the same query as for the first page)" };
  }
  return { ok: true, position: { rv: w.rv, namespace: w.ns, name: w.n } };
}
