import { describe, expect, it } from "vitest";
import type { CompiledPolicy } from "../../../../operator/api/compiled-policy.ts";
import type { AccessPolicy } from "../../../../operator/api/v1alpha1/index.ts";
import { ALL_REASONS, compileAccessPolicy, hashCompiledPolicy, PROBLEM_REASONS, WARNING_REASONS, type Problem } from "../../../../operator/policy/compile.ts";
import {
  accessPolicy,
  allow,
  deny,
  inNamespace,
  staffCanRead,
  withFailureMode,
  withGeneration,
  withRule,
  withSelector,
  withSession,
  withUid,
} from "../../../builders/access-policy.ts";

function compiled(ap: AccessPolicy): CompiledPolicy {
  const result = compileAccessPolicy(ap);
  if (!result.ok) throw new Error(`expected the policy to compile: ${JSON.stringify(result.problems)}`);
  return result.policy;
}

function warningsOf(ap: AccessPolicy): Problem[] {
  const result = compileAccessPolicy(ap);
  if (!result.ok) throw new Error(`expected the policy to compile: ${JSON.stringify(result.problems)}`);
  return result.warnings;
}

function problemsOf(ap: AccessPolicy): Problem[] {
  const result = compileAccessPolicy(ap);
  if (result.ok) throw new Error("expected the policy to be rejected");
  return result.problems;
}

const reasons = (list: Problem[]): string[] => list.map((p) => p.reason);

describe("compileAccessPolicy: defaults and identity", () => {
  it("applies the documented defaults", () => {
    const policy = compiled(accessPolicy("web", withRule(staffCanRead)));
    expect(policy).toMatchObject({
      v: 1,
      namespace: "default",
      name: "web",
      uid: "uid-web",
      generation: 1,
      session: { idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 28800 },
      failureMode: "Strict",
    });
    expect(policy.hash).toMatch(/^[0-9a-f]{64}$/u);
  });

  it("keeps explicit session settings and failure mode", () => {
    const policy = compiled(
      accessPolicy("web", withRule(staffCanRead), withSession({ idleTimeout: "15m", absoluteTimeout: "1h30m" }), withFailureMode("BestEffort")),
    );
    expect(policy.session).toEqual({ idleTimeoutSeconds: 900, absoluteTimeoutSeconds: 5400 });
    expect(policy.failureMode).toBe("BestEffort");
  });

  it("the hash covers everything but itself", () => {
    const policy = compiled(accessPolicy("web", withRule(staffCanRead)));
    expect(hashCompiledPolicy(policy)).toBe(policy.hash);
    expect(hashCompiledPolicy({ ...policy, hash: "anything" })).toBe(policy.hash);
  });
});

describe("compileAccessPolicy: normalisation", () => {
  it("lower-cases emails, domains and hosts, and sorts identities", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(
          allow("people", {
            identities: [{ email: "Alice@Example.COM" }, { emailDomain: "@Corp.Example" }, { subject: "User-1" }, { group: "Ops" }],
            requests: [{ hosts: ["API.Example.com.", "*.Internal.Example"] }],
          }),
        ),
      ),
    );
    const [rule] = policy.rules;
    expect(rule?.identities).toEqual([
      { kind: "email", value: "alice@example.com" },
      { kind: "emailDomain", value: "corp.example" },
      { kind: "group", value: "Ops" },
      { kind: "subject", value: "User-1" },
    ]);
    expect(rule?.requests[0]?.hosts).toEqual(["*.internal.example", "api.example.com"]);
  });

  it("upper-cases, sorts and de-duplicates methods", () => {
    const policy = compiled(accessPolicy("web", withRule(allow("rw", { requests: [{ methods: ["POST", "get" as "GET", "GET", "DELETE"] }] }))));
    expect(policy.rules[0]?.requests[0]?.methods).toEqual(["DELETE", "GET", "POST"]);
  });

  it("parses paths into any, prefix and exact matches", () => {
    const policy = compiled(accessPolicy("web", withRule(allow("docs", { requests: [{ paths: ["/docs/*", "/health", "/health"] }] }))));
    expect(policy.rules[0]?.requests[0]?.paths).toEqual([
      { kind: "exact", value: "/health" },
      { kind: "prefix", value: "/docs/" },
    ]);
    const any = compiled(accessPolicy("web", withRule(allow("all", { requests: [{ paths: ["/a", "*"] }] }))));
    expect(any.rules[0]?.requests[0]?.paths).toEqual([{ kind: "any" }]);
  });

  it("canonicalises CIDRs (IPv6 text form, bare hosts, IPv4-mapped) and de-duplicates them", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(
          allow("office", {
            sourceCIDRs: ["10.0.0.0/8", "10.0.0.0/8", "2001:DB8:0:0:0:0:0:0/64", "192.168.1.7", "::ffff:172.16.0.0/108"],
          }),
        ),
      ),
    );
    expect(policy.rules[0]?.sourceCIDRs).toEqual(["10.0.0.0/8", "172.16.0.0/12", "192.168.1.7/32", "2001:db8::/64"]);
  });

  it("puts deny rules first, then allow rules, each sorted by name", () => {
    const policy = compiled(accessPolicy("web", withRule(allow("b"), deny("z"), allow("a"), deny("m"))));
    expect(policy.rules.map((r) => `${r.action}:${r.name}`)).toEqual(["Deny:m", "Deny:z", "Allow:a", "Allow:b"]);
  });

  it("converts schedules to minutes with the canonical zone name and ordered days", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(
          allow("office-hours", {
            schedule: {
              timeZone: "europe/paris",
              windows: [
                { days: ["Fri", "Mon", "Mon"], start: "09:00", end: "17:30" },
                { start: "22:00", end: "24:00" },
              ],
            },
          }),
        ),
      ),
    );
    expect(policy.rules[0]?.schedule).toEqual({
      timeZone: "Europe/Paris",
      windows: [
        { days: ["Mon", "Fri"], startMinute: 540, endMinute: 1050 },
        { days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], startMinute: 1320, endMinute: 1440 },
      ],
    });
  });

  it("defaults the schedule time zone to UTC", () => {
    const policy = compiled(accessPolicy("web", withRule(allow("w", { schedule: { windows: [{ start: "00:00", end: "01:00" }] } }))));
    expect(policy.rules[0]?.schedule?.timeZone).toBe("UTC");
  });

  it("merges claim matchers with the same name and sorts their values", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(
          allow("claims", {
            identities: [{ claim: { name: "team", values: ["b", "a"] } }, { claim: { name: "team", values: ["c", "a"] } }],
          }),
        ),
      ),
    );
    expect(policy.rules[0]?.identities).toEqual([{ kind: "claim", name: "team", values: ["a", "b", "c"] }]);
  });

  it("normalises the selector", () => {
    const policy = compiled(
      accessPolicy(
        "web",
        withRule(staffCanRead),
        withSelector({
          matchLabels: { tier: "web", app: "shop" },
          matchExpressions: [
            { key: "env", operator: "In", values: ["prod", "dev", "prod"] },
            { key: "canary", operator: "DoesNotExist" },
          ],
        }),
      ),
    );
    expect(Object.keys(policy.selector.matchLabels)).toEqual(["app", "tier"]);
    expect(policy.selector.matchExpressions).toEqual([
      { key: "canary", operator: "DoesNotExist", values: [] },
      { key: "env", operator: "In", values: ["dev", "prod"] },
    ]);
  });
});

describe("compileAccessPolicy: content hash", () => {
  const original = (): AccessPolicy =>
    accessPolicy(
      "web",
      withRule(
        allow("staff", {
          identities: [{ group: "staff" }, { email: "a@x.io" }],
          requests: [
            { methods: ["GET", "HEAD"], paths: ["/a", "/b/*"], hosts: ["a.example", "b.example"] },
            { methods: ["CONNECT"], ports: [22, 5432] },
          ],
          sourceCIDRs: ["10.0.0.0/8", "192.168.0.0/16"],
        }),
        deny("contractors", { identities: [{ group: "contractors" }] }),
      ),
    );

  it("is identical for an unchanged spec", () => {
    expect(compiled(original()).hash).toBe(compiled(original()).hash);
  });

  it("is identical when lists are reordered, re-cased or repeated", () => {
    const reordered = accessPolicy(
      "web",
      withRule(
        deny("contractors", { identities: [{ group: "contractors" }] }),
        allow("staff", {
          identities: [{ email: "A@X.io" }, { group: "staff" }, { group: "staff" }],
          requests: [
            { methods: ["CONNECT"], ports: [5432, 22, 22] },
            { methods: ["HEAD", "GET"], paths: ["/b/*", "/a"], hosts: ["B.example", "a.example"] },
          ],
          sourceCIDRs: ["192.168.0.0/16", "10.0.0.0/8", "10.0.0.0/8"],
        }),
      ),
    );
    expect(compiled(reordered)).toEqual(compiled(original()));
  });

  it.each<[string, (ap: AccessPolicy) => AccessPolicy]>([
    [
      "a method added",
      (ap) =>
        withRuleEdit(ap, 0, {
          requests: [
            { methods: ["GET", "HEAD", "POST"], paths: ["/a", "/b/*"], hosts: ["a.example", "b.example"] },
            { methods: ["CONNECT"], ports: [22, 5432] },
          ],
        }),
    ],
    ["an identity changed", (ap) => withRuleEdit(ap, 0, { identities: [{ group: "staff" }, { email: "b@x.io" }] })],
    ["a CIDR removed", (ap) => withRuleEdit(ap, 0, { sourceCIDRs: ["10.0.0.0/8"] })],
    ["a schedule added", (ap) => withRuleEdit(ap, 0, { schedule: { windows: [{ start: "09:00", end: "17:00" }] } })],
    ["the action flipped", (ap) => withRuleEdit(ap, 1, { action: "Allow" })],
    ["a rule renamed", (ap) => withRuleEdit(ap, 1, { name: "vendors" })],
    ["the idle timeout changed", withSession({ idleTimeout: "10m" })],
    ["the failure mode changed", withFailureMode("BestEffort")],
    ["the selector changed", withSelector({ matchLabels: { app: "other" } })],
    ["the namespace changed", inNamespace("prod")],
    ["the generation changed", withGeneration(2)],
    ["the uid changed (object re-created)", withUid("uid-2")],
  ])("changes when %s", (_label, change) => {
    expect(compiled(change(original())).hash).not.toBe(compiled(original()).hash);
  });
});

function withRuleEdit(ap: AccessPolicy, index: number, edit: Partial<AccessPolicy["spec"]["rules"][number]>): AccessPolicy {
  const rules = ap.spec.rules.map((r, i) => (i === index ? { ...r, ...edit } : r));
  return { ...ap, spec: { ...ap.spec, rules } };
}

describe("compileAccessPolicy: problems (Accepted=False)", () => {
  it("rejects an idle timeout longer than the absolute timeout", () => {
    const problems = problemsOf(accessPolicy("web", withRule(staffCanRead), withSession({ idleTimeout: "9h" })));
    expect(problems).toEqual([expect.objectContaining({ reason: "IdleExceedsAbsolute", field: "spec.session.idleTimeout" })]);
  });

  it.each(["5 parsecs", "0", "-1h", "9999999h", "1.5s"])("rejects the duration %j", (idleTimeout) => {
    expect(reasons(problemsOf(accessPolicy("web", withRule(staffCanRead), withSession({ idleTimeout }))))).toEqual(["InvalidDuration"]);
  });

  it("rejects a rule whose only request entries can never match", () => {
    const problems = problemsOf(
      accessPolicy(
        "web",
        withRule(
          allow("ssh", {
            requests: [
              { methods: ["GET"], ports: [22] },
              { methods: ["CONNECT"], paths: ["/x"] },
            ],
          }),
        ),
      ),
    );
    expect(problems).toEqual([expect.objectContaining({ reason: "RuleNeverMatches", field: "spec.rules[0].requests" })]);
  });

  it("rejects explicitly empty matcher lists, which match nothing", () => {
    expect(reasons(problemsOf(accessPolicy("web", withRule(allow("none", { identities: [] })))))).toEqual(["RuleNeverMatches"]);
    expect(reasons(problemsOf(accessPolicy("web", withRule(allow("none", { sourceCIDRs: [] })))))).toEqual(["RuleNeverMatches"]);
  });

  it("rejects a schedule window that never occurs", () => {
    const never = (windows: NonNullable<AccessPolicy["spec"]["rules"][number]["schedule"]>["windows"]) =>
      reasons(problemsOf(accessPolicy("web", withRule(allow("w", { schedule: { windows } })))));
    expect(never([{ start: "17:00", end: "09:00" }])).toEqual(["ScheduleNeverMatches"]);
    expect(never([{ start: "09:00", end: "09:00" }])).toEqual(["ScheduleNeverMatches"]);
    expect(never([{ days: [], start: "09:00", end: "10:00" }])).toEqual(["ScheduleNeverMatches"]);
    expect(never([])).toEqual(["ScheduleNeverMatches"]);
    expect(never([{ start: "9:00", end: "25:00" }])).toEqual(["InvalidTimeWindow"]);
  });

  it("rejects an unknown IANA time zone", () => {
    const problems = problemsOf(
      accessPolicy("web", withRule(allow("w", { schedule: { timeZone: "Mars/Olympus_Mons", windows: [{ start: "09:00", end: "17:00" }] } }))),
    );
    expect(problems).toEqual([expect.objectContaining({ reason: "UnknownTimeZone", field: "spec.rules[0].schedule.timeZone" })]);
  });

  it.each<[string, AccessPolicy["spec"]["rules"][number], string, string]>([
    ["two identity kinds in one entry", allow("x", { identities: [{ email: "a@b.c", group: "g" }] }), "InvalidIdentity", "spec.rules[0].identities[0]"],
    ["an empty identity entry", allow("x", { identities: [{}] }), "InvalidIdentity", "spec.rules[0].identities[0]"],
    ["an email without @", allow("x", { identities: [{ email: "alice" }] }), "InvalidIdentity", "spec.rules[0].identities[0].email"],
    ["a subject with a NUL", allow("x", { identities: [{ subject: "a\u0000b" }] }), "InvalidIdentity", "spec.rules[0].identities[0].subject"],
    [
      "a claim without values",
      allow("x", { identities: [{ claim: { name: "team", values: [] } }] }),
      "InvalidIdentity",
      "spec.rules[0].identities[0].claim.values",
    ],
    ["an unknown method", allow("x", { requests: [{ methods: ["TRACE" as "GET"] }] }), "InvalidMethod", "spec.rules[0].requests[0].methods[0]"],
    ["a path with ..", allow("x", { requests: [{ paths: ["/a/../admin"] }] }), "InvalidPath", "spec.rules[0].requests[0].paths[0]"],
    ["a relative path", allow("x", { requests: [{ paths: ["admin"] }] }), "InvalidPath", "spec.rules[0].requests[0].paths[0]"],
    ["a path with a double slash", allow("x", { requests: [{ paths: ["//admin"] }] }), "InvalidPath", "spec.rules[0].requests[0].paths[0]"],
    ["a wildcard inside a path", allow("x", { requests: [{ paths: ["/a*/b"] }] }), "InvalidPath", "spec.rules[0].requests[0].paths[0]"],
    ["a host with a port", allow("x", { requests: [{ hosts: ["a.example:443"] }] }), "InvalidHost", "spec.rules[0].requests[0].hosts[0]"],
    ["a port out of range", allow("x", { requests: [{ methods: ["CONNECT"], ports: [70000] }] }), "InvalidPort", "spec.rules[0].requests[0].ports[0]"],
    ["a /33 prefix", allow("x", { sourceCIDRs: ["10.0.0.0/33"] }), "InvalidCIDR", "spec.rules[0].sourceCIDRs[0]"],
    ["an octet above 255", allow("x", { sourceCIDRs: ["300.1.1.1/24"] }), "InvalidCIDR", "spec.rules[0].sourceCIDRs[0]"],
    ["a host name as CIDR", allow("x", { sourceCIDRs: ["example.com"] }), "InvalidCIDR", "spec.rules[0].sourceCIDRs[0]"],
    ["a CIDR with host bits set", allow("x", { sourceCIDRs: ["10.0.0.1/8"] }), "InvalidCIDR", "spec.rules[0].sourceCIDRs[0]"],
    ["an IPv6 CIDR with host bits set", allow("x", { sourceCIDRs: ["2001:db8::1/32"] }), "InvalidCIDR", "spec.rules[0].sourceCIDRs[0]"],
    ["an encoded dot in a path", allow("x", { requests: [{ paths: ["/a/%2E%2e/admin"] }] }), "InvalidPath", "spec.rules[0].requests[0].paths[0]"],
    ["a rule name that is not a DNS label", allow("Not_A_Label"), "InvalidRuleName", "spec.rules[0].name"],
  ])("rejects %s", (_label, rule, reason, field) => {
    expect(problemsOf(accessPolicy("web", withRule(rule)))).toEqual([expect.objectContaining({ reason, field })]);
  });

  it("rejects duplicate rule names", () => {
    expect(problemsOf(accessPolicy("web", withRule(allow("same"), deny("same"))))).toEqual([
      expect.objectContaining({ reason: "DuplicateRuleName", field: "spec.rules[1].name" }),
    ]);
  });

  it("rejects a policy with no rules and an invalid selector", () => {
    const problems = problemsOf(accessPolicy("web", withSelector({ matchExpressions: [{ key: "env", operator: "In" }] })));
    expect(reasons(problems).sort()).toEqual(["InvalidSelector", "NoRules"]);
  });

  it("reports every problem at once, with a sentence each", () => {
    const problems = problemsOf(accessPolicy("web", withRule(allow("a", { sourceCIDRs: ["x"] }), allow("b", { requests: [{ paths: ["y"] }] }))));
    expect(reasons(problems)).toEqual(["InvalidCIDR", "InvalidPath"]);
    for (const p of problems) expect(p.message.length).toBeGreaterThan(10);
  });
});

describe("compileAccessPolicy: warnings (published anyway)", () => {
  it("drops a request entry that can never match, with a warning", () => {
    const ap = accessPolicy(
      "web",
      withRule(
        allow("mixed", {
          requests: [
            { methods: ["GET"], paths: ["/a"] },
            { methods: ["GET"], ports: [22] },
          ],
        }),
      ),
    );
    expect(compiled(ap).rules[0]?.requests).toEqual([{ methods: ["GET"], paths: [{ kind: "exact", value: "/a" }], hosts: [], ports: [] }]);
    expect(warningsOf(ap)).toEqual([expect.objectContaining({ reason: "RequestNeverMatches", field: "spec.rules[0].requests[1]" })]);
  });

  it("accepts ports with CONNECT and paths with '*'", () => {
    const ap = accessPolicy("web", withRule(allow("tunnel", { requests: [{ methods: ["CONNECT"], ports: [22], paths: ["*"] }] })));
    expect(warningsOf(ap)).toEqual([]);
  });

  it("warns about an Allow rule shadowed by a Deny rule with identical matchers", () => {
    const matchers = { identities: [{ group: "ops" }], requests: [{ methods: ["GET" as const] }] };
    const ap = accessPolicy("web", withRule(staffCanRead, allow("ops", matchers), deny("no-ops", matchers)));
    expect(warningsOf(ap)).toEqual([expect.objectContaining({ reason: "RuleShadowed", field: "spec.rules[1]" })]);
  });

  it("warns about every Allow rule when a Deny rule matches everything", () => {
    const ap = accessPolicy("web", withRule(staffCanRead, deny("lockdown")));
    expect(warningsOf(ap)).toEqual([expect.objectContaining({ reason: "RuleShadowed", field: "spec.rules[0]" })]);
  });

  it("warns that a policy without Allow rules denies everything", () => {
    expect(warningsOf(accessPolicy("web", withRule(deny("contractors", { identities: [{ group: "c" }] }))))).toEqual([
      expect.objectContaining({ reason: "NoAllowRule", field: "spec.rules" }),
    ]);
  });
});

describe("reason constants", () => {
  it("are CamelCase, unique and listed once", () => {
    expect(new Set(ALL_REASONS).size).toBe(ALL_REASONS.length);
    for (const reason of ALL_REASONS) expect(reason).toMatch(/^[A-Z][A-Za-z]+$/u);
    expect(ALL_REASONS).toContain(PROBLEM_REASONS.IdleExceedsAbsolute);
    expect(ALL_REASONS).toContain(WARNING_REASONS.NoAllowRule);
  });
});
