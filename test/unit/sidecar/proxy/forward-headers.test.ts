import { describe, expect, it } from "vitest";
import { NO_CREDENTIAL_FORWARDING, upstreamHeaderList, upstreamHeaders, withoutCookie, type ForwardInput } from "../../../../sidecar/proxy/forward-headers.ts";
import { principal } from "../../../builders/principal.ts";

function forward(rawHeaders: string[], overrides: Partial<ForwardInput> = {}) {
  return upstreamHeaders({
    rawHeaders,
    framing: {},
    principal: principal({ subject: "alice", groups: ["staff"] }),
    sessionId: "s_AAAAAAAAAAAAAAAAAAAAAA",
    clientIp: "10.0.0.7",
    upgrade: false,
    credentials: NO_CREDENTIAL_FORWARDING,
    ...overrides,
  });
}

describe("headers sent to the application", () => {
  it("replaces client identity and forwarding headers in every spelling with verified values", () => {
    const out = forward([
      "Host",
      "shop.test",
      "X-Vigil-Subject",
      "mallory",
      "x_vigil_subject",
      "mallory",
      "X-VIGIL-GROUPS",
      "admins",
      "X-Forwarded-For",
      "6.6.6.6",
      "x_forwarded_for",
      "6.6.6.6",
      "Forwarded",
      "for=6.6.6.6",
      "X-Forwarded-User",
      "mallory",
    ]);
    expect(out["x-vigil-subject"]).toBe("alice");
    expect(out["x-vigil-groups"]).toBe("staff");
    expect(out["x-vigil-session"]).toBe("s_AAAAAAAAAAAAAAAAAAAAAA");
    expect(out["x-forwarded-for"]).toBe("10.0.0.7");
    expect(out.forwarded).toBeUndefined();
    expect(out["x-forwarded-user"]).toBeUndefined();
    expect(Object.keys(out).filter((k) => k.includes("_"))).toEqual([]);
  });

  it("a Connection header cannot remove the identity headers we inject", () => {
    const out = forward(["Host", "shop.test", "Connection", "close, X-Vigil-Subject, X-Forwarded-For"]);
    expect(out["x-vigil-subject"]).toBe("alice");
    expect(out["x-forwarded-for"]).toBe("10.0.0.7");
    expect(out.connection).toBeUndefined();
  });

  it("keeps duplicates of end-to-end headers and sets explicit framing", () => {
    const out = forward(["Host", "shop.test", "Accept", "a", "Accept", "b", "Transfer-Encoding", "chunked"], { framing: { "transfer-encoding": "chunked" } });
    expect(out.accept).toEqual(["a", "b"]);
    expect(out["transfer-encoding"]).toBe("chunked");
    expect(out["content-length"]).toBeUndefined();
  });
});

describe("the header list the HTTP path sends", () => {
  const input = (rawHeaders: string[], overrides: Partial<ForwardInput> = {}): ForwardInput => ({
    rawHeaders,
    framing: { "content-length": "3" },
    principal: principal({ subject: "alice", groups: ["staff"], email: "alice@example.com" }),
    sessionId: "s_AAAAAAAAAAAAAAAAAAAAAA",
    clientIp: "10.0.0.7",
    upgrade: false,
    credentials: { forward: false, cookie: "tok", header: "x-token" },
    ...overrides,
  });

  it("holds exactly the fields of the header object, in the client's order, with empty values kept", () => {
    const raw = [
      "Host",
      "shop.test",
      "Accept",
      "a",
      "X-Empty",
      "",
      "Cookie",
      "tok=1; theme=dark",
      "Accept",
      "b",
      "Authorization",
      "Bearer x",
      "X-Vigil-Subject",
      "mallory",
      "Connection",
      "x-drop",
      "X-Drop",
      "1",
      "Cookie",
      "tok=1",
    ];
    const list = upstreamHeaderList(input(raw));
    expect(list).toEqual([
      "host",
      "shop.test",
      "accept",
      "a",
      "x-empty",
      "",
      "cookie",
      "theme=dark",
      "accept",
      "b",
      "content-length",
      "3",
      "x-forwarded-for",
      "10.0.0.7",
      "x-vigil-subject",
      "alice",
      "x-vigil-groups",
      "staff",
      "x-vigil-session",
      "s_AAAAAAAAAAAAAAAAAAAAAA",
      "x-vigil-email",
      "alice@example.com",
    ]);
    const asObject: Record<string, string | string[]> = {};
    for (let i = 0; i < list.length; i += 2) {
      const [name, value] = [list[i]!, list[i + 1]!];
      const seen = asObject[name];
      asObject[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    expect(asObject).toEqual(upstreamHeaders(input(raw)));
  });
});

describe("credentials on the way to the application", () => {
  const sources = { cookie: "vigil_token", header: "x-access-token" };
  const request = [
    "Host",
    "shop.test",
    "Authorization",
    "Bearer eyJ.the.token",
    "X-Access-Token",
    "eyJ.the.token",
    "X_Access_Token",
    "eyJ.other.token",
    "Cookie",
    "theme=dark; vigil_token=eyJ.the.token; lang=en",
    "Accept",
    "application/json",
  ];

  it("withholds Authorization, the token header in every spelling and only the token cookie by default", () => {
    const out = forward(request, { credentials: { ...sources, forward: false } });
    expect(out.authorization).toBeUndefined();
    expect(out["x-access-token"]).toBeUndefined();
    expect(out.x_access_token).toBeUndefined();
    expect(out.cookie).toBe("theme=dark; lang=en");
    expect(out.accept).toBe("application/json");
  });

  it("withholds Authorization even when no cookie or header is configured", () => {
    const out = forward(request);
    expect(out.authorization).toBeUndefined();
    expect(out.cookie).toBe("theme=dark; vigil_token=eyJ.the.token; lang=en");
  });

  it("drops a Cookie header when the token cookie was all it held, keeping the others", () => {
    const out = forward(["Host", "shop.test", "Cookie", "vigil_token=eyJ.the.token"], { credentials: { ...sources, forward: false } });
    expect(out.cookie).toBeUndefined();
    const two = forward(["Host", "shop.test", "Cookie", "vigil_token=eyJ.the.token", "Cookie", "a=1"], { credentials: { ...sources, forward: false } });
    expect(two.cookie).toBe("a=1");
  });

  it("passes the credentials on when the workload asks for them, never another spelling of the token header", () => {
    const out = forward(request, { credentials: { ...sources, forward: true } });
    expect(out.authorization).toBe("Bearer eyJ.the.token");
    expect(out["x-access-token"]).toBe("eyJ.the.token");
    expect(out.x_access_token).toBeUndefined();
    expect(out.cookie).toBe("theme=dark; vigil_token=eyJ.the.token; lang=en");
  });

  it("never forwards Proxy-Authorization (hop-by-hop)", () => {
    const out = forward(["Host", "shop.test", "Proxy-Authorization", "Bearer eyJ.the.token"], { credentials: { ...sources, forward: true } });
    expect(out["proxy-authorization"]).toBeUndefined();
  });

  it("removes exactly the named cookie from a Cookie value", () => {
    expect(withoutCookie("a=1; vigil_token=x; b=2", "vigil_token")).toBe("a=1; b=2");
    expect(withoutCookie("vigil_token=x;vigil_token=y;a=1", "vigil_token")).toBe("a=1");
    expect(withoutCookie("my_vigil_token=x; vigil_token_2=y", "vigil_token")).toBe("my_vigil_token=x; vigil_token_2=y");
    expect(withoutCookie(" a=1 ;  b=2 ", "vigil_token")).toBe(" a=1 ;  b=2 ");
    expect(withoutCookie("vigil_token=x", "vigil_token")).toBe("");
  });
});
