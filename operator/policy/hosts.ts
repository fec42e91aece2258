const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/u;

/** A lower-case DNS name (or dotted IPv4), no port, no trailing dot, ≤ 253 characters. */
export function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host.split(".").every((label) => LABEL.test(label));
}

/**
 * Normalises a host matcher: lower-cased, one trailing dot removed; `*.example.com` (any
 * subdomain) allowed as the only wildcard form. Returns null when invalid.
 */
export function normaliseHostMatcher(input: string): string | null {
  let host = input.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.startsWith("*.")) return isHostName(host.slice(2)) ? host : null;
  return isHostName(host) ? host : null;
}
