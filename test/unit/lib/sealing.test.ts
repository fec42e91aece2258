import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KeyRingError, SealError } from "../../../lib/sealing.ts";
import { createKeyRing } from "../../../lib/sealing.ts";
import type { KeyRing } from "../../../lib/sealing.ts";

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const ring = (
  primary = "k1",
  keys: [string, Buffer][] = [
    ["k1", K1],
    ["k2", K2],
  ],
): KeyRing => createKeyRing({ keys: keys.map(([id, key]) => ({ id, key })), primary });
const record = { sub: "alice", iss: "https://idp.test", start: 1_700_000_000_000, groups: ["eng"] };
const SID = "s_AAAAAAAAAAAAAAAAAAAAAA";
const OTHER = "s_BBBBBBBBBBBBBBBBBBBBBA";

function refusal(fn: () => unknown): SealError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SealError) return err;
    throw err;
  }
  throw new Error("opened");
}

function expectInvalid(fn: () => unknown): void {
  const err = refusal(fn);
  expect(err.code).toBe("SEALED_RECORD_INVALID");
}

/** Replace one dot-separated part of a sealed record. */
function withPart(sealed: string, index: number, edit: (part: string) => string): string {
  const parts = sealed.split(".");
  parts[index] = edit(parts[index] ?? "");
  return parts.join(".");
}

function flipFirstByte(part: string): string {
  const bytes = Buffer.from(part, "base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
}

describe("sealed session records", () => {
  it("round-trips a record in the documented format", () => {
    const r = ring();
    const sealed = r.seal(SID, record);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(r.open(SID, sealed)).toEqual(record);
  });

  it("uses a fresh 96-bit IV for every seal", () => {
    const r = ring();
    const ivs = new Set<string>();
    const lengths = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const iv = r.seal(SID, record).split(".")[2] ?? "";
      lengths.add(Buffer.from(iv, "base64url").length);
      ivs.add(iv);
    }
    expect(ivs.size).toBe(10_000);
    expect([...lengths]).toEqual([12]);
  });

  it("refuses a record copied under another session ID (AAD)", () => {
    const r = ring();
    expectInvalid(() => r.open(OTHER, r.seal(SID, record)));
  });

  it.each([
    ["flipped IV bit", 2],
    ["flipped ciphertext bit", 3],
    ["flipped tag bit", 4],
  ])("refuses a %s", (_name, index) => {
    const r = ring();
    expectInvalid(() => r.open(SID, withPart(r.seal(SID, record), index, flipFirstByte)));
  });

  it.each([4, 12, 15])("refuses a tag truncated to %d bytes", (length) => {
    const r = ring();
    expectInvalid(() =>
      r.open(
        SID,
        withPart(r.seal(SID, record), 4, (t) => Buffer.from(t, "base64url").subarray(0, length).toString("base64url")),
      ),
    );
  });

  it("refuses a record relabelled with another key id (kid is bound as AAD)", () => {
    const r = ring();
    expectInvalid(() =>
      r.open(
        SID,
        withPart(r.seal(SID, record), 1, () => "k2"),
      ),
    );
  });

  it("refuses an unknown key id and a record sealed under a key that is not in the ring", () => {
    const sealedElsewhere = createKeyRing({ keys: [{ id: "k1", key: randomBytes(32) }], primary: "k1" }).seal(SID, record);
    expectInvalid(() => ring().open(SID, sealedElsewhere));
    expectInvalid(() =>
      ring().open(
        SID,
        withPart(ring().seal(SID, record), 1, () => "k9"),
      ),
    );
  });

  it.each([
    ["empty", ""],
    ["short", "v1.k1"],
    ["0-27 bytes of garbage", "x".repeat(27)],
    ["unknown version", "v2.k1.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA"],
    ["six parts", "v1.k1.a.b.c.d"],
    ["IV of the wrong length", "v1.k1.AAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"],
    ["non-base64url characters", "v1.k1.AAAAAAAAAAAAAAA+.AAAA.AAAAAAAAAAAAAAAAAAAAAA"],
    ["oversized value", `v1.k1.AAAAAAAAAAAAAAAA.${"A".repeat(300_000)}.AAAAAAAAAAAAAAAAAAAAAA`],
  ])("refuses a malformed record: %s", (_name, sealed) => {
    expectInvalid(() => ring().open(SID, sealed));
  });

  it("refuses a non-string record without throwing anything else", () => {
    expectInvalid(() => ring().open(SID, 42 as unknown as string));
  });

  it("refuses authenticated plaintext that is not a JSON object", () => {
    const r = ring();
    expectInvalid(() => r.open(SID, r.seal(SID, ["not", "an", "object"])));
  });

  it("rotates: the new primary seals, old keys still open", () => {
    const before = ring("k1");
    const old = before.seal(SID, record);
    const after = ring("k2");
    const fresh = after.seal(SID, record);
    expect(fresh.split(".")[1]).toBe("k2");
    expect(after.open(SID, old)).toEqual(record);
    expect(after.open(SID, fresh)).toEqual(record);
    expect(before.open(SID, fresh)).toEqual(record);
    const retired = ring("k2", [["k2", K2]]);
    expectInvalid(() => retired.open(SID, old));
    expect(retired.open(SID, fresh)).toEqual(record);
  });
});

describe("key ring validation", () => {
  it.each([
    ["a short key", { keys: [{ id: "k1", key: randomBytes(16) }], primary: "k1" }, "keys[0].key"],
    ["a long key", { keys: [{ id: "k1", key: randomBytes(33) }], primary: "k1" }, "keys[0].key"],
    ["a bad id", { keys: [{ id: "K_1", key: K1 }], primary: "K_1" }, "keys[0].id"],
    ["an over-long id", { keys: [{ id: "k".repeat(33), key: K1 }], primary: "k" }, "keys[0].id"],
    [
      "a duplicate id",
      {
        keys: [
          { id: "k1", key: K1 },
          { id: "k1", key: K2 },
        ],
        primary: "k1",
      },
      "keys[1].id",
    ],
    ["no keys", { keys: [], primary: "k1" }, "keys"],
    ["a missing primary", { keys: [{ id: "k1", key: K1 }], primary: "k2" }, "primary"],
  ])("refuses %s, naming the key", (_name, input, key) => {
    let caught: unknown;
    try {
      createKeyRing(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KeyRingError);
    expect((caught as KeyRingError).key).toBe(key);
  });
});
