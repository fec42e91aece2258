import { describe, expect, it } from "vitest";
import { canonicalCidr, cidrHasHostBits } from "../../../../operator/api/cidr.ts";

describe("cidrHasHostBits", () => {
  it("tells a network from an address with host bits", () => {
    expect(cidrHasHostBits("10.0.0.0/8")).toBe(false);
    expect(cidrHasHostBits("10.0.0.1/8")).toBe(true);
    expect(cidrHasHostBits("10.0.0.1")).toBe(false);
    expect(cidrHasHostBits("2001:db8::/32")).toBe(false);
    expect(cidrHasHostBits("2001:db8::1/32")).toBe(true);
    expect(cidrHasHostBits("nonsense/8")).toBe(false);
  });
});

describe("canonicalCidr", () => {
  it.each<[string, string]>([
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["192.168.1.1", "192.168.1.1/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:DB8::1/32", "2001:db8::/32"],
    ["2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128"],
    ["::", "::/128"],
    ["::/0", "::/0"],
    ["fe80::1:0:0:0/64", "fe80::/64"],
    ["1:0:0:2:0:0:0:3/128", "1:0:0:2::3/128"],
    ["::ffff:10.0.0.1/96", "0.0.0.0/0"],
    ["::ffff:10.0.0.1", "10.0.0.1/32"],
  ])("%s → %s", (input, expected) => {
    expect(canonicalCidr(input)).toBe(expected);
  });

  it.each([
    "",
    "10.0.0.0/33",
    "300.1.1.1/24",
    "10.0.0/8",
    "010.0.0.0/8",
    "10.0.0.0/08",
    "example.com",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "fe80::1%eth0",
    "10.0.0.0/",
    "::1/129",
    "1:2:3:4:5:6:7::8:9",
  ])("refuses %j", (input) => {
    expect(canonicalCidr(input)).toBeNull();
  });
});
