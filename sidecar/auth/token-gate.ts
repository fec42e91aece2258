/**
 * Format and size gate for compact JWS tokens, applied before any JOSE parsing (RFC 8725bis
 * "check JWT format type").
 *
 * Contract: `gateToken(token)` either returns the three base64url segments plus the decoded
 * protected header (a JSON object with a non-empty string `alg`), or throws a `SidecarError`:
 *   TOKEN_MISSING   empty input
 *   TOKEN_MALFORMED longer than the limit, characters outside `[A-Za-z0-9_-.]`, not 3 segments,
 *                   an empty segment, or a header that is not base64url UTF-8 JSON with `alg`
 *   TOKEN_INVALID   five segments (a JWE where a JWS is expected)
 * It never calls jose and never echoes the token in a message. Length is checked first, so a huge
 * input costs one comparison.
 */
import { SidecarError } from "../errors.ts";

export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

export interface GatedToken {
  header: Readonly<Record<string, unknown>> & { readonly alg: string };
  /** Base64url payload segment, still undecoded. */
  payloadSegment: string;
}

const TOKEN_CHARS = /^[A-Za-z0-9_.-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function gateToken(token: string, maxBytes: number = DEFAULT_MAX_TOKEN_BYTES): GatedToken {
  if (token.length === 0) throw new SidecarError("TOKEN_MISSING", "No bearer token was presented.");
  if (token.length > maxBytes) throw malformed(`The token is longer than ${maxBytes} bytes.`);
  if (!TOKEN_CHARS.test(token)) throw malformed("The token contains characters outside the base64url alphabet.");
  const segments = token.split(".");
  if (segments.length === 5) throw new SidecarError("TOKEN_INVALID", "Encrypted tokens (JWE) are not accepted; a signed JWT is required.");
  if (segments.length !== 3) throw malformed("The token does not have three segments.");
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
  if (![headerSegment, payloadSegment, signatureSegment].every((s) => SEGMENT_CHARS.test(s))) {
    throw malformed("The token has an empty segment.");
  }
  const header = decodeJsonSegment(headerSegment);
  if (header === undefined) throw malformed("The token header is not a base64url-encoded JSON object.");
  const alg = header.alg;
  if (typeof alg !== "string" || alg.length === 0) throw malformed("The token header has no algorithm.");
  return { header: header as GatedToken["header"], payloadSegment };
}

/**
 * Decode one base64url segment to a JSON object; `undefined` if the bytes are not valid base64url,
 * not valid UTF-8, not JSON, or not an object. Callers have already checked the charset.
 */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (segment.length % 4 === 1) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(segment, "base64url")));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function malformed(message: string): SidecarError {
  return new SidecarError("TOKEN_MALFORMED", message);
}
