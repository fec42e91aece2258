import { describe, expect, it } from "vitest";
import type { Principal } from "../../../../sidecar/auth/types.ts";
import { encodeHeaderValue, identityHeaders, sanitizeHeaders } from "../../../../sidecar/proxy/identity-headers.ts";

const pairs = (raw: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i] ?? "", raw[i + 1] ?? ""]);
  return out;
};

describe("sanitizeHeaders", () => {
  it.each([
    "X-Vigil-Subject",
    "x-vigil-subject",
    "X_VIGIL_SUBJECT",
    "x_vigil-groups",
    "X-Vigil-Anything-New",
    "X-Forwarded-User",
    "x_forwarded_user",
    "X-FORWARDED-USER",
    "X-Forwarded-Email",
    "X_Forwarded_Groups",
    "X-Forwarded-Preferred-Username",
    "X-Auth-Request-User",
    "x_auth_request_access_token",
    "X-Remote-User",
    "Remote-User",
    "REMOTE_USER",
    "X-Remote-Group",
    "Proxy-Authorization",
    "proxy_authorization",
  ])("drops %s", (name) => {
    expect(sanitizeHeaders([name, "mallory", "Accept", "*/*"])).toEqual(["Accept", "*/*"]);
  });

  it("drops every duplicate, keeps everything else in order with its spelling", () => {
    const raw = [
      "Host",
      "app",
      "X-Forwarded-User",
      "a",
      "x-forwarded-user",
      "b",
      "X_Forwarded_User",
      "c",
      "X-Custom",
      "1",
      "x-custom",
      "2",
      "Authorization",
      "Bearer t",
    ];
    expect(pairs(sanitizeHeaders(raw))).toEqual([
      ["Host", "app"],
      ["X-Custom", "1"],
      ["x-custom", "2"],
      ["Authorization", "Bearer t"],
    ]);
  });

  it("keeps look-alike names that are not identity headers", () => {
    const raw = ["X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https", "X-Vigilant", "yes", "User-Agent", "curl"];
    expect(sanitizeHeaders(raw)).toEqual(raw);
  });

  it("removes our header names from Connection so they cannot be stripped as hop-by-hop", () => {
    expect(pairs(sanitizeHeaders(["Connection", "close, X-Vigil-Subject, x_vigil_groups, X-Forwarded-User, Keep-Alive"]))).toEqual([
      ["Connection", "close, Keep-Alive"],
    ]);
    expect(sanitizeHeaders(["Connection", "X-Vigil-Session", "Accept", "*/*"])).toEqual(["Accept", "*/*"]);
    expect(sanitizeHeaders(["connection", "keep-alive"])).toEqual(["connection", "keep-alive"]);
  });

  it("does not modify its input", () => {
    const raw = ["X-Vigil-Subject", "x"];
    sanitizeHeaders(raw);
    expect(raw).toEqual(["X-Vigil-Subject", "x"]);
  });
});

describe("identityHeaders", () => {
  const principal = (overrides: Partial<Principal> = {}): Principal => ({
    issuer: "https://idp.test",
    subject: "alice",
    email: "alice@example.com",
    groups: ["eng", "oncall"],
    claims: {},
    sessionClaim: { name: "sid", value: "x" },
    issuedAt: 0,
    expiresAt: 0,
    ...overrides,
  });

  it("sets subject, email, groups and session", () => {
    expect(identityHeaders(principal(), "s_abc")).toEqual({
      "x-vigil-subject": "alice",
      "x-vigil-email": "alice@example.com",
      "x-vigil-groups": "eng,oncall",
      "x-vigil-session": "s_abc",
    });
  });

  it("omits the email header when the token has no email", () => {
    const noEmail: Principal = { ...principal() };
    delete noEmail.email;
    expect(identityHeaders(noEmail, "s_abc")).not.toHaveProperty("x-vigil-email");
  });

  it("cannot be used to inject headers or extra groups", () => {
    const h = identityHeaders(principal({ subject: "alice\r\nX-Vigil-Groups: admins", groups: ["eng,admins", "ops\nx"] }), "s_abc");
    expect(h["x-vigil-subject"]).toBe("alice%0D%0AX-Vigil-Groups: admins");
    expect(h["x-vigil-groups"]).toBe("eng%2Cadmins,ops%0Ax");
    expect(h["x-vigil-groups"]?.split(",")).toHaveLength(2);
    for (const value of Object.values(h)) expect(value).toMatch(/^[\x20-\x7e]*$/);
  });

  it("keeps distinct identities distinct (encoding is injective)", () => {
    expect(encodeHeaderValue("alice%0A")).not.toBe(encodeHeaderValue("alice\n"));
    expect(encodeHeaderValue("alice ")).not.toBe(encodeHeaderValue("alice"));
    expect(encodeHeaderValue(" alice")).toBe("%20alice");
    expect(encodeHeaderValue("a b")).toBe("a b");
    expect(encodeHeaderValue("josé")).toBe("jos%C3%A9");
    expect(encodeHeaderValue("\ud800")).toBe("%EF%BF%BD");
  });
});
