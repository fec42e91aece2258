import { describe, expect, it } from "vitest";
import { tunnelTarget } from "../../../../sidecar/proxy/tunnel.ts";

const forbidden = new Set([8080, 9901]);

describe("CONNECT targets", () => {
  it.each([
    ["localhost:22", { host: "localhost", port: 22 }],
    ["127.0.0.1:5432", { host: "127.0.0.1", port: 5432 }],
    ["[::1]:6379", { host: "::1", port: 6379 }],
    ["LOCALHOST:22", { host: "localhost", port: 22 }],
  ])("accepts loopback %s", (authority, expected) => {
    expect(tunnelTarget(authority, forbidden)).toEqual(expected);
  });

  it.each([
    "10.0.0.5:22",
    "db.internal:5432",
    "169.254.169.254:80",
    "localhost.evil.test:22",
    "127.0.0.2:22",
    "localhost",
    "localhost:",
    ":22",
    "localhost:0",
    "localhost:65536",
    "localhost:22x",
    "localhost:8080",
    "127.0.0.1:9901",
  ])("refuses %s with BAD_REQUEST", (authority) => {
    expect(() => tunnelTarget(authority, forbidden)).toThrow(expect.objectContaining({ code: "BAD_REQUEST", status: 400 }));
  });
});
