import { describe, expect, it } from "vitest";
import { checkTokenType, DEFAULT_ALLOWED_TYPES, normaliseType } from "../../../../sidecar/auth/token-type.ts";
import { SidecarError } from "../../../../sidecar/errors.ts";

const defaults = { allowedTypes: new Set(DEFAULT_ALLOWED_TYPES.map(normaliseType)), allowMissingType: true };

function verdict(typ: unknown, policy = defaults): string {
  try {
    checkTokenType(typ, policy);
    return "accepted";
  } catch (err) {
    if (err instanceof SidecarError) return err.code;
    throw err;
  }
}

describe("token type (typ)", () => {
  it("folds case and the optional application/ prefix, and nothing else", () => {
    expect(normaliseType("AT+JWT")).toBe("at+jwt");
    expect(normaliseType("application/at+jwt")).toBe("at+jwt");
    expect(normaliseType("Application/JWT")).toBe("jwt");
    expect(normaliseType("text/jwt")).toBe("text/jwt");
    expect(normaliseType("application/x/jwt")).toBe("application/x/jwt");
  });

  it.each(["at+jwt", "AT+JWT", "application/at+jwt", "JWT", "jwt", "application/jwt", undefined])("accepts %j by default", (typ) => {
    expect(verdict(typ)).toBe("accepted");
  });

  it.each([
    "logout+jwt",
    "secevent+jwt",
    "application/logout+jwt",
    "SECEVENT+JWT",
    "token-introspection+jwt",
    "dpop+jwt",
    "JOSE",
    "text/jwt",
    "",
    1,
    null,
    ["JWT"],
  ])("refuses %j by default with TOKEN_WRONG_TYPE", (typ) => {
    expect(verdict(typ)).toBe("TOKEN_WRONG_TYPE");
  });

  it("refuses logout and security event tokens even when a policy lists them", () => {
    const permissive = { allowedTypes: new Set(["logout+jwt", "secevent+jwt", "at+jwt"]), allowMissingType: true };
    expect(verdict("logout+jwt", permissive)).toBe("TOKEN_WRONG_TYPE");
    expect(verdict("application/secevent+jwt", permissive)).toBe("TOKEN_WRONG_TYPE");
    expect(verdict("at+jwt", permissive)).toBe("accepted");
  });

  it("follows a stricter issuer: RFC 9068 access tokens only, typ required", () => {
    const strict = { allowedTypes: new Set(["at+jwt"]), allowMissingType: false };
    expect(verdict("application/AT+JWT", strict)).toBe("accepted");
    expect(verdict("JWT", strict)).toBe("TOKEN_WRONG_TYPE");
    expect(verdict(undefined, strict)).toBe("TOKEN_WRONG_TYPE");
  });
});
