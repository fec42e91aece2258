/**
 * The one redaction list of Vigil's logs (operator and sidecar), applied by key name.
 *
 * Contract: `redactSecrets(value)` returns `value` itself when no secret-named key occurs in it, otherwise a copy
 * in which every value under such a key is `[REDACTED]`. Keys match case-insensitively (`Authorization`,
 * `proxy-authorization`, `Set-Cookie` alike), at the top level and up to four levels down, inside plain objects and
 * arrays only: Errors and class instances (sockets, requests) are left to pino's serializers untouched. Never log a
 * token or a secret on purpose anyway; this is the net under that rule, not the rule.
 *
 * Covered: authorization headers, cookies, tokens, passwords, secrets, key material and session ids. Hashed session
 * ids are logged under `session` (not covered). See docs/decisions/log-0001-one-log-shape.md for why this is a
 * key-name walk and not pino's `redact` paths.
 */

export const CENSOR = "[REDACTED]";

/** Lower-case key names whose values are never logged. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  // authorization headers and cookies
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  // tokens
  "token",
  "accesstoken",
  "access_token",
  "idtoken",
  "id_token",
  "refreshtoken",
  "refresh_token",
  "jwt",
  // passwords and secrets
  "password",
  "passwd",
  "sentinelpassword",
  "passphrase",
  "secret",
  "clientsecret",
  "client_secret",
  // key material
  "keys",
  "privatekey",
  "private_key",
  "keypem",
  "signingkey",
  "encryptionkey",
  "apikey",
  "api_key",
  // session ids (log a hash under `session` instead)
  "sessionid",
  "session_id",
  "sid",
]);

const MAX_DEPTH = 5;

function isPlain(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function walk(value: unknown, depth: number): unknown {
  if (depth === 0 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    let copy: unknown[] | undefined;
    items.forEach((item, i) => {
      const next = walk(item, depth - 1);
      if (next !== item) (copy ??= [...items])[i] = next;
    });
    return copy ?? value;
  }
  if (!isPlain(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const next = SECRET_KEYS.has(key.toLowerCase()) ? CENSOR : walk(item, depth - 1);
    if (next !== item) (copy ??= { ...value })[key] = next;
  }
  return copy ?? value;
}

export function redactSecrets<T>(value: T): T {
  return walk(value, MAX_DEPTH) as T;
}
