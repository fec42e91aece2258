import { describe, expect, it } from "vitest";
import { canonicalSelector, matchesFields, parseFieldSelector, pinnedName } from "../../../../operator/sessions-api/core/field-selector.ts";
import type { SelectableFields } from "../../../../operator/sessions-api/index/render.ts";

const fields: SelectableFields = {
  name: "s_a",
  namespace: "shop",
  subject: "alice",
  email: "alice@example.test",
  groups: ["engineers", "a,b=c"],
  workloads: ["web-0", "web"],
  state: "Active",
  stale: false,
  clientIPs: ["203.0.113.7", "203.0.113.8"],
};

const parsed = (text: string) => {
  const p = parseFieldSelector(text);
  if (!p.ok) throw new Error(p.message);
  return p.selector;
};
const matches = (text: string): boolean => matchesFields(parsed(text), fields);

describe("field selectors on vigilsessions", () => {
  it("accepts =, == and != and needs every term", () => {
    expect(matches("user=alice")).toBe(true);
    expect(matches("user==alice")).toBe(true);
    expect(matches("user!=alice")).toBe(false);
    expect(matches("user=alice,state=Idle")).toBe(false);
    expect(matches("user=alice, state=Active")).toBe(true);
    expect(matches("")).toBe(true);
  });

  it("matches user on the subject or the email, email case-insensitively", () => {
    expect(matches("user=alice@example.test")).toBe(true);
    expect(matches("email=ALICE@Example.TEST")).toBe(true);
    expect(matches("email=alice")).toBe(false);
  });

  it("treats multi-valued fields as 'one of them' for = and 'none of them' for !=", () => {
    expect(matches("group=engineers")).toBe(true);
    expect(matches("group!=engineers")).toBe(false);
    expect(matches("group!=sales")).toBe(true);
    expect(matches("workload=web")).toBe(true);
    expect(matches("workload=web-0")).toBe(true);
    expect(matches("clientIP=203.0.113.8")).toBe(true);
    expect(matches("clientIP!=198.51.100.1")).toBe(true);
  });

  it("unescapes \\, \\= and \\\\ in values", () => {
    expect(matches("group=a\\,b\\=c")).toBe(true);
    expect(parsed("user=x\\\\y")[0]?.value).toBe("x\\y");
  });

  it("matches metadata.name and metadata.namespace, and says which name a selector pins", () => {
    expect(matches("metadata.name=s_a,metadata.namespace=shop")).toBe(true);
    expect(pinnedName(parsed("metadata.name=s_a"))).toBe("s_a");
    expect(pinnedName(parsed("metadata.name!=s_a"))).toBeUndefined();
  });

  it("matches stale and state exactly", () => {
    expect(matches("stale=false")).toBe(true);
    expect(matches("state=Active")).toBe(true);
  });

  it.each([
    ["spec.nodeName=x", 'field label not supported: "spec.nodeName"'],
    ["user", 'invalid field selector term "user"'],
    ["=x", 'invalid field selector term "=x"'],
    ["state=Running", "state must be one of Active, Idle, Ended"],
    ["stale=yes", "stale must be true or false"],
    ["clientIP=not-an-ip", "clientIP must be an IP address"],
    ["user=a\\b", "invalid escape"],
    ["x".repeat(5000), "longer than 4096"],
  ])("refuses %s with a clear message", (text, message) => {
    const p = parseFieldSelector(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });

  it("has a canonical text independent of term order", () => {
    expect(canonicalSelector(parsed("user=a,state=Idle"))).toBe(canonicalSelector(parsed("state=Idle,user==a")));
  });
});
