import { describe, expect, it } from "vitest";
import { decodeContinue, encodeContinue } from "../../../../operator/sessions-api/core/continue-token.ts";

describe("continue tokens", () => {
  const position = { rv: 1_780_000_000_000_123, namespace: "shop", name: "s_abc" };

  it("round-trip the position for the same scope and selector", () => {
    const token = encodeContinue(position, "shop", "user=alice");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeContinue(token, "shop", "user=alice")).toEqual({ ok: true, position });
  });

  it("refuse a token issued for another namespace or selector", () => {
    const token = encodeContinue(position, "shop", "");
    for (const [scope, selector] of [
      ["web", ""],
      ["", ""],
      ["shop", "state=Ended"],
    ] as const) {
      const d = decodeContinue(token, scope, selector);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.message).toContain("another namespace or field selector");
    }
  });

  it.each([
    "",
    "!!!",
    "bm90LWpzb24",
    Buffer.from('{"v":2,"rv":1,"ns":"a","n":"b","q":"x"}').toString("base64url"),
    Buffer.from('{"v":1,"rv":"1","ns":"a","n":"b","q":"x"}').toString("base64url"),
    "a".repeat(2000),
  ])("refuse garbage %#", (token) => {
    const d = decodeContinue(token, "shop", "");
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.message).toContain("invalid continue token");
  });
});
