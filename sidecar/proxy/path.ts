/**
 * Request-target normalisation: the one path that policy matching sees AND the upstream receives.
 *
 * Contract: `normaliseTarget(target)` takes Node's `req.url` and returns `{ path, search }`, or
 * throws `SidecarError("BAD_REQUEST")`. The proxy must forward `path + search` (not the original
 * target), so the application can never see a path other than the one that was authorized.
 * Refused: anything not in origin-form (absolute-form `http://…`, `*`), control characters and
 * NUL (raw or percent-encoded), `#`, backslash in the path (raw or `%5C`), encoded slash `%2F` (its meaning
 * differs between servers), invalid or truncated percent-escapes, raw non-ASCII (Node refuses it
 * on the wire anyway), percent-encoded bytes that are not valid UTF-8 (overlong `%C0%AE` too).
 * Applied, per path segment in this order:
 *   1. percent-escapes of unreserved characters are decoded (`%2e` → `.`, `%41` → `A`); all other
 *      escapes are kept with upper-case hex; raw characters outside RFC 3986 `pchar` are encoded;
 *   2. `;` path parameters are stripped (`..;/` → `../`, `/admin;jsessionid=x` → `/admin`), the way
 *      Tomcat and Spring read them;
 *   3. empty segments are dropped (`//admin` → `/admin`), `.` is removed and `..` removes the
 *      previous segment, never going above the root;
 *   a trailing slash is kept (also after a final `.` or `..`). Case is preserved. The query is
 *   returned separately (raw, for forwarding) and is not part of `path`.
 */
import { SidecarError } from "../errors.ts";

export interface NormalisedTarget {
  /** Normalised absolute path, always starting with `/`. */
  path: string;
  /** `""` or `?` followed by the raw query. */
  search: string;
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** RFC 3986 pchar minus `%` (escapes are handled separately) and minus `;` (parameters). */
const RAW_ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function normaliseTarget(target: string): NormalisedTarget {
  checkCharacters(target);
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  if (rawPath.includes("\\")) throw bad("The request path contains a backslash.");
  const search = q === -1 ? "" : target.slice(q);
  const rawSegments = rawPath.split("/").slice(1);
  const stack: string[] = [];
  let trailingSlash = false;
  for (const raw of rawSegments) {
    const segment = stripParameters(decodeSegment(raw));
    trailingSlash = segment === "" || segment === "." || segment === "..";
    if (segment === "" || segment === ".") continue;
    if (segment === "..") stack.pop();
    else stack.push(segment);
  }
  const path = `/${stack.join("/")}${trailingSlash && stack.length > 0 ? "/" : ""}`;
  return { path, search };
}

/** `normaliseTarget(path).path`, for callers that have already split off the query. */
export function normalizePath(path: string): string {
  return normaliseTarget(path).path;
}

function checkCharacters(target: string): void {
  if (!target.startsWith("/")) throw bad("Only origin-form request targets (starting with /) are accepted.");
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) throw bad("The request target contains a control, space or non-ASCII character.");
    if (c === 0x23) throw bad("The request target contains a fragment.");
  }
}

function stripParameters(segment: string): string {
  const semi = segment.indexOf(";");
  return semi === -1 ? segment : segment.slice(0, semi);
}

/** Decode unreserved escapes, canonicalise the rest, validate UTF-8 of the encoded bytes. */
function decodeSegment(raw: string): string {
  let out = "";
  let nonAscii = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charAt(i);
    if (ch !== "%") {
      out += ch === ";" || RAW_ALLOWED.test(ch) ? ch : `%${hex(ch.charCodeAt(0))}`;
      continue;
    }
    const pair = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(pair)) throw bad("The request target contains an invalid percent-escape.");
    i += 2;
    const byte = Number.parseInt(pair, 16);
    if (byte < 0x20 || byte === 0x7f) throw bad("The request target encodes a control character or NUL.");
    if (byte === 0x2f) throw bad("The request target contains an encoded slash (%2F).");
    if (byte === 0x5c) throw bad("The request target contains an encoded backslash (%5C).");
    const decoded = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(decoded)) out += decoded;
    else out += `%${hex(byte)}`;
    if (byte >= 0x80) nonAscii = true;
  }
  if (nonAscii) validateUtf8(raw);
  return out;
}

/** The escaped bytes of a segment, in order, must form valid UTF-8 (raw bytes are ASCII here). */
function validateUtf8(raw: string): void {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw.charAt(i) === "%") {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i));
  }
  try {
    strictUtf8.decode(Uint8Array.from(bytes));
  } catch (cause) {
    throw new SidecarError("BAD_REQUEST", "The request target is not valid UTF-8 once decoded.", { cause });
  }
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}

function bad(message: string): SidecarError {
  return new SidecarError("BAD_REQUEST", message);
}
