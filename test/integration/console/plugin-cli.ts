/** Runs the real `bin/kubectl-vigil` (and `kubectl vigil` through the real kubectl, with bin/ on PATH). */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const BIN_DIR = join(import.meta.dirname, "../../../bin");
export const PLUGIN = join(BIN_DIR, "kubectl-vigil");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const childEnv = (kubeconfig: string): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: kubeconfig, PATH: `${BIN_DIR}:${process.env["PATH"] ?? ""}` });

export function vigil(kubeconfig: string, args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return run(PLUGIN, args, kubeconfig, timeoutMs);
}

export function run(file: string, args: readonly string[], kubeconfig: string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env: childEnv(kubeconfig), timeout: timeoutMs, maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

/** A long-running plugin command (the console); `output()` is everything it printed so far. */
export function start(kubeconfig: string, args: readonly string[]): { child: ChildProcess; output(): string } {
  const child = spawn(PLUGIN, args, { env: childEnv(kubeconfig), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** RFC 4180 CSV back into rows (quoted cells, doubled quotes, CRLF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else if (c !== "\r") cell += c;
  }
  if (cell !== "" || row.length > 0) rows.push([...row, cell]);
  return rows;
}
