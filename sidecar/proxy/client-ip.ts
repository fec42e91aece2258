/**
 * The trusted client IP (the rightmost untrusted X-Forwarded-For hop, as Envoy and nginx real_ip do).
 *
 * Contract: `clientIp(peer, xff, trusted)` returns the socket peer unless the peer is a trusted
 * proxy; then it walks `X-Forwarded-For` from right to left (several headers are read in order as
 * one list) and returns the first hop that is not trusted. Every hop to the right of the returned
 * one was written by a trusted proxy, so nothing a client puts on the left can be chosen.
 * A hop that is not an IP address (`unknown`, garbage, empty) ends the walk: the entry was written by a
 * trusted proxy that could not name its client, and anything further left may be client-supplied,
 * so the answer is the last trusted address seen. If every hop is trusted, the leftmost is returned.
 * Results are canonical (`normaliseIp`: IPv4-mapped IPv6 becomes IPv4, zones and ports removed).
 */
import { BlockList } from "node:net";
import { oncePerObject } from "../../lib/memo.ts";
import { ConfigError } from "../errors.ts";
import { cidrBlockList, inList, normaliseIp } from "./ip.ts";

export type TrustedProxies = BlockList | readonly string[];

/** Build the trusted-proxy list from configuration; a bad CIDR is a configuration error. */
export function trustedProxies(cidrs: readonly string[], key = "trustedProxies"): BlockList {
  const { list, invalid } = cidrBlockList(cidrs);
  if (invalid.length > 0) throw new ConfigError(key, `not a CIDR: ${invalid.map((c) => JSON.stringify(c)).join(", ")}`);
  return list;
}

const blockListOf = oncePerObject((cidrs: readonly string[]): BlockList => cidrBlockList(cidrs).list);

function asBlockList(trusted: TrustedProxies): BlockList {
  return trusted instanceof BlockList ? trusted : blockListOf(trusted);
}

export function clientIp(peer: string, xff: string | string[] | undefined, trusted: TrustedProxies): string {
  const peerIp = normaliseIp(peer) ?? peer;
  const list = asBlockList(trusted);
  if (!inList(list, peerIp) || xff === undefined) return peerIp;
  const hops = (Array.isArray(xff) ? xff.join(",") : xff).split(",");
  let lastTrusted = peerIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseHop((hops[i] ?? "").trim());
    if (hop === undefined) return lastTrusted;
    if (!inList(list, hop)) return hop;
    lastTrusted = hop;
  }
  return lastTrusted;
}

const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;

/** One XFF entry → canonical IP, accepting `a.b.c.d:port`, `[v6]:port` and quoted forms. */
function parseHop(raw: string): string | undefined {
  let text = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  const bracketed = BRACKETED.exec(text);
  if (bracketed !== null) text = bracketed[1] ?? "";
  else {
    const v4 = IPV4_WITH_PORT.exec(text);
    if (v4 !== null) text = v4[1] ?? "";
  }
  return normaliseIp(text);
}
