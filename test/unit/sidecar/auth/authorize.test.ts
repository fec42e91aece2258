import { describe, expect, it } from "vitest";
import type { CompiledIdentity, CompiledPolicy, CompiledRequest, CompiledRule } from "../../../../operator/api/compiled-policy.ts";
import { authorize } from "../../../../sidecar/auth/authorize.ts";
import { localTime } from "../../../../sidecar/auth/rule-match.ts";
import type { Principal, RequestFacts } from "../../../../sidecar/auth/types.ts";

type PrincipalOverrides = { [K in keyof Principal]?: Principal[K] | undefined };

/** `email: undefined` removes the email. */
function principal(overrides: PrincipalOverrides = {}): Principal {
  const { email, ...rest } = {
    issuer: "https://idp.test",
    subject: "alice",
    email: "Alice@Example.com",
    groups: ["eng"],
    claims: { dept: "sre", roles: ["viewer", "deployer"], level: 3 },
    sessionClaim: { name: "sid", value: "s1" },
    issuedAt: 0,
    expiresAt: 0,
    ...overrides,
  };
  return (email === undefined ? rest : { ...rest, email }) as Principal;
}

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return { method: "GET", path: "/", host: "app.example.com", clientIp: "10.1.2.3", ...overrides };
}

function request(overrides: Partial<CompiledRequest> = {}): CompiledRequest {
  return { methods: [], paths: [], hosts: [], ports: [], ...overrides };
}

function rule(name: string, action: "Allow" | "Deny", overrides: Partial<CompiledRule> = {}): CompiledRule {
  return { name, action, identities: [], requests: [], sourceCIDRs: [], schedule: null, ...overrides };
}

function policy(name: string, rules: CompiledRule[], namespace = "shop"): CompiledPolicy {
  return {
    v: 1,
    namespace,
    name,
    uid: `uid-${name}`,
    generation: 1,
    hash: "h",
    selector: { matchLabels: {}, matchExpressions: [] },
    rules,
    session: { idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 28800 },
    failureMode: "Strict",
  };
}

const NOW = new Date("2026-11-23T10:30:00Z"); // a Monday
const allow = { defaultAction: "Deny" } as const;

/** Allowed? for a single rule `r` (plus an allow-all when r is a deny, to see the deny win). */
function decide(r: CompiledRule, f: Partial<RequestFacts> = {}, p: PrincipalOverrides = {}, now = NOW): boolean {
  const rules = r.action === "Deny" ? [r, rule("everyone", "Allow")] : [r];
  return authorize(principal(p), facts(f), [policy("web", rules)], now, allow).allowed;
}

describe("authorize: policies and default action", () => {
  it("denies with NO_POLICY when nothing selects the workload and the default is deny", () => {
    expect(authorize(principal(), facts(), [], NOW, { defaultAction: "Deny" })).toEqual({
      allowed: false,
      code: "NO_POLICY",
      reason: "No access policy selects this workload.",
    });
  });

  it("allows when nothing selects the workload and the default is allow", () => {
    expect(authorize(principal(), facts(), [], NOW, { defaultAction: "Allow" }).allowed).toBe(true);
  });

  it("names the policy and rule that allowed", () => {
    const d = authorize(principal(), facts(), [policy("web", [rule("eng-read", "Allow", { identities: [{ kind: "group", value: "eng" }] })])], NOW, allow);
    expect(d).toEqual({ allowed: true, policy: "shop/web", rule: "eng-read" });
  });

  it("refuses with NO_MATCHING_RULE when policies select the workload but none allows", () => {
    const d = authorize(principal(), facts(), [policy("web", [rule("ops", "Allow", { identities: [{ kind: "group", value: "ops" }] })])], NOW, allow);
    expect(d).toMatchObject({ allowed: false, code: "NO_MATCHING_RULE" });
  });

  it("lets a deny in one policy win over an allow in another, naming the deny", () => {
    const permissive = policy("a-permissive", [rule("everyone", "Allow")]);
    const strict = policy("b-strict", [rule("no-admin", "Deny", { requests: [request({ paths: [{ kind: "prefix", value: "/admin/" }] })] })]);
    const d = authorize(principal(), facts({ path: "/admin/users" }), [permissive, strict], NOW, allow);
    expect(d).toEqual({
      allowed: false,
      code: "DENIED_BY_RULE",
      reason: 'Denied by rule "no-admin" of policy shop/b-strict.',
      policy: "shop/b-strict",
      rule: "no-admin",
    });
    expect(authorize(principal(), facts({ path: "/shop" }), [permissive, strict], NOW, allow)).toMatchObject({ allowed: true, policy: "shop/a-permissive" });
  });
});

describe("authorize: identity matchers", () => {
  const cases: [string, CompiledIdentity, PrincipalOverrides, boolean][] = [
    ["subject", { kind: "subject", value: "alice" }, {}, true],
    ["subject is case-sensitive", { kind: "subject", value: "Alice" }, {}, false],
    ["email, case-insensitive", { kind: "email", value: "alice@example.com" }, {}, true],
    ["email of someone else", { kind: "email", value: "bob@example.com" }, {}, false],
    ["email when the token has none", { kind: "email", value: "alice@example.com" }, { email: undefined }, false],
    ["emailDomain", { kind: "emailDomain", value: "example.com" }, {}, true],
    ["emailDomain is not a suffix match", { kind: "emailDomain", value: "ample.com" }, {}, false],
    ["emailDomain of a sub-domain", { kind: "emailDomain", value: "example.com" }, { email: "a@evil.example.com" }, false],
    ["emailDomain uses the last @", { kind: "emailDomain", value: "example.com" }, { email: "a@evil.test@example.com" }, true],
    ["group", { kind: "group", value: "eng" }, {}, true],
    ["group not held", { kind: "group", value: "admins" }, {}, false],
    ["string claim equal", { kind: "claim", name: "dept", values: ["hr", "sre"] }, {}, true],
    ["string claim different", { kind: "claim", name: "dept", values: ["hr"] }, {}, false],
    ["array claim contains", { kind: "claim", name: "roles", values: ["deployer"] }, {}, true],
    ["array claim lacks", { kind: "claim", name: "roles", values: ["admin"] }, {}, false],
    ["numeric claim never matches a string", { kind: "claim", name: "level", values: ["3"] }, {}, false],
    ["missing claim", { kind: "claim", name: "nope", values: ["x"] }, {}, false],
  ];
  it.each(cases)("%s", (_name, identity, p, expected) => {
    const d = authorize(principal(p), facts(), [policy("web", [rule("r", "Allow", { identities: [identity] })])], NOW, allow);
    expect(d.allowed).toBe(expected);
  });

  it("treats identities as any-of", () => {
    const r = rule("r", "Allow", {
      identities: [
        { kind: "group", value: "ops" },
        { kind: "subject", value: "alice" },
      ],
    });
    expect(decide(r)).toBe(true);
  });
});

describe("authorize: request matchers", () => {
  const r = (req: Partial<CompiledRequest>, action: "Allow" | "Deny" = "Allow") => rule("r", action, { requests: [request(req)] });

  it.each([
    ["method listed", { methods: ["GET", "HEAD"] }, {}, true],
    ["method not listed", { methods: ["POST"] }, {}, false],
    ["exact path", { paths: [{ kind: "exact", value: "/a/b" }] }, { path: "/a/b" }, true],
    ["exact path is exact for allow", { paths: [{ kind: "exact", value: "/a/b" }] }, { path: "/a/b/" }, false],
    ["exact path is case-sensitive for allow", { paths: [{ kind: "exact", value: "/a/b" }] }, { path: "/A/b" }, false],
    ["prefix covers children", { paths: [{ kind: "prefix", value: "/api/" }] }, { path: "/api/v1/x" }, true],
    ["prefix covers the directory itself", { paths: [{ kind: "prefix", value: "/api/" }] }, { path: "/api" }, true],
    ["prefix respects segment boundaries", { paths: [{ kind: "prefix", value: "/api" }] }, { path: "/apiary" }, false],
    ["prefix with a trailing star", { paths: [{ kind: "prefix", value: "/api/*" }] }, { path: "/api/x" }, true],
    ["any path", { paths: [{ kind: "any" }] }, { path: "/whatever" }, true],
    ["exact host", { hosts: ["app.example.com"] }, {}, true],
    ["host with trailing dot and case", { hosts: ["app.example.com"] }, { host: "APP.example.com." }, true],
    ["wildcard host", { hosts: ["*.example.com"] }, {}, true],
    ["wildcard does not match the apex", { hosts: ["*.example.com"] }, { host: "example.com" }, false],
    ["wildcard does not match a look-alike", { hosts: ["*.example.com"] }, { host: "evilexample.com" }, false],
    ["CONNECT to a listed port", { ports: [22] }, { method: "CONNECT", path: "", port: 22 }, true],
    ["CONNECT to another port", { ports: [22] }, { method: "CONNECT", path: "", port: 5432 }, false],
    ["ports never match plain HTTP", { ports: [80] }, { method: "GET" }, false],
    ["paths never match a tunnel", { paths: [{ kind: "any" }] }, { method: "CONNECT", path: "", port: 22 }, false],
    ["a method-only matcher covers CONNECT", { methods: ["CONNECT"] }, { method: "CONNECT", path: "", port: 22 }, true],
    ["an empty matcher covers tunnels", {}, { method: "CONNECT", path: "", port: 22 }, true],
  ] as const)("allow: %s", (_name, req, f, expected) => {
    expect(decide(r(req as Partial<CompiledRequest>), f)).toBe(expected);
  });

  it.each([
    ["/admin", "/admin", false],
    ["/ADMIN", "/admin", false],
    ["/admin/", "/admin", false],
    ["/Admin/x", "/admin/", false],
    ["/administrator", "/admin", true],
    ["/public", "/admin", true],
  ])("deny rules fold case and one trailing slash: %s vs %s", (path, denied, allowed) => {
    const kind = denied.endsWith("/") ? "prefix" : "exact";
    expect(decide(r({ paths: [{ kind, value: denied }] }, "Deny"), { path })).toBe(allowed);
  });
});

describe("authorize: source CIDRs", () => {
  const r = (cidrs: string[], action: "Allow" | "Deny" = "Allow") => rule("r", action, { sourceCIDRs: cidrs });
  it.each([
    ["IPv4 inside", ["10.0.0.0/8"], "10.1.2.3", true],
    ["IPv4 outside", ["10.0.0.0/8"], "11.1.2.3", false],
    ["IPv4-mapped IPv6 client", ["10.0.0.0/8"], "::ffff:10.1.2.3", true],
    ["IPv6 inside", ["2001:db8::/32"], "2001:db8:0:1::5", true],
    ["IPv6 outside", ["2001:db8::/32"], "2001:db9::1", false],
    ["single address", ["192.0.2.7/32"], "192.0.2.7", true],
    ["any-of", ["192.0.2.0/24", "10.0.0.0/8"], "10.9.9.9", true],
    ["junk client IP never allowed", ["0.0.0.0/0"], "not-an-ip", false],
    ["junk CIDR never allows", ["300.1.1.1/24"], "10.1.2.3", false],
  ])("allow: %s", (_name, cidrs, ip, expected) => {
    expect(decide(r(cidrs), { clientIp: ip })).toBe(expected);
  });

  it("a deny rule counts an undecidable source as a match (fail safe)", () => {
    expect(decide(r(["10.0.0.0/8"], "Deny"), { clientIp: "not-an-ip" })).toBe(false);
    expect(decide(r(["bogus"], "Deny"), { clientIp: "192.0.2.1" })).toBe(false);
    expect(decide(r(["10.0.0.0/8"], "Deny"), { clientIp: "192.0.2.1" })).toBe(true);
  });
});

describe("authorize: schedules", () => {
  const business = (timeZone: string, action: "Allow" | "Deny" = "Allow") =>
    rule("r", action, { schedule: { timeZone, windows: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri"], startMinute: 9 * 60, endMinute: 17 * 60 }] } });

  it("reads weekday and time in the policy's time zone", () => {
    expect(localTime(new Date("2026-11-23T10:30:00Z"), "UTC")).toEqual({ day: "Mon", minute: 630 });
    expect(localTime(new Date("2026-11-23T10:30:00Z"), "Asia/Tokyo")).toEqual({ day: "Mon", minute: 19 * 60 + 30 });
    expect(localTime(new Date("2026-11-23T03:00:00Z"), "America/Los_Angeles")).toEqual({ day: "Sun", minute: 19 * 60 });
    expect(localTime(new Date("2026-11-23T00:00:00Z"), "UTC")).toEqual({ day: "Mon", minute: 0 });
  });

  it("stays right for more time zones than it keeps formatters for", () => {
    const at = new Date("2026-11-23T10:30:00Z");
    const zones = Intl.supportedValuesOf("timeZone").slice(0, 300);
    for (const zone of zones) localTime(at, zone);
    expect(localTime(at, "Asia/Tokyo")).toEqual({ day: "Mon", minute: 19 * 60 + 30 });
    expect(localTime(at, "Nowhere/Atlantis")).toBeUndefined();
    for (const zone of zones) localTime(at, zone);
    expect(localTime(at, "Nowhere/Atlantis")).toBeUndefined();
    expect(localTime(at, "UTC")).toEqual({ day: "Mon", minute: 630 });
  });

  it.each([
    ["inside the window in UTC", "UTC", "2026-11-23T10:30:00Z", true],
    ["after the window in Tokyo (19:30)", "Asia/Tokyo", "2026-11-23T10:30:00Z", false],
    ["Sunday evening in Los Angeles", "America/Los_Angeles", "2026-11-23T03:00:00Z", false],
    ["start is inclusive", "UTC", "2026-11-23T09:00:00Z", true],
    ["end is exclusive", "UTC", "2026-11-23T17:00:00Z", false],
    ["Saturday", "UTC", "2026-11-28T10:00:00Z", false],
    ["across a DST change (Berlin, 09:30 local in summer)", "Europe/Berlin", "2026-07-06T07:30:00Z", true],
    ["unknown time zone never allows", "Mars/Olympus", "2026-11-23T10:30:00Z", false],
  ])("allow: %s", (_name, tz, at, expected) => {
    expect(decide(business(tz), {}, {}, new Date(at))).toBe(expected);
  });

  it("a deny rule with an unknown time zone denies (fail safe)", () => {
    expect(decide(business("Mars/Olympus", "Deny"))).toBe(false);
  });
});

describe("authorize: a rule is the AND of its matchers", () => {
  const r = rule("eng-api-office", "Allow", {
    identities: [{ kind: "group", value: "eng" }],
    requests: [request({ methods: ["GET"], paths: [{ kind: "prefix", value: "/api/" }] })],
    sourceCIDRs: ["10.0.0.0/8"],
  });
  const cases: [string, Partial<RequestFacts>, PrincipalOverrides, boolean][] = [
    ["all match", {}, {}, true],
    ["wrong group", {}, { groups: ["sales"] }, false],
    ["wrong method", { method: "POST" }, {}, false],
    ["wrong path", { path: "/web" }, {}, false],
    ["wrong source", { clientIp: "192.0.2.1" }, {}, false],
  ];
  it.each(cases)("%s", (_name, f, p, expected) => {
    expect(decide(r, { path: "/api/x", ...f }, p)).toBe(expected);
  });
});
