import jsonPatchLib from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { jsonPatch } from "../../../../operator/webhook/patch.ts";
import { applyJsonPatch } from "./support.ts";

/** Applying the patch must give the target; returns the patch for inspection. */
function roundTrip(a: object, b: object) {
  const ops = jsonPatch(a, b);
  expect(applyJsonPatch(a, ops)).toEqual(JSON.parse(JSON.stringify(b)));
  return ops;
}

describe("jsonPatch", () => {
  it("is empty for equal documents, whatever the key order", () => {
    expect(jsonPatch({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toEqual([]);
  });

  it("adds a missing object or array whole", () => {
    expect(roundTrip({ metadata: {} }, { metadata: { annotations: { "vigil.dev/x": "y" } } })).toEqual([
      { op: "add", path: "/metadata/annotations", value: { "vigil.dev/x": "y" } },
    ]);
    expect(roundTrip({ spec: {} }, { spec: { initContainers: [{ name: "s" }] } })).toEqual([
      { op: "add", path: "/spec/initContainers", value: [{ name: "s" }] },
    ]);
  });

  it("escapes / and ~ in keys", () => {
    expect(jsonPatchLib.escapePathComponent("vigil.dev/inject")).toBe("vigil.dev~1inject");
    expect(jsonPatchLib.escapePathComponent("a~b/c")).toBe("a~0b~1c");
    expect(roundTrip({ m: { "x~/y": "1" } }, { m: { "x~/y": "2", "vigil.dev/k": "v" } })).toEqual([
      { op: "replace", path: "/m/x~0~1y", value: "2" },
      { op: "add", path: "/m/vigil.dev~1k", value: "v" },
    ]);
  });

  it("prepends to an array (index by index: the items change, one is added at the end) and appends at the end index", () => {
    expect(roundTrip({ l: [{ n: "a" }] }, { l: [{ n: "s" }, { n: "a" }] })).toEqual([
      { op: "replace", path: "/l/0/n", value: "s" },
      { op: "add", path: "/l/1", value: { n: "a" } },
    ]);
    expect(roundTrip({ l: [1, 2] }, { l: [1, 2, 3, 4] })).toEqual([
      { op: "add", path: "/l/2", value: 3 },
      { op: "add", path: "/l/3", value: 4 },
    ]);
  });

  it("removes members and array items (array items from the end)", () => {
    expect(roundTrip({ a: 1, b: 2 }, { a: 1 })).toEqual([{ op: "remove", path: "/b" }]);
    expect(roundTrip({ l: [1, 2, 3, 4] }, { l: [1, 4] })).toEqual([
      { op: "remove", path: "/l/3" },
      { op: "remove", path: "/l/2" },
      { op: "replace", path: "/l/1", value: 4 },
    ]);
  });

  it("diffs arrays element by element", () => {
    expect(roundTrip({ l: [{ a: 1 }, { a: 2 }] }, { l: [{ a: 1 }, { a: 3 }] })).toEqual([{ op: "replace", path: "/l/1/a", value: 3 }]);
    expect(roundTrip({ l: [1, 2, 3] }, { l: [4, 5] })).toEqual([
      { op: "remove", path: "/l/2" },
      { op: "replace", path: "/l/1", value: 5 },
      { op: "replace", path: "/l/0", value: 4 },
    ]);
  });

  it("replaces values that change type, and treats undefined members as absent", () => {
    expect(roundTrip({ a: "1" }, { a: 1 })).toEqual([{ op: "replace", path: "/a", value: 1 }]);
    expect(roundTrip({ a: [1] }, { a: { x: 1 } })).toEqual([{ op: "replace", path: "/a", value: { x: 1 } }]);
    expect(jsonPatch({ a: 1 }, { a: 1, b: undefined })).toEqual([]);
  });

  it("gives a patch that a strict applier accepts on the original, never on a document missing its paths", () => {
    const ops = jsonPatch({ spec: { containers: [{ name: "a" }] } }, { spec: { containers: [{ name: "a", image: "x" }] } });
    expect(() => applyJsonPatch({ spec: {} }, ops)).toThrow();
  });
});
