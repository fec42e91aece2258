/**
 * Hop-by-hop header handling per RFC 9110 §7.6.1 (pure, on Node's flat `rawHeaders` arrays).
 *
 * Contract: `stripHopByHop(raw, opts)` removes
 *   - every field named in any `Connection` header (except Host; framing fields are re-derived),
 *   - Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 *     Proxy-Authorization, Proxy-Authenticate, and Expect (the sidecar answers `100-continue`
 *     itself and re-frames the body, so the expectation is not forwarded), and Content-Length
 *     unless `keepContentLength` (requests are re-framed by `framingHeaders`).
 * With `upgrade: true` the result carries exactly `Connection: Upgrade` and the client's `Upgrade`
 * value (WebSocket handshakes). Names are compared case-insensitively; order is kept.
 * Framing (Content-Length / Transfer-Encoding) is NOT carried over: see `framingHeaders`.
 */

/** Always removed (lower-case names). */
export const ALWAYS_HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
  "expect",
]);

/** Fields a `Connection` header may not remove (the proxy owns them). */
const PROTECTED = new Set(["host"]);

export interface StripOptions {
  upgrade: boolean;
  /** Keep Content-Length (responses). Requests get their framing from `framingHeaders`. */
  keepContentLength?: boolean;
}

export function connectionTokens(raw: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() !== "connection") continue;
    for (const t of (raw[i + 1] ?? "").split(",")) {
      const token = t.trim().toLowerCase();
      if (token !== "" && !PROTECTED.has(token)) tokens.add(token);
    }
  }
  return tokens;
}

export function stripHopByHop(raw: readonly string[], opts: StripOptions): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  let upgradeValue: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    const lower = name.toLowerCase();
    if (lower === "upgrade" && upgradeValue === undefined) upgradeValue = value;
    if (ALWAYS_HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (lower === "content-length" && opts.keepContentLength !== true) continue;
    out.push(name, value);
  }
  if (opts.upgrade && upgradeValue !== undefined) out.push("Connection", "Upgrade", "Upgrade", upgradeValue);
  return out;
}

/** Response side: the same set (upstream hop-by-hop fields never reach the client); Content-Length kept. */
export function stripResponseHopByHop(raw: readonly string[]): string[] {
  return stripHopByHop(raw, { upgrade: false, keepContentLength: true });
}

/**
 * The body framing to send upstream, derived from what Node's strict parser accepted (it rejects
 * CL+TE, duplicate or differing Content-Length and any Transfer-Encoding that does not end in
 * `chunked`): chunked stays chunked, a Content-Length is kept, no framing means no body.
 * Explicit framing matters: Node sends an unframed body for GET/DELETE/OPTIONS otherwise.
 */
export function framingHeaders(headers: { "content-length"?: string | undefined; "transfer-encoding"?: string | undefined }): string[] {
  if (headers["transfer-encoding"] !== undefined) return ["Transfer-Encoding", "chunked"];
  if (headers["content-length"] !== undefined) return ["Content-Length", headers["content-length"]];
  return [];
}
