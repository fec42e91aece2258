/**
 * Front-proxy authentication of one request (pure), as k8s.io/apiserver's request-header authenticator:
 *   1. the connection presented a client certificate that TLS verified against the front-proxy CA bundle;
 *   2. the chain is still anchored in the CURRENT bundle (the bundle may have been rotated since the handshake)
 *      and the leaf is within its validity period now;
 *   3. when `requestheader-allowed-names` is non-empty, the leaf's common name is one of them;
 *   4. only then are the user, uid, group and extra headers read; no user header → not authenticated.
 * Anything else is not authenticated (the server answers 401 and never reads the headers).
 */
import type { X509Certificate } from "node:crypto";
import type { FrontProxyConfig } from "./front-proxy-config.ts";

export interface UserInfo {
  name: string;
  uid: string | undefined;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface PeerCertificates {
  /** TLS verified the chain at the handshake (against the bundle current then). */
  verified: boolean;
  verifyError: string | undefined;
  /** Leaf first, then its issuers as the client sent them. */
  chain: readonly X509Certificate[];
}

export type AuthResult = { ok: true; user: UserInfo } | { ok: false; reason: string };

export type Headers = Readonly<Record<string, readonly string[] | undefined>>;

export function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split("\n")) if (line.startsWith("CN=")) return line.slice(3);
  return undefined;
}

/** Whether some certificate of the chain is one of the CAs, or was issued and signed by one. */
export function anchoredIn(chain: readonly X509Certificate[], cas: readonly X509Certificate[]): boolean {
  return chain.some((cert) => cas.some((ca) => ca.fingerprint256 === cert.fingerprint256 || (cert.checkIssued(ca) && cert.verify(ca.publicKey))));
}

/** `anchoredIn`, remembered per connection (its PeerCertificates) and CA bundle: one signature check per connection. */
const anchoredMemo = new WeakMap<PeerCertificates, { cas: readonly X509Certificate[]; ok: boolean }>();
function anchoredOnce(peer: PeerCertificates, cas: readonly X509Certificate[]): boolean {
  const known = anchoredMemo.get(peer);
  if (known?.cas === cas) return known.ok;
  const ok = anchoredIn(peer.chain, cas);
  anchoredMemo.set(peer, { cas, ok });
  return ok;
}

/** Steps 1–3: may this connection speak for users? (Cacheable per connection and bundle.) */
export function verifyFrontProxy(peer: PeerCertificates, config: FrontProxyConfig, now: number): { ok: true } | { ok: false; reason: string } {
  const leaf = peer.chain[0];
  if (leaf === undefined) return { ok: false, reason: "no client certificate" };
  if (!peer.verified) return { ok: false, reason: `client certificate not verified (${peer.verifyError ?? "unknown error"})` };
  if (!anchoredOnce(peer, config.cas)) return { ok: false, reason: "client certificate not issued by the current front-proxy CA" };
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return { ok: false, reason: "client certificate expired or not yet valid" };
  if (config.allowedNames.length > 0) {
    const cn = commonName(leaf);
    if (cn === undefined || !config.allowedNames.includes(cn))
      return { ok: false, reason: `client certificate common name "${cn ?? ""}" is not an allowed front-proxy name` };
  }
  return { ok: true };
}

const first = (headers: Headers, names: readonly string[]): string | undefined => {
  for (const name of names) {
    const value = headers[name]?.find((v) => v !== "");
    if (value !== undefined) return value;
  }
  return undefined;
};

function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/** Step 4: the user the (verified) front proxy vouches for. */
export function userFromHeaders(headers: Headers, config: FrontProxyConfig): UserInfo | undefined {
  const name = first(headers, config.usernameHeaders);
  if (name === undefined) return undefined;
  const groups = config.groupHeaders.flatMap((h) => headers[h] ?? []).filter((g) => g !== "");
  const extra: Record<string, string[]> = {};
  for (const [header, values] of Object.entries(headers)) {
    const prefix = config.extraHeaderPrefixes.find((p) => header.startsWith(p) && header.length > p.length);
    if (prefix === undefined || values === undefined) continue;
    const key = unescapeExtraKey(header.slice(prefix.length)).toLowerCase();
    extra[key] = [...(extra[key] ?? []), ...values];
  }
  return { name, uid: first(headers, config.uidHeaders), groups, extra };
}

export function authenticate(peer: PeerCertificates, headers: Headers, config: FrontProxyConfig | undefined, now: number): AuthResult {
  if (config === undefined) return { ok: false, reason: "front-proxy configuration not loaded yet" };
  const verified = verifyFrontProxy(peer, config, now);
  if (!verified.ok) return verified;
  const user = userFromHeaders(headers, config);
  return user === undefined ? { ok: false, reason: "verified front proxy sent no user" } : { ok: true, user };
}
