/**
 * Images for the test node built from this checkout with buildah (build-images.sh app): the project's own Dockerfile
 * (unchanged; its FROM image is assembled locally by build-images.sh base) and the sample application. Unchanged
 * layers are reused between runs; each build is exported to an OCI archive in `dir` for `importImage` (node.ts).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./tools.ts";

const run = promisify(execFile);

export const VIGIL_IMAGE = { repository: "localhost/vigil", tag: "dev" } as const;
export const SAMPLE_APP_IMAGE = "localhost/vigil-test/sample-app:dev";

export interface BuiltImage {
  name: string;
  archive: string;
  ms: number;
}

export async function buildImage(name: string, dockerfile: string, context: string, archive: string): Promise<BuiltImage> {
  const t0 = Date.now();
  await run("bash", [join(import.meta.dirname, "build-images.sh"), "app", name, dockerfile, context, archive], { maxBuffer: 64 << 20, timeout: 20 * 60_000 });
  return { name, archive, ms: Date.now() - t0 };
}

/** The Vigil image from the repository's Dockerfile, and the sample app. */
export async function buildProjectImages(dir: string): Promise<{ vigil: BuiltImage; sampleApp: BuiltImage }> {
  const vigil = await buildImage(`${VIGIL_IMAGE.repository}:${VIGIL_IMAGE.tag}`, join(repoRoot, "Dockerfile"), repoRoot, join(dir, "vigil.tar"));
  const appDir = join(import.meta.dirname, "images/sample-app");
  const sampleApp = await buildImage(SAMPLE_APP_IMAGE, join(appDir, "Dockerfile"), appDir, join(dir, "sample-app.tar"));
  return { vigil, sampleApp };
}
