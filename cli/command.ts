/** What every kubectl-vigil command is given and returns. */
import type { Kube } from "./kube/client.ts";
import type { Scope } from "./kube/resources.ts";
import type { OptionSpec, OutputFormat, Parsed } from "./core/args.ts";

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether standard error is a terminal (progress lines are rewritten in place then). */
  errIsTTY: boolean;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export interface CommandContext {
  parsed: Parsed;
  io: Io;
  kube(): Kube;
  /** `-A` → null (every namespace), else `-n` or the context's namespace. */
  scope(): Scope;
  /** `-n`, else the context's namespace (for commands that act in one namespace). */
  namespace(): string;
}

export interface Command {
  name: string;
  summary: string;
  /** Full help text (usage, flags, examples); the global flags are appended. */
  help: string;
  options: OptionSpec;
  formats: readonly OutputFormat[];
  run(ctx: CommandContext): Promise<number>;
}
