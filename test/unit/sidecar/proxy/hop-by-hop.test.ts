import { describe, expect, it } from "vitest";
import { framingHeaders, stripHopByHop, stripResponseHopByHop } from "../../../../sidecar/proxy/hop-by-hop.ts";

describe("hop-by-hop headers (RFC 9110 §7.6.1)", () => {
  it("drops the fixed hop-by-hop fields and keeps end-to-end ones in order", () => {
    const raw = [
      "Host",
      "shop.test",
      "Connection",
      "keep-alive",
      "Keep-Alive",
      "timeout=5",
      "Proxy-Connection",
      "keep-alive",
      "TE",
      "trailers",
      "Trailer",
      "X-Sum",
      "Transfer-Encoding",
      "chunked",
      "Upgrade",
      "h2c",
      "Proxy-Authorization",
      "Bearer t",
      "Expect",
      "100-continue",
      "Content-Length",
      "5",
      "Accept",
      "text/html",
    ];
    expect(stripHopByHop(raw, { upgrade: false })).toEqual(["Host", "shop.test", "Accept", "text/html"]);
  });

  it("drops every field a Connection header names, in any case, but never Host", () => {
    const raw = ["Connection", "close, X-Custom", "connection", "HOST, x-other", "X-CUSTOM", "1", "x-other", "2", "Host", "shop.test", "X-Keep", "3"];
    expect(stripHopByHop(raw, { upgrade: false })).toEqual(["Host", "shop.test", "X-Keep", "3"]);
  });

  it("keeps exactly Connection: Upgrade and the Upgrade value for handshakes", () => {
    const raw = ["Host", "h", "Connection", "Upgrade, X-Drop", "Upgrade", "websocket", "X-Drop", "1", "Sec-WebSocket-Key", "k"];
    expect(stripHopByHop(raw, { upgrade: true })).toEqual(["Host", "h", "Sec-WebSocket-Key", "k", "Connection", "Upgrade", "Upgrade", "websocket"]);
  });

  it("keeps Content-Length on responses, drops Transfer-Encoding and Keep-Alive", () => {
    const raw = ["Content-Length", "10", "Keep-Alive", "timeout=5", "Connection", "keep-alive", "Set-Cookie", "a=1", "Set-Cookie", "b=2"];
    expect(stripResponseHopByHop(raw)).toEqual(["Content-Length", "10", "Set-Cookie", "a=1", "Set-Cookie", "b=2"]);
    expect(stripResponseHopByHop(["Transfer-Encoding", "chunked", "X-A", "1"])).toEqual(["X-A", "1"]);
  });

  it("frames the forwarded body from what the parser accepted", () => {
    expect(framingHeaders({ "transfer-encoding": "chunked" })).toEqual(["Transfer-Encoding", "chunked"]);
    expect(framingHeaders({ "content-length": "12" })).toEqual(["Content-Length", "12"]);
    expect(framingHeaders({})).toEqual([]);
  });
});
