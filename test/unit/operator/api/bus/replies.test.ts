import { describe, expect, it } from "vitest";
import { compareStreamIds, execValues, pairsOf, parseCounter, parseXinfoStream, parseXread } from "../../../../../operator/api/bus/replies.ts";

const entries = [
  ["1-0", ["m", "a"]],
  ["1-1", ["other", "x", "m", "b"]],
];

describe("parseXread", () => {
  it("reads RESP2 nested, RESP3 legacy flat and RESP3 map replies alike", () => {
    const expected = [
      { id: "1-0", message: "a" },
      { id: "1-1", message: "b" },
    ];
    expect(parseXread([["s", entries]], "s", "m")).toEqual(expected);
    expect(parseXread(["s", entries], "s", "m")).toEqual(expected);
    expect(parseXread({ s: entries }, "s", "m")).toEqual(expected);
  });

  it("returns nothing for a timeout, another key, or garbage", () => {
    expect(parseXread(null, "s", "m")).toEqual([]);
    expect(parseXread([["t", entries]], "s", "m")).toEqual([]);
    expect(parseXread("OK", "s", "m")).toEqual([]);
    expect(parseXread([["s", [["not-an-id", []], 5]]], "s", "m")).toEqual([]);
  });

  it("keeps entries without the message field, with a null message (so they are counted)", () => {
    expect(parseXread([["s", [["2-0", ["x", "y"]]]]], "s", "m")).toEqual([{ id: "2-0", message: null }]);
  });
});

describe("stream ids and small replies", () => {
  it("compares stream ids numerically, beyond 2^53", () => {
    expect(compareStreamIds("9-0", "10-0")).toBe(-1);
    expect(compareStreamIds("10-2", "10-10")).toBe(-1);
    expect(compareStreamIds("10-1", "10-1")).toBe(0);
    expect(compareStreamIds("18446744073709551615-1", "18446744073709551615-0")).toBe(1);
    expect(compareStreamIds("garbage", "0-0")).toBe(-1);
  });

  it("reads the XINFO STREAM fields used for gap detection", () => {
    const reply = ["length", 2, "last-generated-id", "5-0", "max-deleted-entry-id", "3-0", "first-entry", ["4-0", ["m", "x"]], "groups", 0];
    expect(parseXinfoStream(reply)).toEqual({ lastGeneratedId: "5-0", maxDeletedEntryId: "3-0", firstEntryId: "4-0" });
    expect(parseXinfoStream(["length", 0, "first-entry", null])).toEqual({ lastGeneratedId: null, maxDeletedEntryId: null, firstEntryId: null });
  });

  it("parses counters strictly", () => {
    expect(parseCounter("42")).toBe(42);
    expect(parseCounter(7)).toBe(7);
    for (const bad of ["-1", "1e3", "abc", "", null, "99999999999999999"]) expect(parseCounter(bad)).toBeNull();
  });

  it("pairs flat arrays and maps, skipping non-string keys", () => {
    expect(pairsOf(["a", "1", 2, "x", "b", "2"])).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
    expect(pairsOf({ a: "1" })).toEqual([["a", "1"]]);
    expect(pairsOf(new Error("x"))).toEqual([]);
  });

  it("surfaces the first error of a transaction, and an aborted one", () => {
    expect(
      execValues(
        [
          [null, 1],
          [null, "x"],
        ],
        2,
      ),
    ).toEqual([1, "x"]);
    expect(() =>
      execValues(
        [
          [null, 1],
          [new Error("WRONGTYPE"), null],
        ],
        2,
      ),
    ).toThrow("WRONGTYPE");
    expect(() => execValues(null, 2)).toThrow();
  });
});
