/**
 * A rolldown plugin (rolldown.config.ts) that writes `THIRD-PARTY-LICENSES.txt` beside a bundled program: each npm
 * package whose code went into one of its chunks, with its version, declared licence and the text of its licence
 * file(s). The image ships the bundles without node_modules (docs/decisions/build-0001), so the notices the
 * packages' licences ask to keep with copies of their code travel here instead.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";
import type { Plugin } from "rolldown";

const LICENCE_FILE = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

interface Pkg {
  dir: string;
  name: string;
  version: string;
  license: string;
}

/** The package directory of a module id inside node_modules (the innermost one), else undefined. */
export function packageDir(id: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const at = id.lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = id.slice(at + marker.length).split(sep);
  const depth = rest[0]?.startsWith("@") === true ? 2 : 1;
  if (rest.length <= depth) return undefined;
  return id.slice(0, at + marker.length) + rest.slice(0, depth).join(sep);
}

function describe(dir: string): Pkg {
  const json = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string; license?: unknown };
  const license = typeof json.license === "string" ? json.license : "see the licence text";
  return { dir, name: json.name ?? dir, version: json.version ?? "", license };
}

function notice(pkg: Pkg): string {
  const files = readdirSync(pkg.dir)
    .filter((f) => LICENCE_FILE.test(f))
    .sort();
  const texts = files.map((f) => readFileSync(join(pkg.dir, f), "utf8").trim());
  const body = texts.length === 0 ? `(no licence file in the package; declared licence: ${pkg.license})` : texts.join("\n\n");
  return `${pkg.name}@${pkg.version} (${pkg.license})\n\n${body}\n`;
}

export function thirdPartyLicenses(): Plugin {
  return {
    name: "vigil-third-party-licenses",
    generateBundle(_options, bundle) {
      const dirs = new Set<string>();
      for (const file of Object.values(bundle)) {
        if (file.type !== "chunk") continue;
        for (const id of file.moduleIds) {
          const dir = packageDir(id);
          if (dir !== undefined) dirs.add(dir);
        }
      }
      const pkgs = [...dirs].map(describe).sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
      const rule = `\n${"-".repeat(80)}\n\n`;
      const source = `Third-party software bundled into this program (${pkgs.length} packages)\n${rule}${pkgs.map(notice).join(rule)}`;
      this.emitFile({ type: "asset", fileName: "THIRD-PARTY-LICENSES.txt", source });
    },
  };
}
