import { describe, expect, it } from "vitest";
import { compileAccessPolicy } from "../../../../operator/policy/compile.ts";
import { compileOnce } from "../../../../operator/policy/compile-once.ts";
import { accessPolicy, allow, withRule, withSession } from "../../../builders/access-policy.ts";

describe("compileOnce", () => {
  it("compiles a policy object once and gives every later caller the same result, equal to compiling it", () => {
    const policy = accessPolicy("web", withRule(allow("staff", { identities: [{ group: "staff" }] })));
    const result = compileOnce(policy);
    expect(result).toEqual(compileAccessPolicy(policy));
    expect(compileOnce(policy)).toBe(result);
  });

  it("compiles a changed policy (the informer's new object) anew, problems included", () => {
    const before = accessPolicy("web", withRule(allow("staff", { identities: [{ group: "staff" }] })));
    const after = accessPolicy("web", withRule(allow("staff", { identities: [{ group: "staff" }] })), withSession({ absoluteTimeout: "soon" }));
    expect(compileOnce(before).ok).toBe(true);
    const changed = compileOnce(after);
    expect(changed).toMatchObject({ ok: false, problems: [{ reason: "InvalidDuration" }] });
  });
});
