/**
 * IP address helpers shared by the client-IP resolver and the authorizer.
 *
 * `normaliseIp` returns the canonical text of an address (IPv4 dotted quad; IPv6 lower-case,
 * compressed, zone removed; IPv4-mapped IPv6 `::ffff:a.b.c.d` → `a.b.c.d`) or `undefined` when the
 * input is not an IP address. `cidrBlockList` turns canonical CIDRs into a `node:net` BlockList and
 * reports which entries it could not parse (never throws).
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

export function normaliseIp(input: string): string | undefined {
  let text = input.trim();
  if (isIPv4(text)) return text;
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  if (!isIPv6(text)) return undefined;
  let canonical: string;
  try {
    canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = MAPPED_HEX.exec(canonical);
  if (mapped === null) return canonical;
  const hi = Number.parseInt(mapped[1] ?? "0", 16);
  const lo = Number.parseInt(mapped[2] ?? "0", 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

export function ipFamily(canonicalIp: string): "ipv4" | "ipv6" {
  return isIPv4(canonicalIp) ? "ipv4" : "ipv6";
}

export interface ParsedCidrs {
  list: BlockList;
  /** Entries that are not `address/prefix` with a valid address and prefix length. */
  invalid: string[];
}

export function cidrBlockList(cidrs: readonly string[]): ParsedCidrs {
  const list = new BlockList();
  const invalid: string[] = [];
  for (const cidr of cidrs) {
    const slash = cidr.lastIndexOf("/");
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    const prefixText = slash === -1 ? undefined : cidr.slice(slash + 1);
    const ip = isIPv4(address) ? address : isIPv6(address) ? address : undefined;
    const family = ip === undefined ? undefined : ipFamily(ip);
    const max = family === "ipv4" ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (ip === undefined || family === undefined || !(prefix >= 0 && prefix <= max)) {
      invalid.push(cidr);
      continue;
    }
    list.addSubnet(ip, prefix, family);
  }
  return { list, invalid };
}

/** Membership of a (possibly non-canonical) address; false for anything that is not an IP. */
export function inList(list: BlockList, ip: string): boolean {
  const canonical = normaliseIp(ip);
  if (canonical === undefined) return false;
  return list.check(canonical, ipFamily(canonical));
}
