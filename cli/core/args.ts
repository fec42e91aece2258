/**
 * Command-line parsing for kubectl-vigil, pure. kubectl's conventions: global flags anywhere on the line
 * (`-n/--namespace`, `-A/--all-namespaces`, `--context`, `--kubeconfig`, `-o/--output`, `-h/--help`), `--flag=value`
 * or `--flag value`, and a usage error (exit 2) that names the bad flag and the help to read.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../kube/errors.ts";

export type OutputFormat = "table" | "wide" | "json" | "yaml" | "name" | "csv";

export interface GlobalFlags {
  namespace?: string;
  allNamespaces: boolean;
  context?: string;
  kubeconfig?: string;
  output?: OutputFormat;
  help: boolean;
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export const GLOBAL_OPTIONS: OptionSpec = {
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  context: { type: "string" },
  kubeconfig: { type: "string" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
};

export const GLOBAL_HELP = `Global flags:
  -n, --namespace NS      the namespace (default: the kubeconfig context's namespace)
  -A, --all-namespaces    every namespace you may read
      --context NAME      the kubeconfig context to use
      --kubeconfig PATH   the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)
  -o, --output FORMAT     output format (see the command)
  -h, --help              this help`;

export interface Parsed {
  global: GlobalFlags;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

const FORMATS: readonly OutputFormat[] = ["table", "wide", "json", "yaml", "name", "csv"];

/** Parses `argv` (after the command words) with the command's own options plus the global ones. */
export function parseCommandLine(argv: readonly string[], options: OptionSpec, allowedFormats: readonly OutputFormat[], command: string): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    const message = err instanceof Error ? (err.message.replace(/^.*?: /, "").split("\n")[0] ?? "") : String(err);
    throw new UsageError(`${message}\n  see kubectl vigil ${command} -h`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const global = globalFlags(v, allowedFormats, command);
  if (global.namespace !== undefined && global.allNamespaces) throw new UsageError("-n and -A exclude each other: pick one");
  return { global, values: v, positionals: parsed.positionals };
}

function checkFormat(output: string, allowedFormats: readonly OutputFormat[], command: string): OutputFormat {
  if (!(FORMATS as readonly string[]).includes(output)) throw new UsageError(`unknown output format "${output}"; use one of ${allowedFormats.join(", ")}`);
  if (!(allowedFormats as readonly string[]).includes(output))
    throw new UsageError(`kubectl vigil ${command} cannot print -o ${output}; use one of ${allowedFormats.join(", ")}`);
  return output as OutputFormat;
}

function globalFlags(v: Record<string, string | boolean | undefined>, allowedFormats: readonly OutputFormat[], command: string): GlobalFlags {
  const output = v["output"];
  const str = (k: string): string | undefined => (typeof v[k] === "string" ? v[k] : undefined);
  const global: GlobalFlags = {
    allNamespaces: v["all-namespaces"] === true,
    help: v["help"] === true,
    ...(str("namespace") === undefined ? {} : { namespace: str("namespace") ?? "" }),
    ...(str("context") === undefined ? {} : { context: str("context") ?? "" }),
    ...(str("kubeconfig") === undefined ? {} : { kubeconfig: str("kubeconfig") ?? "" }),
    ...(typeof output === "string" ? { output: checkFormat(output, allowedFormats, command) } : {}),
  };
  return global;
}

/** `1h`, `90s`, `2h30m` (Go durations without fractions) → milliseconds; a usage error naming the flag otherwise. */
export function parseFlagDuration(flag: string, text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$/.exec(text);
  if (m === null || text === "") throw new UsageError(`--${flag} ${text}: not a duration; write it like 90s, 15m or 1h30m`);
  const [h, min, s] = [m[1], m[2], m[3]].map((x) => Number(x ?? "0")) as [number, number, number];
  return ((h * 60 + min) * 60 + s) * 1000;
}
