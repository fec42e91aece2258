import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeyRingError } from "../../../lib/sealing.ts";
import { loadKeyRingFromDir } from "../../../lib/key-ring-dir.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vigil-keyring-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SID = "s_AAAAAAAAAAAAAAAAAAAAAA";

describe("key ring from a mounted Secret", () => {
  it("reads raw and base64 keys and the primary, ignoring the volume's dot entries", async () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    // Secret volume layout: ..data → timestamped dir, each key a symlink through ..data.
    const data = join(dir, "..2026_11_23_00_00_00.1");
    await mkdir(data);
    await writeFile(join(data, "k1"), k1);
    await writeFile(join(data, "k2"), `${k2.toString("base64")}\n`);
    await writeFile(join(data, "primary"), "k2\n");
    await symlink(data, join(dir, "..data"));
    for (const name of ["k1", "k2", "primary"]) await symlink(join("..data", name), join(dir, name));

    const ring = await loadKeyRingFromDir(dir);
    expect(ring.primary).toBe("k2");
    expect([...ring.keyIds].sort()).toEqual(["k1", "k2"]);
    expect(ring.open(SID, ring.seal(SID, { a: 1 }))).toEqual({ a: 1 });
  });

  it("accepts base64url text", async () => {
    await writeFile(join(dir, "k1"), randomBytes(32).toString("base64url"));
    await writeFile(join(dir, "primary"), "k1");
    expect((await loadKeyRingFromDir(dir)).primary).toBe("k1");
  });

  it.each([
    ["a missing primary file", { k1: randomBytes(32) }, "primary"],
    ["a primary naming no key", { k1: randomBytes(32), primary: "k2" }, "primary"],
    ["a short key", { k1: randomBytes(16), primary: "k1" }, "k1"],
    ["a key that is neither raw nor base64", { k1: "not a key at all", primary: "k1" }, "k1"],
    ["a bad key file name", { Key_1: randomBytes(32), primary: "Key_1" }, "Key_1"],
  ])("refuses %s, naming it", async (_name, files, named) => {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const err = await loadKeyRingFromDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyRingError);
    expect((err as KeyRingError).message).toContain(named);
  });

  it("refuses a directory that does not exist", async () => {
    await expect(loadKeyRingFromDir(join(dir, "nope"))).rejects.toBeInstanceOf(KeyRingError);
  });
});
