/**
 * Load the session key ring from a directory (a mounted Kubernetes Secret).
 *
 * Layout: one regular file per key, named by its key id (`[a-z0-9-]{1,32}`), holding either the
 * 32 raw key bytes or their base64 / base64url text (surrounding whitespace ignored); plus a file
 * `primary` naming the primary key id. Entries starting with `.` (the Secret volume's `..data`
 * machinery) are ignored; symlinks are followed, so the atomically swapped Secret view is read.
 * Any problem is a `KeyRingError` naming the file.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createKeyRing, KEY_ID, KeyRingError } from "./sealing.ts";
import type { KeyRing } from "./sealing.ts";

const PRIMARY_FILE = "primary";
const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;

export async function loadKeyRingFromDir(dir: string): Promise<KeyRing> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
  } catch (cause) {
    throw new KeyRingError(dir, "the key ring directory cannot be read", { cause });
  }
  let primary: string | undefined;
  const keys: { id: string; key: Buffer }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    const content = await readFile(path);
    if (name === PRIMARY_FILE) {
      primary = content.toString("utf8").trim();
      continue;
    }
    if (!KEY_ID.test(name)) throw new KeyRingError(path, "key file names must match [a-z0-9-]{1,32}");
    keys.push({ id: name, key: decodeKey(content, path) });
  }
  if (primary === undefined) throw new KeyRingError(join(dir, PRIMARY_FILE), "missing: it must name the primary key id");
  return createKeyRing({ keys, primary });
}

function decodeKey(content: Buffer, path: string): Buffer {
  if (content.length === 32) return content;
  const text = content.toString("latin1").trim();
  if (BASE64_TEXT.test(text)) {
    const key = Buffer.from(text, text.includes("+") || text.includes("/") ? "base64" : "base64url");
    if (key.length === 32) return key;
  }
  throw new KeyRingError(path, "a key must be 32 raw bytes or their base64 encoding");
}
