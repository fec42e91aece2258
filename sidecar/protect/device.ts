/**
 * Device binding (pure apart from a bounded parse memo): a device fingerprint as named components, so a finding can
 * say WHAT changed.
 *
 *   Browser           family and MAJOR version from the User-Agent (bowser); a minor update keeps it. A client that
 *                     is no browser (`curl/8.5.0`) is its product token and major version (`curl 8`).
 *   OperatingSystem   the OS name from the User-Agent (no version: OS updates are routine)
 *   Platform          `Sec-CH-UA-Platform` as sent (Chromium sends it; others do not: "" both times is equal)
 *   AcceptLanguage    the first language range of Accept-Language, lower-case
 *   ClientCertificate a trusted ingress's client-certificate header: SHA-256 hex as sent, or the SHA-256 of the value
 *   JA4               a trusted ingress's JA4 header
 * The raw values of the session's first request are kept in its sealed record; `deviceChanges` compares the raw
 * values first (the common case, equal strings, costs nothing) and parses only what differs. bowser is imported by
 * `loadUserAgentParser`, which the guard awaits before its first device check (a sidecar without device binding never
 * loads it; docs/decisions/perf-0004); a dynamic import, so the bundler keeps it in its own chunk (build-0001).
 */
import { createHash } from "node:crypto";
import type Bowser from "bowser";
import type { DeviceComponent } from "../../operator/api/v1alpha1/index.ts";

export interface RawDevice {
  userAgent: string;
  platform: string;
  acceptLanguage: string;
  clientCert: string;
  ja4: string;
}

const MAX_UA = 256;
const MAX_HEADER = 128;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const JA4 = /^[A-Za-z0-9_]{1,64}$/;

export interface DeviceHeaders {
  "user-agent"?: string | undefined;
  "sec-ch-ua-platform"?: string | string[] | undefined;
  "accept-language"?: string | string[] | undefined;
}

function first(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

/** The raw device of a request; certificate and JA4 only when the peer is a trusted proxy (else ""). */
export function rawDevice(
  headers: DeviceHeaders & Record<string, string | string[] | undefined>,
  trusted: { certHeader: string; ja4Header: string } | undefined,
): RawDevice {
  let clientCert = "";
  let ja4 = "";
  if (trusted !== undefined) {
    const cert = trusted.certHeader === "" ? "" : first(headers[trusted.certHeader]);
    clientCert = cert === "" ? "" : HEX_SHA256.test(cert) ? cert.toLowerCase() : createHash("sha256").update(cert).digest("hex");
    const j = trusted.ja4Header === "" ? "" : first(headers[trusted.ja4Header]);
    ja4 = JA4.test(j) ? j : "";
  }
  return {
    userAgent: (headers["user-agent"] ?? "").slice(0, MAX_UA),
    platform: first(headers["sec-ch-ua-platform"]).slice(0, MAX_HEADER),
    acceptLanguage: first(headers["accept-language"]).slice(0, MAX_HEADER),
    clientCert,
    ja4,
  };
}

export interface DeviceChange {
  component: DeviceComponent;
  bound: string;
  observed: string;
}

/** The components of `components` that differ between the bound device and this request's. */
export function deviceChanges(bound: RawDevice, seen: RawDevice, components: readonly DeviceComponent[]): DeviceChange[] {
  const changes: DeviceChange[] = [];
  for (const component of components) {
    const [a, b] = raw(component, bound, seen);
    if (a === b) continue;
    const before = componentValue(component, bound);
    const after = componentValue(component, seen);
    if (before !== after) changes.push({ component, bound: before, observed: after });
  }
  return changes;
}

function raw(component: DeviceComponent, a: RawDevice, b: RawDevice): [string, string] {
  switch (component) {
    case "Browser":
    case "OperatingSystem":
      return [a.userAgent, b.userAgent];
    case "Platform":
      return [a.platform, b.platform];
    case "AcceptLanguage":
      return [a.acceptLanguage, b.acceptLanguage];
    case "ClientCertificate":
      return [a.clientCert, b.clientCert];
    case "JA4":
      return [a.ja4, b.ja4];
  }
}

export function componentValue(component: DeviceComponent, d: RawDevice): string {
  switch (component) {
    case "Browser":
      return parsed(d.userAgent).browser;
    case "OperatingSystem":
      return parsed(d.userAgent).os;
    case "Platform":
      return d.platform.replaceAll('"', "").trim();
    case "AcceptLanguage":
      return (d.acceptLanguage.split(",")[0] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    case "ClientCertificate":
      return d.clientCert;
    case "JA4":
      return d.ja4;
  }
}

interface Parsed {
  browser: string;
  os: string;
}

const memo = new Map<string, Parsed>();
const MEMO_MAX = 1000;

function parsed(ua: string): Parsed {
  const known = memo.get(ua);
  if (known !== undefined) return known;
  const result = parseUserAgent(ua);
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value ?? "");
  memo.set(ua, result);
  return result;
}

const PRODUCT = /^([A-Za-z][A-Za-z0-9._-]{0,31})\/(\d{1,6})/;

let bowser: typeof Bowser | undefined;

/** Imports bowser once; later calls resolve at once. Needed before `deviceChanges` / `parseUserAgent` parse a User-Agent. */
export async function loadUserAgentParser(): Promise<void> {
  bowser ??= (await import("bowser")).default;
}

/** Browser family + major and OS name; never throws once `loadUserAgentParser` has resolved (bowser refuses an empty string). */
export function parseUserAgent(ua: string): Parsed {
  if (ua === "") return { browser: "", os: "" };
  const parser = bowser;
  if (parser === undefined) throw new Error("parseUserAgent before loadUserAgentParser");
  try {
    const r = parser.parse(ua);
    const name = r.browser.name ?? "";
    const major = (r.browser.version ?? "").split(".")[0] ?? "";
    if (name !== "") return { browser: major === "" ? name : `${name} ${major}`, os: r.os.name ?? "" };
  } catch {
    // fall through to the product token
  }
  const product = PRODUCT.exec(ua);
  return { browser: product === null ? "" : `${product[1] ?? ""} ${product[2] ?? ""}`, os: "" };
}
