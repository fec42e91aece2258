import { describe, expect, it } from "vitest";
import { parseDeleteOptions } from "../../../../operator/sessions-api/handlers/delete.ts";
import { listVersionProblem } from "../../../../operator/sessions-api/handlers/read.ts";
import { watchProblem } from "../../../../operator/sessions-api/handlers/watch.ts";
import { parseQuery, type ListQuery } from "../../../../operator/sessions-api/core/request.ts";
import { forbidden, notFound } from "../../../../operator/sessions-api/core/status.ts";
import { EventLog } from "../../../../operator/sessions-api/index/event-log.ts";
import { printableUser, terminationFor, terminationName } from "../../../../operator/sessions-api/terminate.ts";
import { OPENAPI_HASH, openApiDocumentJson, openApiRoot } from "../../../../operator/sessions-api/core/openapi.ts";
import { aggregatedDiscovery, apiResourceList } from "../../../../operator/sessions-api/core/discovery.ts";

const query = (qs: string): ListQuery => {
  const q = parseQuery(new URLSearchParams(qs));
  if ("kind" in q) throw new Error(q.message);
  return q;
};

describe("delete = terminate", () => {
  it("names the SessionTermination after the session, targets it, and names the user in the reason", () => {
    const t = terminationFor("shop", "s_AAAAAAAAAAAAAAAAAAAAAA", "jane@example.test");
    expect(t).toMatchObject({
      apiVersion: "vigil.dev/v1alpha1",
      kind: "SessionTermination",
      metadata: { name: terminationName("s_AAAAAAAAAAAAAAAAAAAAAA"), namespace: "shop", annotations: { "vigil.dev/requested-by": "jane@example.test" } },
      spec: { target: { sessionID: "s_AAAAAAAAAAAAAAAAAAAAAA" }, reason: "kubectl delete vigilsession by jane@example.test" },
    });
    expect(terminationName("s_AAAAAAAAAAAAAAAAAAAAAA")).toMatch(/^vs-delete-[0-9a-f]{16}$/);
    expect(terminationName("s_AAAAAAAAAAAAAAAAAAAAAA")).not.toBe(terminationName("s_BAAAAAAAAAAAAAAAAAAAAA"));
    expect(printableUser("a\nb\u0000c")).toBe("a?b?c");
    expect(printableUser("x".repeat(300))).toHaveLength(201);
  });

  it("reads DeleteOptions: dry run and a uid precondition; refuses anything else", () => {
    expect(parseDeleteOptions(Buffer.alloc(0))).toEqual({ dryRun: false, uid: undefined });
    expect(parseDeleteOptions(Buffer.from('{"kind":"DeleteOptions","propagationPolicy":"Background","dryRun":["All"],"preconditions":{"uid":"u1"}}'))).toEqual({
      dryRun: true,
      uid: "u1",
    });
    expect(parseDeleteOptions(Buffer.from("[]"))).toMatchObject({ code: 400 });
    expect(parseDeleteOptions(Buffer.from('{"dryRun":"All"}'))).toMatchObject({ code: 400 });
    expect(parseDeleteOptions(Buffer.from('{"preconditions":{"uid":5}}'))).toMatchObject({ code: 400 });
  });
});

describe("resource versions of lists and watches", () => {
  it("serves the current state for none, 0 or an older version; 410 for an Exact old one; 504 for one from the future", () => {
    expect(listVersionProblem(query(""), 100)).toBeUndefined();
    expect(listVersionProblem(query("resourceVersion=0"), 100)).toBeUndefined();
    expect(listVersionProblem(query("resourceVersion=50"), 100)).toBeUndefined();
    expect(listVersionProblem(query("resourceVersion=50&resourceVersionMatch=Exact"), 100)).toMatchObject({ code: 410, reason: "Expired" });
    expect(listVersionProblem(query("resourceVersion=100&resourceVersionMatch=Exact"), 100)).toBeUndefined();
    expect(listVersionProblem(query("resourceVersion=101"), 100)).toMatchObject({ code: 504, reason: "Timeout" });
    expect(listVersionProblem(query("resourceVersion=5&continue=x"), 100)).toMatchObject({ code: 400 });
  });

  it("needs the watch-list options together", () => {
    expect(watchProblem(query("sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"))).toBeUndefined();
    expect(watchProblem(query("sendInitialEvents=true&resourceVersionMatch=NotOlderThan"))).toMatchObject({ code: 400 });
    expect(watchProblem(query("sendInitialEvents=true&allowWatchBookmarks=true"))).toMatchObject({ code: 400 });
    expect(watchProblem(query("resourceVersionMatch=NotOlderThan"))).toMatchObject({ code: 400 });
  });

  it("keeps a window of the last events", () => {
    const log = new EventLog<{ rv: number }>(2);
    expect(log.since(0)).toEqual([]);
    for (const rv of [1, 2, 3]) log.append({ rv });
    expect(log.since(1)).toEqual([{ rv: 2 }, { rv: 3 }]);
    expect(log.since(0)).toBe("expired");
    expect(log.since(3)).toEqual([]);
    expect(() => new EventLog(0)).toThrow(RangeError);
  });
});

describe("documents and errors", () => {
  it("words denials and misses as the API server does", () => {
    expect(forbidden({ user: "jane", verb: "list", namespace: "" }).message).toBe(
      'vigilsessions.sessions.vigil.dev is forbidden: User "jane" cannot list resource "vigilsessions" in API group "sessions.vigil.dev" at the cluster scope',
    );
    expect(forbidden({ user: "jane", verb: "delete", namespace: "shop", name: "s_x", reason: "no RBAC policy matched" }).message).toBe(
      'vigilsessions.sessions.vigil.dev "s_x" is forbidden: User "jane" cannot delete resource "vigilsessions" in API group "sessions.vigil.dev" in the namespace "shop": no RBAC policy matched',
    );
    expect(notFound("s_x")).toMatchObject({ code: 404, reason: "NotFound", details: { name: "s_x", group: "sessions.vigil.dev", kind: "vigilsessions" } });
  });

  it("publishes the resource with its verbs, short name and category, and a self-contained OpenAPI document", () => {
    expect(apiResourceList()).toMatchObject({
      resources: [
        { name: "vigilsessions", namespaced: true, kind: "VigilSession", verbs: ["delete", "get", "list", "watch"], shortNames: ["vs"], categories: ["vigil"] },
      ],
    });
    expect(JSON.stringify(aggregatedDiscovery())).toContain('"scope":"Namespaced"');
    expect(JSON.stringify(openApiRoot())).toContain(`hash=${OPENAPI_HASH}`);
    const doc = JSON.parse(openApiDocumentJson()) as { components: { schemas: Record<string, unknown> } };
    const refs = [...openApiDocumentJson().matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? "");
    for (const r of refs) expect(doc.components.schemas, r).toHaveProperty([r]);
    expect(doc.components.schemas["dev.vigil.sessions.v1alpha1.VigilSession"]).toMatchObject({
      "x-kubernetes-group-version-kind": [{ group: "sessions.vigil.dev", version: "v1alpha1", kind: "VigilSession" }],
    });
  });
});
