/**
 * `kubectl vigil terminate (SESSION_ID | --user U | --email E | --group G | --all --yes) --reason R [--revoke-for 1h]
 * [--wait [--timeout 2m]]` — creates the SessionTermination in the namespace; with --wait follows it with a
 * progress line to Completed (exit 0) or Failed (exit 5) or the timeout (exit 6).
 */
import { SESSION_TERMINATION } from "../../operator/api/v1alpha1/group.ts";
import type { SessionTermination } from "../../operator/api/v1alpha1/session-termination.ts";
import { parseFlagDuration } from "../core/args.ts";
import { CONSOLE_CODES } from "../core/audit.ts";
import { EXIT } from "../core/exit-codes.ts";
import { printObjects } from "../core/output.ts";
import { failureDetail, progressLine, type TerminateRequest } from "../core/termination.ts";
import { recordAudit } from "../kube/audit-trail.ts";
import { UsageError } from "../kube/errors.ts";
import { whoAmI } from "../kube/resources.ts";
import { createTermination, followTermination } from "../kube/terminations.ts";
import type { Command, CommandContext } from "../command.ts";

const str = (v: string | boolean | undefined): string | undefined => (typeof v === "string" ? v : undefined);

function requestOf(ctx: CommandContext): TerminateRequest {
  const v = ctx.parsed.values;
  const [sessionId, ...rest] = ctx.parsed.positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(" ")} (one SESSION_ID at most)`);
  const pick = (k: string): Record<string, string> => (str(v[k]) === undefined ? {} : { [k === "revoke-for" ? "revokeFor" : k]: str(v[k]) ?? "" });
  return {
    ...(sessionId === undefined ? {} : { sessionId }),
    ...pick("user"),
    ...pick("email"),
    ...pick("group"),
    ...pick("reason"),
    ...pick("revoke-for"),
    all: v["all"] === true,
    yes: v["yes"] === true,
  };
}

async function wait(ctx: CommandContext, created: SessionTermination, timeoutMs: number): Promise<number> {
  const namespace = created.metadata.namespace ?? "";
  const name = created.metadata.name ?? "";
  let last = "";
  const show = (t: SessionTermination): void => {
    const line = progressLine(t);
    if (line === last) return;
    last = line;
    ctx.io.err(ctx.io.errIsTTY ? `\r\u001b[2K${line}` : `${line}\n`);
  };
  const done = await followTermination(ctx.kube(), namespace, name, show, { timeoutMs, signal: ctx.io.signal });
  if (ctx.io.errIsTTY) ctx.io.err("\n");
  if (done === undefined) {
    ctx.io.err(
      `error: ${SESSION_TERMINATION.singular} ${name} did not finish within ${timeoutMs / 1000}s; kubectl get sessiontermination ${name} -n ${namespace} -o yaml shows where it is\n`,
    );
    return EXIT.timeout;
  }
  const s = done.status ?? {};
  if (done.status?.phase === "Failed") {
    ctx.io.err(`error: ${SESSION_TERMINATION.singular} ${name} Failed: ${failureDetail(done)}\n`);
    return EXIT.terminationFailed;
  }
  const say = (ctx.parsed.global.output ?? "table") === "table" ? ctx.io.out : ctx.io.err;
  say(
    `${SESSION_TERMINATION.singular}.vigil.dev/${name} Completed: ${s.sessionsTerminated ?? 0} sessions, ${s.connectionsClosed ?? 0} connections ended, ${s.sidecarsAcknowledged ?? 0}/${s.sidecarsExpected ?? 0} sidecars acknowledged\n`,
  );
  return EXIT.ok;
}

export const terminateCommand: Command = {
  name: "terminate",
  summary: "End sessions now (creates a SessionTermination), optionally waiting for it",
  help: `End live access now: creates a SessionTermination in the namespace. Every sidecar of the namespace resets the
target's connections and refuses its sessions; with --revoke-for, the identity's existing tokens stay refused for that
long (a new login is required).

Usage:
  kubectl vigil terminate (SESSION_ID | --user U | --email E | --group G | --all --yes) --reason R [--revoke-for 1h] [--wait] [-o json|yaml|name]

Flags:
      --user U          every session of this subject
      --email E         every session of this email
      --group G         every session of members of this group
      --all             every session of the namespace's workloads (needs --yes)
      --yes             confirm --all
      --reason R        why (required; shown in the status, the Events and the sidecars' logs)
      --revoke-for D    keep the identity's existing tokens refused for D (e.g. 30m, 1h, 12h; at most 720h)
      --wait            follow it to Completed or Failed, with a progress line on stderr
      --timeout D       give up waiting after D (default 2m)

Exit status: 0 created (Completed with --wait), 5 Failed, 6 timed out, 3 not allowed, 2 bad usage, 1 other errors.

Examples:
  kubectl vigil terminate s_3q2xJ7b2cZy9Q8nR1vW0aQ -n shop --reason "lost laptop" --wait
  kubectl vigil terminate --email alice@example.com -n shop --reason offboarding --revoke-for 12h
  kubectl vigil terminate --all --yes -n shop --reason "incident 4711"`,
  options: {
    user: { type: "string" },
    email: { type: "string" },
    group: { type: "string" },
    all: { type: "boolean" },
    yes: { type: "boolean" },
    reason: { type: "string" },
    "revoke-for": { type: "string" },
    wait: { type: "boolean" },
    timeout: { type: "string" },
  },
  formats: ["table", "json", "yaml", "name"],
  async run(ctx) {
    if (ctx.parsed.global.allNamespaces) throw new UsageError("terminate acts in one namespace: use -n NAMESPACE, not -A");
    const request = requestOf(ctx);
    const timeout = str(ctx.parsed.values["timeout"]);
    const timeoutMs = timeout === undefined ? 120_000 : parseFlagDuration("timeout", timeout);
    const namespace = ctx.namespace();
    const kube = ctx.kube();
    const actor = await whoAmI(kube);
    const created = await createTermination(kube, namespace, request, actor, "kubectl-vigil");
    const name = created.metadata.name ?? "";
    const refused = await recordAudit(kube, {
      what: "terminate",
      namespace,
      ...(request.sessionId === undefined ? {} : { sessionId: request.sessionId }),
      actor,
      client: "kubectl-vigil",
      termination: name,
      message: `${CONSOLE_CODES.terminate.type}: ${name} requested by ${actor.username} with kubectl vigil: ${request.reason ?? ""}`,
    });
    if (refused !== undefined) ctx.io.err(`warning: the request could not be recorded as an Event: ${refused.message}\n`);
    const format = ctx.parsed.global.output ?? "table";
    if (format === "json" || format === "yaml") ctx.io.out(printObjects(format, [created], true));
    else if (format === "name") ctx.io.out(`${SESSION_TERMINATION.singular}.vigil.dev/${name}\n`);
    else ctx.io.out(`${SESSION_TERMINATION.singular}.vigil.dev/${name} created\n`);
    return ctx.parsed.values["wait"] === true ? wait(ctx, created, timeoutMs) : EXIT.ok;
  },
};
