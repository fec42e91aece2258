/**
 * `npm run build`: the two programs the image runs, each bundled with its dependencies into `dist/<program>/`
 * (docs/decisions/build-0001-bundled-programs.md). `main.js` is what the chart's commands name
 * (`node /app/dist/<program>/main.js`); the modules a program imports lazily (`yaml`, `maxmind`, `bowser`) stay in
 * chunks of their own beside it, loaded only when used. Nothing is external but Node's built-ins, so the image's
 * runtime stage needs no node_modules. Type checking is `npm run typecheck` (rolldown only strips types).
 *
 * The licence notices of the bundled packages go to `dist/<program>/THIRD-PARTY-LICENSES.txt`.
 *
 * Not minified (minifying saved no memory: the idle sidecar measured ~1 MB more minified) and with names kept
 * (`keepNames`: a function or class the bundler renames to avoid a clash keeps its `name`), so stack traces read
 * as the sources do. No source maps by default: `--enable-source-maps` costs the idle sidecar ~21 MB.
 * `VIGIL_BUILD_MINIFY=1` and `VIGIL_BUILD_SOURCEMAP=1` turn either on (to compare, or to debug).
 */
import { defineConfig, type RolldownOptions } from "rolldown";
import { thirdPartyLicenses } from "./scripts/build/third-party-licenses.ts";

const minify = process.env["VIGIL_BUILD_MINIFY"] === "1";
const sourcemap = process.env["VIGIL_BUILD_SOURCEMAP"] === "1";

const program = (name: "operator" | "sidecar"): RolldownOptions => ({
  input: { main: `${name}/main.ts` },
  platform: "node",
  plugins: [thirdPartyLicenses()],
  output: {
    dir: `dist/${name}`,
    format: "esm",
    entryFileNames: "[name].js",
    chunkFileNames: "[name]-[hash].js",
    cleanDir: true,
    minify,
    keepNames: true,
    sourcemap,
  },
});

export default defineConfig([program("sidecar"), program("operator")]);
