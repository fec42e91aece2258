#!/usr/bin/env node
/**
 * kubectl-vigil: `kubectl vigil COMMAND …` (kubectl finds `kubectl-vigil` on PATH). Wiring only: parse, connect
 * with the user's kubeconfig, run the command, print the error with what to do, exit with a code scripts can use
 * (cli/core/exit-codes.ts).
 */
import { auditCommand } from "./commands/audit.ts";
import { consoleCommand } from "./commands/console.ts";
import { sessionsCommand } from "./commands/sessions.ts";
import { statusCommand } from "./commands/status.ts";
import { terminateCommand } from "./commands/terminate.ts";
import { GLOBAL_HELP, parseCommandLine } from "./core/args.ts";
import { EXIT } from "./core/exit-codes.ts";
import { connect, type Kube } from "./kube/client.ts";
import { describeFailure, UsageError } from "./kube/errors.ts";
import type { Command, Io } from "./command.ts";

const COMMANDS: readonly Command[] = [sessionsCommand, terminateCommand, statusCommand, auditCommand, consoleCommand];

const TOP_HELP = `kubectl vigil: see and end live sessions of Vigil-protected workloads, with your own kubeconfig and RBAC.

Usage:
  kubectl vigil COMMAND [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(11)} ${c.summary}`).join("\n")}

Run "kubectl vigil COMMAND -h" for a command's flags and examples.

${GLOBAL_HELP}

Exit status: 0 success, 1 the API server refused or failed, 2 bad usage, 3 not allowed (RBAC or credentials),
4 not found, 5 a termination Failed (--wait), 6 timed out (--wait).`;

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    io.out(`${TOP_HELP}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(", ")} (kubectl vigil -h)`);
    const parsed = parseCommandLine(rest, command.options, command.formats, command.name);
    if (parsed.global.help) {
      io.out(`${command.help}\n\n${GLOBAL_HELP}\n`);
      return EXIT.ok;
    }
    let kube: Kube | undefined;
    const getKube = (): Kube =>
      (kube ??= connect({
        ...(parsed.global.kubeconfig === undefined ? {} : { kubeconfig: parsed.global.kubeconfig }),
        ...(parsed.global.context === undefined ? {} : { context: parsed.global.context }),
      }));
    return await command.run({
      parsed,
      io,
      kube: getKube,
      scope: () => (parsed.global.allNamespaces ? null : (parsed.global.namespace ?? getKube().namespace)),
      namespace: () => parsed.global.namespace ?? getKube().namespace,
    });
  } catch (err) {
    const { message, exitCode } = describeFailure(err);
    io.err(`error: ${message}\n`);
    if (exitCode === EXIT.usage && command === undefined) io.err("  see kubectl vigil -h\n");
    return exitCode;
  }
}

if (import.meta.main) {
  const stop = new AbortController();
  process.on("SIGINT", () => {
    stop.abort();
  });
  process.on("SIGTERM", () => {
    stop.abort();
  });
  process.stdout.on("error", () => undefined); // a closed pipe (| head) is not an error
  const io: Io = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    errIsTTY: process.stderr.isTTY,
    signal: stop.signal,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // Flush and leave even if a keep-alive socket lingers.
      process.stdout.write("", () => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
