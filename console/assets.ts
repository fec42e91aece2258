/**
 * Every file the console serves, read once from the package at start: htmx and its SSE extension (htmx.org,
 * htmx-ext-sse), Pico's classless stylesheet (@picocss/pico) and the console's own stylesheet. Nothing from a CDN.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const require = createRequire(import.meta.url);

function packageFile(pkg: string, file: string): string {
  return join(require.resolve(`${pkg}/package.json`).replace(/package\.json$/, ""), file);
}

export function loadAssets(): Map<string, Asset> {
  const files: [string, string, string][] = [
    ["/assets/htmx.min.js", packageFile("htmx.org", "dist/htmx.min.js"), "text/javascript; charset=utf-8"],
    ["/assets/sse.js", packageFile("htmx-ext-sse", "dist/sse.min.js"), "text/javascript; charset=utf-8"],
    ["/assets/pico.classless.min.css", packageFile("@picocss/pico", "css/pico.classless.min.css"), "text/css; charset=utf-8"],
    ["/assets/console.css", join(import.meta.dirname, "assets", "console.css"), "text/css; charset=utf-8"],
  ];
  return new Map(
    files.map(([path, file, type]) => {
      const body = readFileSync(file);
      return [path, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` }];
    }),
  );
}
