import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../../sidecar/errors.ts";
import { clientIp, trustedProxies } from "../../../../sidecar/proxy/client-ip.ts";

const TRUSTED = ["10.0.0.0/8", "fd00::/8"];

describe("trusted client IP", () => {
  it.each([
    ["untrusted peer: XFF ignored", "203.0.113.9", "1.1.1.1", "203.0.113.9"],
    ["untrusted peer without XFF", "203.0.113.9", undefined, "203.0.113.9"],
    ["trusted peer without XFF", "10.0.0.2", undefined, "10.0.0.2"],
    ["trusted peer, one hop", "10.0.0.2", "198.51.100.7", "198.51.100.7"],
    ["spoofed leftmost entry is not chosen", "10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"],
    ["trusted hops are skipped from the right", "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5, 10.1.1.1", "198.51.100.7"],
    ["all hops trusted → leftmost", "10.0.0.2", "10.0.0.9, 10.0.0.5", "10.0.0.9"],
    ["`unknown` ends the walk at the last trusted address", "10.0.0.2", "6.6.6.6, unknown", "10.0.0.2"],
    ["`unknown` after a trusted hop", "10.0.0.2", "6.6.6.6, unknown, 10.0.0.7", "10.0.0.7"],
    ["garbage ends the walk", "10.0.0.2", "6.6.6.6, <script>", "10.0.0.2"],
    ["empty entry ends the walk", "10.0.0.2", "6.6.6.6, ", "10.0.0.2"],
    ["empty header", "10.0.0.2", "", "10.0.0.2"],
    ["IPv6 hop", "10.0.0.2", "2001:db8::1", "2001:db8::1"],
    ["IPv6 hop is canonicalised", "10.0.0.2", "2001:DB8:0:0::1", "2001:db8::1"],
    ["bracketed IPv6 with port", "10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"],
    ["IPv6 with zone", "10.0.0.2", "fe80::1%eth0", "fe80::1"],
    ["IPv4 with port", "10.0.0.2", "198.51.100.7:5555", "198.51.100.7"],
    ["quoted hop", "10.0.0.2", '"198.51.100.7"', "198.51.100.7"],
    ["IPv4-mapped hop becomes IPv4", "10.0.0.2", "::ffff:198.51.100.7", "198.51.100.7"],
    ["IPv4-mapped peer is trusted as IPv4", "::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"],
    ["IPv4-mapped untrusted peer is returned as IPv4", "::ffff:203.0.113.9", "1.1.1.1", "203.0.113.9"],
    ["IPv4-mapped trusted hop is skipped", "10.0.0.2", "198.51.100.7, ::ffff:10.9.9.9", "198.51.100.7"],
    ["trusted IPv6 peer", "fd00::1", "198.51.100.7", "198.51.100.7"],
    ["several XFF headers read in order", "10.0.0.2", ["6.6.6.6", "198.51.100.7, 10.0.0.3"], "198.51.100.7"],
  ] as [string, string, string | string[] | undefined, string][])("%s", (_name, peer, xff, expected) => {
    expect(clientIp(peer, xff, TRUSTED)).toBe(expected);
  });

  it("handles 1000 entries and still picks the rightmost untrusted hop", () => {
    const spoofed = Array.from({ length: 997 }, (_, i) => `6.6.${(i >> 8) & 255}.${i & 255}`);
    const xff = [...spoofed, "198.51.100.7", "10.0.0.3", "10.0.0.4"].join(", ");
    expect(clientIp("10.0.0.2", xff, TRUSTED)).toBe("198.51.100.7");
  });

  it("handles 1000 entries of junk without throwing", () => {
    expect(clientIp("10.0.0.2", Array.from({ length: 1000 }, () => "unknown").join(","), TRUSTED)).toBe("10.0.0.2");
  });

  it("accepts a prepared BlockList", () => {
    const list = trustedProxies(["10.0.0.0/8"]);
    expect(clientIp("10.0.0.2", "6.6.6.6, 198.51.100.7", list)).toBe("198.51.100.7");
  });

  it("rejects a bad trusted-proxy CIDR as a configuration error", () => {
    expect(() => trustedProxies(["10.0.0.0/33"])).toThrow(ConfigError);
    expect(() => trustedProxies(["proxy.local"])).toThrow(/trustedProxies/);
  });
});
