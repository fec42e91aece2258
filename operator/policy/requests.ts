import type { CompiledRequest, PathMatch } from "../api/compiled-policy.ts";
import type { HttpMethod, RequestMatch } from "../api/v1alpha1/index.ts";
import { sortUniqueByJson, sortUniqueStrings } from "./canonical-json.ts";
import { Findings, hasControlChars, quote } from "./findings.ts";
import { normaliseHostMatcher } from "./hosts.ts";
import { PROBLEM_REASONS as P, WARNING_REASONS as W } from "./reasons.ts";

/**
 * Request matching semantics the compiler assumes (and the sidecar implements):
 * - `ports` restrict CONNECT tunnels only: an HTTP request has no tunnel port, so an entry with
 *   ports matches CONNECT flows only.
 * - `paths` restrict HTTP requests only: a CONNECT tunnel has no path, so an entry with (non-`*`)
 *   paths never matches a CONNECT flow.
 * An entry whose matchers contradict each other can never match; it is dropped with a warning, and a
 * rule left with no possible request becomes a RuleNeverMatches problem.
 */

const METHODS: readonly HttpMethod[] = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
const PATH_UNSAFE = /[\s?#\\]|%(2e|2f|5c)/iu;
const MAX_PATH_LENGTH = 1024;

export function compileRequests(list: readonly RequestMatch[], field: string, findings: Findings): { requests: CompiledRequest[]; dropped: number } {
  const kept: CompiledRequest[] = [];
  let dropped = 0;
  list.forEach((match, i) => {
    const entryField = `${field}[${i}]`;
    const compiled = compileRequest(match, entryField, findings);
    if (compiled === null) return;
    const contradiction = neverMatches(compiled);
    if (contradiction === null) kept.push(compiled);
    else {
      dropped++;
      findings.warn(W.RequestNeverMatches, entryField, `this request entry can never match: ${contradiction}`);
    }
  });
  return { requests: sortUniqueByJson(kept), dropped };
}

function neverMatches(request: CompiledRequest): string | null {
  const hasPaths = request.paths.some((p) => p.kind !== "any");
  const hasPorts = request.ports.length > 0;
  const methods = request.methods;
  if (hasPorts && hasPaths) return "ports apply only to CONNECT tunnels and paths only to HTTP requests";
  if (hasPorts && methods.length > 0 && !methods.includes("CONNECT")) return "ports apply only to CONNECT tunnels";
  if (hasPaths && methods.length === 1 && methods[0] === "CONNECT") return "CONNECT tunnels have no path";
  return null;
}

function compileRequest(match: RequestMatch, field: string, findings: Findings): CompiledRequest | null {
  const before = findings.problems.length;
  const methods = compileMethods(match.methods ?? [], `${field}.methods`, findings);
  const paths = compilePaths(match.paths ?? [], `${field}.paths`, findings);
  const hosts = compileHosts(match.hosts ?? [], `${field}.hosts`, findings);
  const ports = compilePorts(match.ports ?? [], `${field}.ports`, findings);
  if (findings.problems.length !== before) return null;
  return { methods, paths, hosts, ports };
}

function compileMethods(list: readonly string[], field: string, findings: Findings): HttpMethod[] {
  const out: HttpMethod[] = [];
  list.forEach((raw, i) => {
    const upper = typeof raw === "string" ? raw.toUpperCase() : "";
    const method = METHODS.find((m) => m === upper);
    if (method === undefined) findings.problem(P.InvalidMethod, `${field}[${i}]`, `${quote(raw)} is not a supported method`);
    else out.push(method);
  });
  return sortUniqueStrings(out);
}

/** `*` → any; `/a/*` → prefix `/a/`; otherwise an exact normalised path. */
export function parsePathMatch(raw: string): PathMatch | null {
  if (raw === "*") return { kind: "any" };
  const text: unknown = raw;
  if (typeof text !== "string" || text.length > MAX_PATH_LENGTH || !text.startsWith("/")) return null;
  if (PATH_UNSAFE.test(text) || hasControlChars(text)) {
    return null;
  }
  const prefix = raw.endsWith("/*");
  const body = prefix ? raw.slice(0, -1) : raw;
  if (body.includes("*") || body.includes("//")) return null;
  const segments = body.split("/");
  if (segments.some((s) => s === "." || s === "..")) return null;
  return prefix ? { kind: "prefix", value: body } : { kind: "exact", value: body };
}

function compilePaths(list: readonly string[], field: string, findings: Findings): PathMatch[] {
  const out: PathMatch[] = [];
  list.forEach((raw, i) => {
    const path = parsePathMatch(raw);
    if (path === null) {
      findings.problem(
        P.InvalidPath,
        `${field}[${i}]`,
        `${quote(raw)} is not a normalised path: use "*", "/exact/path" or "/prefix/*" (no "//", ".", "..", "?", "#", "\\" or encoded ".", "/", "\\")`,
      );
    } else out.push(path);
  });
  if (out.some((p) => p.kind === "any")) return [{ kind: "any" }];
  return sortUniqueByJson(out);
}

function compileHosts(list: readonly string[], field: string, findings: Findings): string[] {
  const out: string[] = [];
  list.forEach((raw, i) => {
    const host = typeof raw === "string" ? normaliseHostMatcher(raw) : null;
    if (host === null) {
      findings.problem(P.InvalidHost, `${field}[${i}]`, `${quote(raw)} is not a host name or *.domain wildcard (no port)`);
    } else out.push(host);
  });
  return sortUniqueStrings(out);
}

function compilePorts(list: readonly number[], field: string, findings: Findings): number[] {
  const out: number[] = [];
  list.forEach((raw, i) => {
    if (Number.isInteger(raw) && raw >= 1 && raw <= 65535) out.push(raw);
    else findings.problem(P.InvalidPort, `${field}[${i}]`, `${quote(raw)} is not a port (1-65535)`);
  });
  return [...new Set(out)].sort((a, b) => a - b);
}
