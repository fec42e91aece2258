import { describe, expect, it } from "vitest";
import { gateToken } from "../../../../sidecar/auth/token-gate.ts";
import { SidecarError } from "../../../../sidecar/errors.ts";

const seg = (value: unknown): string => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const token = (header: unknown, payload: unknown = { sub: "a" }, sig = "c2ln"): string => `${seg(header)}.${seg(payload)}.${sig}`;

function codeOf(input: string, max?: number): string {
  try {
    gateToken(input, max);
  } catch (err) {
    if (err instanceof SidecarError) return err.code;
    throw err;
  }
  return "PASSED";
}

describe("token format gate", () => {
  it("passes a compact JWS and returns its header and payload segment", () => {
    const t = token({ alg: "ES256", kid: "k1" });
    const gated = gateToken(t);
    expect(gated.header).toEqual({ alg: "ES256", kid: "k1" });
    expect(gated.payloadSegment).toBe(t.split(".")[1]);
  });

  it.each([
    ["empty", "", "TOKEN_MISSING"],
    ["two segments", `${seg({ alg: "ES256" })}.${seg({})}`, "TOKEN_MALFORMED"],
    ["four segments", `${token({ alg: "ES256" })}.x`, "TOKEN_MALFORMED"],
    ["five segments (JWE)", "a.b.c.d.e", "TOKEN_INVALID"],
    ["padding", `${token({ alg: "ES256" })}=`, "TOKEN_MALFORMED"],
    ["plus and slash", token({ alg: "ES256" }, {}, "ab+/cd"), "TOKEN_MALFORMED"],
    ["a space", `${token({ alg: "ES256" })} `, "TOKEN_MALFORMED"],
    ["a newline", `${token({ alg: "ES256" })}\n`, "TOKEN_MALFORMED"],
    ["JSON serialisation", JSON.stringify({ protected: "x", payload: "y", signature: "z" }), "TOKEN_MALFORMED"],
    ["empty signature", token({ alg: "none" }, {}, ""), "TOKEN_MALFORMED"],
    ["header not JSON", `${seg("not json")}.${seg({})}.c2ln`, "TOKEN_MALFORMED"],
    ["header a JSON array", token(["alg", "ES256"]), "TOKEN_MALFORMED"],
    ["header null", token(null), "TOKEN_MALFORMED"],
    ["no alg", token({ typ: "JWT" }), "TOKEN_MALFORMED"],
    ["numeric alg", token({ alg: 123 }), "TOKEN_MALFORMED"],
    ["empty alg", token({ alg: "" }), "TOKEN_MALFORMED"],
    ["header invalid UTF-8", `${Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString("base64url")}.${seg({})}.c2ln`, "TOKEN_MALFORMED"],
    ["impossible base64 length", `a.${seg({})}.c2ln`, "TOKEN_MALFORMED"],
  ])("refuses %s", (_name, input, code) => {
    expect(codeOf(input)).toBe(code);
  });

  it("refuses a token longer than the limit, and the limit is configurable", () => {
    const t = token({ alg: "ES256" }, { pad: "x".repeat(200) });
    expect(codeOf(t, 100)).toBe("TOKEN_MALFORMED");
    expect(codeOf(t, 1000)).toBe("PASSED");
    expect(codeOf("a".repeat(100_000))).toBe("TOKEN_MALFORMED");
  });

  it("never quotes the token in its message", () => {
    const t = token({ typ: "JWT" });
    expect(() => gateToken(t)).toThrow(SidecarError);
    try {
      gateToken(t);
    } catch (err) {
      expect((err as Error).message).not.toContain(t.split(".")[0]);
    }
  });
});
