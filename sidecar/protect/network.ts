/**
 * Network binding (pure): the network a client address belongs to, as a label compared for equality — its
 * autonomous system (`AS64500`) when the granularity is ASN and the ASN database knows the address, else its prefix
 * (`203.0.113.0/24`, `2001:db8:1:2::/64`). Addresses are the trusted client IP, already canonical (IPv4-mapped
 * IPv6 is IPv4: sidecar/proxy/ip.ts).
 */
import { canonicalCidr } from "../../operator/api/cidr.ts";
import type { NetworkGranularity } from "../../operator/api/v1alpha1/index.ts";

export interface NetworkSettings {
  granularity: NetworkGranularity;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
}

export function networkLabel(ip: string, settings: NetworkSettings, asnOf: (ip: string) => number | undefined): string {
  if (settings.granularity === "ASN") {
    const asn = asnOf(ip);
    if (asn !== undefined) return `AS${asn}`;
  }
  const length = ip.includes(":") ? settings.ipv6PrefixLength : settings.ipv4PrefixLength;
  return canonicalCidr(`${ip}/${length}`) ?? ip;
}
