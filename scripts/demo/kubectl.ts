/**
 * The real kubectl for the demo: KUBECONFIG and a discovery cache inside the demo's state directory (so nothing
 * is written to ~/.kube and no cache of an earlier control plane is read). Never throws for a non-zero exit
 * (`kubectl`); `kubectlOk` throws with kubectl's own message.
 */
import { execFile } from "node:child_process";

export interface KubectlTarget {
  kubectl: string;
  kubeconfig: string;
  cacheDir: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(t: KubectlTarget, args: readonly string[], input = ""): Promise<KubectlResult> {
  return new Promise((resolveRun) => {
    const child = execFile(
      t.kubectl,
      args,
      {
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", KUBECONFIG: t.kubeconfig, KUBECACHEDIR: t.cacheDir },
        timeout: 30_000,
        maxBuffer: 8 << 20,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolveRun({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

export async function kubectlOk(t: KubectlTarget, args: readonly string[], input = ""): Promise<string> {
  const r = await kubectl(t, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}
