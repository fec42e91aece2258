import { describe, expect, it } from "vitest";
import { SidecarError } from "../../../../sidecar/errors.ts";
import { normaliseTarget, normalizePath } from "../../../../sidecar/proxy/path.ts";

describe("request target normalisation: what the policy sees is what the upstream gets", () => {
  it.each([
    ["/", "/"],
    ["/a/b", "/a/b"],
    ["/a/b/", "/a/b/"],
    ["//admin", "/admin"],
    ["/a//b///c", "/a/b/c"],
    ["/./a", "/a"],
    ["/a/./b", "/a/b"],
    ["/a/b/..", "/a/"],
    ["/a/b/.", "/a/b/"],
    ["/a/../admin", "/admin"],
    ["/../../etc/passwd", "/etc/passwd"],
    ["/..", "/"],
    ["/%2e%2e/admin", "/admin"],
    ["/a/%2E%2E/b", "/b"],
    ["/a/.%2e/b", "/b"],
    ["/a/%2e/b", "/a/b"],
    ["/a/..;/admin", "/admin"],
    ["/a/%2e%2e;x=1/admin", "/admin"],
    ["/admin;jsessionid=abc", "/admin"],
    ["/a;p=1/b;q=2", "/a/b"],
    ["/;x/admin", "/admin"],
    ["/a/%3B/b", "/a/%3B/b"],
    ["/%41%62c", "/Abc"],
    ["/%7euser", "/~user"],
    ["/a%20b", "/a%20b"],
    ["/a%2cb", "/a%2Cb"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/%E2%82%AC", "/%E2%82%AC"],
    ["/a|b{c}", "/a%7Cb%7Bc%7D"],
    ["/Admin", "/Admin"],
    ["/a/b?x=1&y=/../z", "/a/b"],
  ])("%s → %s", (target, path) => {
    expect(normaliseTarget(target).path).toBe(path);
  });

  it("keeps the query verbatim for forwarding, out of the matched path", () => {
    expect(normaliseTarget("/a/../b?q=%2e%2e/x&y")).toEqual({ path: "/b", search: "?q=%2e%2e/x&y" });
    expect(normaliseTarget("/b")).toEqual({ path: "/b", search: "" });
    expect(normaliseTarget("/b?")).toEqual({ path: "/b", search: "?" });
  });

  it("offers a path-only form", () => {
    expect(normalizePath("/x/%2e%2e/y")).toBe("/y");
  });

  it.each([
    ["absolute-form", "http://evil.test/admin"],
    ["asterisk-form", "*"],
    ["empty", ""],
    ["relative", "admin"],
    ["raw NUL", "/a\u0000b"],
    ["encoded NUL", "/a%00b"],
    ["encoded CR LF", "/a%0d%0aSet-Cookie:x"],
    ["raw space", "/a b"],
    ["raw tab", "/a\tb"],
    ["DEL", "/a\u007f"],
    ["fragment", "/a#b"],
    ["backslash", "/a\\..\\admin"],
    ["encoded backslash", "/a/%5c../admin"],
    ["encoded slash", "/a%2fb"],
    ["encoded slash, upper case", "/..%2F..%2Fadmin"],
    ["truncated escape", "/a%2"],
    ["lone percent", "/100%"],
    ["non-hex escape", "/a%zz"],
    ["raw non-ASCII", "/café"],
    ["invalid UTF-8 escape", "/%ff"],
    ["overlong UTF-8 dot", "/%c0%ae%c0%ae/admin"],
    ["truncated UTF-8 sequence", "/%c3"],
  ])("refuses %s with BAD_REQUEST", (_name, target) => {
    let caught: unknown;
    try {
      normaliseTarget(target);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SidecarError);
    expect((caught as SidecarError).code).toBe("BAD_REQUEST");
    expect((caught as SidecarError).status).toBe(400);
  });

  it("is idempotent: a normalised path normalises to itself", () => {
    for (const t of ["/a/%2E%2E/b", "//x//y/", "/caf%c3%a9", "/a;b/../c", "/a|b"]) {
      const once = normaliseTarget(t).path;
      expect(normaliseTarget(once).path).toBe(once);
    }
  });
});
