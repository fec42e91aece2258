/**
 * Canonical CIDR form: host bits zeroed, IPv4 dotted decimal, IPv6 in RFC 5952 text form
 * (lower-case, no leading zeros, longest run of two or more zero groups compressed).
 * A bare address means a single host (/32, /128). IPv4-mapped IPv6 ranges (`::ffff:0:0/96` and
 * narrower) are rewritten to the IPv4 range they denote, so one range has exactly one spelling.
 * Returns null for anything that is not a valid address or prefix (no leading zeros, no zones).
 */
export function canonicalCidr(input: string): string | null {
  if (input.length === 0 || input.length > 64) return null;
  const slash = input.indexOf("/");
  const addressText = slash === -1 ? input : input.slice(0, slash);
  const prefixText = slash === -1 ? null : input.slice(slash + 1);
  const bytes = addressText.includes(":") ? parseIpv6(addressText) : parseIpv4(addressText);
  if (bytes === null) return null;
  const bits = bytes.length * 8;
  const prefix = prefixText === null ? bits : parseDecimal(prefixText, bits);
  if (prefix === null) return null;
  const masked = mask(bytes, prefix);
  if (masked.length === 16 && prefix >= 96 && isV4Mapped(masked)) {
    return `${formatIpv4(masked.slice(12))}/${prefix - 96}`;
  }
  return `${masked.length === 4 ? formatIpv4(masked) : formatIpv6(masked)}/${prefix}`;
}

/**
 * True when the text is a valid CIDR whose address has bits set beyond the prefix (`10.0.0.1/8`):
 * almost always a typo for a single host or for the network, so the compiler refuses it rather than
 * silently widening it (see docs/decisions/crd-0002-canonical-cidrs.md).
 */
export function cidrHasHostBits(input: string): boolean {
  const slash = input.indexOf("/");
  if (slash === -1) return false;
  const whole = canonicalCidr(input.slice(0, slash));
  const masked = canonicalCidr(input);
  if (whole === null || masked === null) return false;
  return whole.slice(0, whole.indexOf("/")) !== masked.slice(0, masked.indexOf("/"));
}

function parseDecimal(text: string, max: number): number | null {
  if (!/^(0|[1-9]\d{0,2})$/u.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    const value = parseDecimal(part, 255);
    if (value === null) return null;
    bytes.push(value);
  }
  return bytes;
}

function parseGroups(text: string): number[] | null {
  if (text === "") return [];
  const groups: number[] = [];
  for (const group of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/u.test(group)) return null;
    groups.push(Number.parseInt(group, 16));
  }
  return groups;
}

/** Splits a trailing embedded IPv4 (`::ffff:1.2.3.4`) into two 16-bit groups. */
function withEmbeddedIpv4(text: string): string | null {
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (!tail.includes(".")) return text;
  const v4 = parseIpv4(tail);
  if (v4 === null) return null;
  const [a = 0, b = 0, c = 0, d = 0] = v4;
  return `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function parseIpv6(input: string): number[] | null {
  const text = withEmbeddedIpv4(input);
  if (text === null) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function mask(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

function isV4Mapped(bytes: readonly number[]): boolean {
  return bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function formatIpv4(bytes: readonly number[]): string {
  return bytes.join(".");
}

function formatIpv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
