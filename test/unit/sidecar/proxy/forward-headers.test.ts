import { describe, expect, it } from "vitest";
import { upstreamHeaders, type ForwardInput } from "../../../../sidecar/proxy/forward-headers.ts";
import { principal } from "../../../builders/principal.ts";

function forward(rawHeaders: string[], overrides: Partial<ForwardInput> = {}) {
  return upstreamHeaders({
    rawHeaders,
    framing: {},
    principal: principal({ subject: "alice", groups: ["staff"] }),
    sessionId: "s_AAAAAAAAAAAAAAAAAAAAAA",
    clientIp: "10.0.0.7",
    upgrade: false,
    ...overrides,
  });
}

describe("headers sent to the application", () => {
  it("replaces client identity and forwarding headers in every spelling with verified values", () => {
    const out = forward([
      "Host", "shop.test",
      "X-Vigil-Subject", "mallory",
      "x_vigil_subject", "mallory",
      "X-VIGIL-GROUPS", "admins",
      "X-Forwarded-For", "6.6.6.6",
      "x_forwarded_for", "6.6.6.6",
      "Forwarded", "for=6.6.6.6",
      "X-Forwarded-User", "mallory",
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
