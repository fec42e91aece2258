/**
 * A small, strict RFC 6902 applier for tests (add, remove, replace, test), so a generated patch can be proven to
 * turn the original into the expected document. Throws on any path that does not exist where RFC 6902 says it must.
 */
import { isDeepStrictEqual } from "node:util";

export interface Op {
  op: string;
  path: string;
  value?: unknown;
}

type Container = Record<string, unknown> | unknown[];

const unescape = (s: string): string => s.replace(/~1/g, "/").replace(/~0/g, "~");

function parent(doc: unknown, path: string): { container: Container; key: string } {
  if (!path.startsWith("/")) throw new Error(`bad pointer ${path}`);
  const parts = path.slice(1).split("/").map(unescape);
  const key = parts.pop() ?? "";
  let node: unknown = doc;
  for (const p of parts) {
    if (Array.isArray(node)) node = node[Number(p)];
    else if (typeof node === "object" && node !== null) node = (node as Record<string, unknown>)[p];
    else node = undefined;
    if (node === undefined) throw new Error(`path ${path}: ${p} does not exist`);
  }
  if (typeof node !== "object" || node === null) throw new Error(`path ${path}: parent is not a container`);
  return { container: node as Container, key };
}

function index(arr: unknown[], key: string, forAdd: boolean): number {
  if (key === "-" && forAdd) return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!forAdd && i === arr.length)) throw new Error(`bad array index ${key}`);
  return i;
}

export function applyJsonPatch<T>(document: T, ops: readonly Op[]): T {
  let doc: unknown = structuredClone(document);
  for (const op of ops) {
    if (op.path === "") {
      if (op.op !== "replace" && op.op !== "add") throw new Error(`unsupported root op ${op.op}`);
      doc = structuredClone(op.value);
      continue;
    }
    const { container, key } = parent(doc, op.path);
    if (Array.isArray(container)) {
      const i = index(container, key, op.op === "add");
      if (op.op === "add") container.splice(i, 0, structuredClone(op.value));
      else if (op.op === "remove") container.splice(i, 1);
      else if (op.op === "replace") container[i] = structuredClone(op.value);
      else if (op.op === "test") {
        if (!isDeepStrictEqual(container[i], op.value)) throw new Error(`test failed at ${op.path}`);
      } else throw new Error(`unsupported op ${op.op}`);
      continue;
    }
    const exists = Object.hasOwn(container, key);
    if ((op.op === "remove" || op.op === "replace" || op.op === "test") && !exists) throw new Error(`${op.op}: ${op.path} does not exist`);
    if (op.op === "add" || op.op === "replace") container[key] = structuredClone(op.value);
    else if (op.op === "remove") Reflect.deleteProperty(container, key);
    else if (op.op === "test") {
      if (!isDeepStrictEqual(container[key], op.value)) throw new Error(`test failed at ${op.path}`);
    } else throw new Error(`unsupported op ${op.op}`);
  }
  return doc as T;
}
