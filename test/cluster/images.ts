/**
 * Images for the test node built from this checkout with buildah (build-images.sh app): the project's own Dockerfile
 * (unchanged; its FROM image is assembled locally by build-images.sh base) and the sample application. Unchanged
 * layers are reused between runs; each image is exported once to an OCI archive in the cache for `importImage`
 * (node.ts).
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

export async function buildImage(name: string, dockerfile: string, context: string): Promise<BuiltImage> {
  const t0 = Date.now();
  const { stdout } = await run("bash", [join(import.meta.dirname, "build-images.sh"), "app", name, dockerfile, context], {
    maxBuffer: 64 << 20,
    timeout: 20 * 60_000,
  });
  return { name, archive: stdout.trim().split("\n").at(-1) ?? "", ms: Date.now() - t0 };
}

/** The Vigil image from the repository's Dockerfile, and the sample app. */
export async function buildProjectImages(): Promise<{ vigil: BuiltImage; sampleApp: BuiltImage }> {
  const vigil = await buildImage(`${VIGIL_IMAGE.repository}:${VIGIL_IMAGE.tag}`, join(repoRoot, "Dockerfile"), repoRoot);
  const appDir = join(import.meta.dirname, "images/sample-app");
  const sampleApp = await buildImage(SAMPLE_APP_IMAGE, join(appDir, "Dockerfile"), appDir);
  return { vigil, sampleApp };
}
