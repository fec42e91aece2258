import { describe, expect, it } from "vitest";
import { extractToken, repeatedCredentialHeader, type CredentialSources } from "../../../../sidecar/auth/credentials.ts";
import { SidecarError } from "../../../../sidecar/errors.ts";

const sources: CredentialSources = { cookie: "vigil_token", header: "x-access-token" };

function outcome(headers: Record<string, string>, opts: { tunnel?: boolean; trusted?: boolean; sources?: CredentialSources } = {}): string {
  try {
    return `token:${extractToken(headers, opts.tunnel ?? false, opts.sources ?? sources, opts.trusted ?? false)}`;
  } catch (err) {
    if (err instanceof SidecarError) return err.code;
    throw err;
  }
}

describe("where the token comes from", () => {
  it("reads a bearer Authorization header, the token cookie, or the ingress header from a trusted proxy", () => {
    expect(outcome({ authorization: "Bearer aaa" })).toBe("token:aaa");
    expect(outcome({ authorization: "bearer   aaa " })).toBe("token:aaa");
    expect(outcome({ cookie: "theme=dark; vigil_token=ccc" })).toBe("token:ccc");
    expect(outcome({ "x-access-token": "Bearer hhh" }, { trusted: true })).toBe("token:hhh");
  });

  it("does not take the ingress header from an untrusted peer", () => {
    expect(outcome({ "x-access-token": "hhh" })).toBe("TOKEN_MISSING");
  });

  it("reads only Proxy-Authorization for tunnels", () => {
    expect(outcome({ "proxy-authorization": "Bearer ppp" }, { tunnel: true })).toBe("token:ppp");
    expect(outcome({ authorization: "Bearer aaa", cookie: "vigil_token=aaa" }, { tunnel: true })).toBe("TOKEN_MISSING");
  });

  it("refuses a non-bearer Authorization header and a request without any token", () => {
    expect(outcome({ authorization: "Basic YWxpY2U6cHc=" })).toBe("TOKEN_MALFORMED");
    expect(outcome({ "proxy-authorization": "Basic YWxpY2U6cHc=" }, { tunnel: true })).toBe("TOKEN_MALFORMED");
    expect(outcome({ cookie: "theme=dark" })).toBe("TOKEN_MISSING");
  });

  it("accepts the same token in several places", () => {
    expect(outcome({ authorization: "Bearer aaa", cookie: "vigil_token=aaa; vigil_token=aaa", "x-access-token": "aaa" }, { trusted: true })).toBe("token:aaa");
  });

  it.each([
    ["header and cookie", { authorization: "Bearer aaa", cookie: "vigil_token=bbb" }, true],
    ["header and ingress header", { authorization: "Bearer aaa", "x-access-token": "bbb" }, true],
    ["header and ingress header from an untrusted peer", { authorization: "Bearer aaa", "x-access-token": "bbb" }, false],
    ["cookie and ingress header", { cookie: "vigil_token=aaa", "x-access-token": "bbb" }, true],
    ["two cookies of that name", { cookie: "vigil_token=aaa; theme=dark; vigil_token=bbb" }, false],
    ["two ingress header values (joined by Node)", { "x-access-token": "aaa, bbb" }, true],
  ])("refuses different tokens in two places: %s", (_name, headers, trusted) => {
    const err = (() => {
      try {
        extractToken(headers, false, sources, trusted);
      } catch (e) {
        return e as SidecarError;
      }
      throw new Error("accepted");
    })();
    expect(err.code).toBe("CREDENTIALS_AMBIGUOUS");
    expect(err.status).toBe(400);
    expect(err.message).not.toMatch(/aaa|bbb/);
  });

  it("ignores the token cookie and header when none is configured", () => {
    expect(
      outcome({ authorization: "Bearer aaa", cookie: "vigil_token=bbb", "x-access-token": "ccc" }, { sources: { cookie: "", header: "" }, trusted: true }),
    ).toBe("token:aaa");
  });

  it("sees a repeated credential header in the raw headers, whatever its case", () => {
    expect(repeatedCredentialHeader(["Host", "a", "Authorization", "Bearer a", "authorization", "Bearer b"], false)).toBe(true);
    expect(repeatedCredentialHeader(["Host", "a", "Authorization", "Bearer a", "Proxy-Authorization", "Bearer b"], false)).toBe(false);
    expect(repeatedCredentialHeader(["PROXY-AUTHORIZATION", "Bearer a", "Proxy-Authorization", "Bearer a"], true)).toBe(true);
    expect(repeatedCredentialHeader(["Proxy-Authorization", "Bearer a", "Authorization", "Bearer b"], true)).toBe(false);
  });
});
