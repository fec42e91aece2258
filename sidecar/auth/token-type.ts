/**
 * Explicit typing: which `typ` header values an issuer's tokens may carry to be accepted as credentials (RFC 8725
 * §3.11, RFC 9068 §2.1, checklist item 24).
 *
 * Contract: `normaliseType(typ)` folds case and drops an `application/` prefix (RFC 7515 §4.1.9: a `typ` without
 * `/` means `application/<typ>`, and media types compare case-insensitively), so `AT+JWT`,
 * `application/at+jwt` and `at+jwt` are one type. `checkTokenType(typ, policy)` throws `TOKEN_WRONG_TYPE` (401)
 * for a type that is not a string, a type outside the issuer's allowed set, a missing type when the issuer
 * requires one, and — whatever the configuration says — for the types of JWTs that are never access credentials
 * (`NEVER_CREDENTIALS`): OIDC back-channel logout tokens, security event tokens, token introspection responses.
 */
import { SidecarError } from "../errors.ts";

/** Accepted when an issuer does not say: RFC 9068 access tokens and the common `JWT`, plus no `typ` at all. */
export const DEFAULT_ALLOWED_TYPES = ["at+jwt", "JWT"] as const;

/** Signed by an issuer, audience-bound, and never a credential (normalised form). */
export const NEVER_CREDENTIALS: ReadonlySet<string> = new Set(["logout+jwt", "secevent+jwt", "token-introspection+jwt"]);

const APPLICATION = "application/";

export function normaliseType(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith(APPLICATION) && !lower.includes("/", APPLICATION.length) ? lower.slice(APPLICATION.length) : lower;
}

export interface TypePolicy {
  /** Normalised allowed types. */
  allowedTypes: ReadonlySet<string>;
  /** Whether a token without `typ` is accepted. */
  allowMissingType: boolean;
}

export function checkTokenType(typ: unknown, policy: TypePolicy): void {
  if (typ === undefined) {
    if (policy.allowMissingType) return;
    throw wrongType("The token has no type (typ); this issuer's tokens must declare one.");
  }
  if (typeof typ !== "string") throw wrongType("The token's type (typ) is not a string.");
  const type = normaliseType(typ);
  if (NEVER_CREDENTIALS.has(type)) throw wrongType("Logout tokens, security event tokens and introspection responses are not access credentials.");
  if (!policy.allowedTypes.has(type)) throw wrongType("The token's type (typ) is not one this issuer's access tokens may have.");
}

function wrongType(message: string): SidecarError {
  return new SidecarError("TOKEN_WRONG_TYPE", message);
}
