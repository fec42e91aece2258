/**
 * `kubectl vigil console [--port 0] [--no-browser]` — serves the console on 127.0.0.1 with the user's credentials,
 * prints its URL (with the login token), opens the browser unless told not to, stops on Ctrl-C.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { startConsole } from "../../console/server.ts";
import { EXIT } from "../core/exit-codes.ts";
import { UsageError } from "../kube/errors.ts";
import { whoAmI } from "../kube/resources.ts";
import type { Command } from "../command.ts";

function openBrowser(url: string): void {
  const argv: string[] = process.platform === "darwin" ? ["open", url] : process.platform === "win32" ? ["cmd", "/c", "start", "", url] : ["xdg-open", url];
  try {
    const child = spawn(argv[0] ?? "", argv.slice(1), { stdio: "ignore", detached: true });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // No browser opener: the URL is printed.
  }
}

export const consoleCommand: Command = {
  name: "console",
  summary: "Serve the session console on 127.0.0.1 and open it in the browser",
  help: `Serve the Vigil console on 127.0.0.1 with your own kubeconfig: live sessions, one session with its flows and a
Terminate button, terminations, policies and the audit trail. Nothing is installed in the cluster; what you may see
and do is what your RBAC allows. The printed URL carries a login token: only a browser that opened it can use the
console. Views and terminations are recorded in the audit trail under your identity.

Usage:
  kubectl vigil console [-n NS | -A] [--port 0] [--no-browser]

Flags:
      --port N        listen on this port of 127.0.0.1 (default 0: any free port)
      --no-browser    print the URL, do not open a browser

Examples:
  kubectl vigil console -A
  kubectl vigil console -n shop --port 8099 --no-browser`,
  options: { port: { type: "string" }, "no-browser": { type: "boolean" } },
  formats: ["table"],
  async run(ctx) {
    const portText = ctx.parsed.values["port"];
    const port = typeof portText === "string" ? Number(portText) : 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${String(portText)}: use a port number (0 for any free port)`);
    const kube = ctx.kube();
    const viewer = await whoAmI(kube);
    const running = await startConsole({ kube, scope: ctx.scope(), viewer, port });
    ctx.io.out(`Vigil console for ${viewer.username} (context ${kube.contextName}): ${running.url}\nPress Ctrl-C to stop.\n`);
    if (ctx.parsed.values["no-browser"] !== true) openBrowser(running.url);
    if (!ctx.io.signal.aborted) await once(ctx.io.signal, "abort");
    await running.stop();
    return EXIT.ok;
  },
};
