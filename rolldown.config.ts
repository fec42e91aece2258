/**
 * `npm run build`: the two programs the image runs, each bundled with its dependencies into `dist/<program>/`
 * (docs/decisions/build-0001-bundled-programs.md). `main.js` is what the chart's commands name
 * (`node /app/dist/<program>/main.js`); the modules a program imports lazily (`yaml`, `maxmind`, `bowser`) stay in
 * chunks of their own beside it, loaded only when used. Nothing is external but Node's built-ins, so the image's
 * runtime stage needs no node_modules. Type checking is `npm run typecheck` (rolldown only strips types).
 *
 * Minified, with names kept (`keepNames`: stack traces, error and class names read as in the sources) and an external
 * source map per file (`node --enable-source-maps` maps stack traces back to the sources; off by default).
 * `VIGIL_BUILD_MINIFY=0` builds without minifying (to compare, or to read the output).
 */
import { defineConfig, type RolldownOptions } from "rolldown";

const minify = process.env["VIGIL_BUILD_MINIFY"] !== "0";

const program = (name: "operator" | "sidecar"): RolldownOptions => ({
  input: { main: `${name}/main.ts` },
  platform: "node",
  output: {
    dir: `dist/${name}`,
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: "[name]-[hash].js",
    cleanDir: true,
    minify,
    keepNames: true,
    sourcemap: true,
  },
});

export default defineConfig([program("sidecar"), program("operator")]);
