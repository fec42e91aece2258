import { describe, expect, it } from "vitest";
import { negotiate } from "../../../../operator/sessions-api/core/negotiate.ts";
import { parseRequest } from "../../../../operator/sessions-api/core/request.ts";

const GV = "/apis/sessions.vigil.dev/v1alpha1";

describe("request parsing", () => {
  it("maps resource paths and methods to verbs", () => {
    expect(parseRequest("GET", `${GV}/vigilsessions`)).toMatchObject({ kind: "resource", verb: "list", namespace: "", name: undefined });
    expect(parseRequest("GET", `${GV}/namespaces/shop/vigilsessions?watch=true`)).toMatchObject({ kind: "resource", verb: "watch", namespace: "shop" });
    expect(parseRequest("GET", `${GV}/namespaces/shop/vigilsessions/s_x`)).toMatchObject({ kind: "resource", verb: "get", name: "s_x" });
    expect(parseRequest("GET", `${GV}/namespaces/shop/vigilsessions/s_x?watch=1`)).toMatchObject({ verb: "watch", name: "s_x" });
    expect(parseRequest("DELETE", `${GV}/namespaces/shop/vigilsessions/s_x?dryRun=All`)).toMatchObject({ verb: "delete", query: { dryRun: true } });
    // A list pinned to one name is authorized for that name.
    expect(parseRequest("GET", `${GV}/namespaces/shop/vigilsessions?fieldSelector=metadata.name%3Ds_x`)).toMatchObject({ verb: "list", name: "s_x" });
  });

  it("reads the list options", () => {
    const r = parseRequest(
      "GET",
      `${GV}/vigilsessions?limit=500&continue=abc&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=30&includeObject=Object&fieldSelector=state%3DIdle`,
    );
    expect(r).toMatchObject({
      query: {
        limit: 500,
        continueToken: "abc",
        resourceVersion: "42",
        allowWatchBookmarks: true,
        timeoutSeconds: 30,
        includeObject: "Object",
        selector: [{ field: "state", op: "=", value: "Idle" }],
      },
    });
  });

  it("serves discovery, OpenAPI and probes by path, trailing slash or not", () => {
    expect(parseRequest("GET", "/apis")).toEqual({ kind: "discovery", doc: "apis" });
    expect(parseRequest("GET", "/apis/sessions.vigil.dev/")).toEqual({ kind: "discovery", doc: "group" });
    expect(parseRequest("GET", GV)).toEqual({ kind: "discovery", doc: "version" });
    expect(parseRequest("GET", `/openapi/v3${GV}?hash=X`)).toEqual({ kind: "openapi", doc: "version" });
    expect(parseRequest("GET", "/healthz")).toEqual({ kind: "health", path: "/healthz" });
  });

  it.each([
    ["POST", `${GV}/namespaces/shop/vigilsessions`, 405],
    ["PATCH", `${GV}/namespaces/shop/vigilsessions/s_x`, 405],
    ["DELETE", `${GV}/vigilsessions`, 405],
    ["POST", "/apis", 405],
    ["GET", `${GV}/namespaces/shop/vigilsessions/s_x/status`, 404],
    ["GET", `${GV}/watch/vigilsessions`, 404],
    ["GET", "/api/v1/pods", 404],
    ["GET", `${GV}/namespaces/Shop/vigilsessions`, 400],
    ["GET", `${GV}/vigilsessions?limit=ten`, 400],
    ["GET", `${GV}/vigilsessions?resourceVersionMatch=Latest`, 400],
    ["GET", `${GV}/vigilsessions?includeObject=All`, 400],
    ["GET", `${GV}/vigilsessions?labelSelector=app%3Dweb`, 400],
    ["DELETE", `${GV}/namespaces/shop/vigilsessions/s_x?dryRun=Some`, 400],
    ["GET", "//%zz", 404],
  ])("%s %s → %d", (method, url, code) => {
    const r = parseRequest(method, url);
    expect(r.kind).toBe("error");
    if (r.kind === "error") expect(r.status.code).toBe(code);
  });
});

describe("content negotiation", () => {
  it.each([
    [undefined, "json"],
    ["application/json", "json"],
    ["*/*", "json"],
    ["application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", "table:v1"],
    ["application/json;as=Table;v=v1beta1;g=meta.k8s.io", "table:v1beta1"],
    ["application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json", "json"],
    ["application/vnd.kubernetes.protobuf", "none"],
    ["application/yaml", "none"],
    ["application/json;as=Table;v=v2;g=meta.k8s.io", "none"],
    [
      "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
      "metadata:v1",
    ],
    ["application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1", "metadata:v1beta1"],
  ])("%s → %s", (accept, want) => {
    const r = negotiate(accept);
    expect(r.kind === "table" || r.kind === "metadata" ? `${r.kind}:${r.version}` : r.kind).toBe(want);
  });

  it("offers aggregated discovery only where asked to", () => {
    const accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    expect(negotiate(accept, true).kind).toBe("discovery-v2");
    expect(negotiate(accept).kind).toBe("json");
  });
});
