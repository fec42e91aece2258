/**
 * `node:http`, loaded with `require` instead of an ESM `import`.
 *
 * Node 24 builds the ESM facade of a built-in module by reading every export, and `node:http`'s `WebSocket`,
 * `CloseEvent` and `MessageEvent` are lazy getters that load Node's bundled undici to answer. An ESM
 * `import … from "node:http"` anywhere in a process therefore compiles and keeps undici (≈ 750 KB of source):
 * about 12 MB more resident memory (6 MB heap and code, 6 MB more of the Node binary touched), measured with a
 * bare `createServer` (docs/decisions/perf-0002). `require` returns the CommonJS exports without touching
 * the getters. Types still come from `import type … from "node:http"`.
 */
import { createRequire } from "node:module";
import type * as NodeHttp from "node:http";

export const http: typeof NodeHttp = createRequire(import.meta.url)("node:http") as typeof NodeHttp;
