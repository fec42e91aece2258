/**
 * `kubectl vigil sessions [--user U] [--group G] [--workload W] [--state S]` — the session list (server-side
 * filtering through the sessions API's field selectors), and `kubectl vigil sessions get s_…` — one session with
 * its flows and audit timeline (every namespace's part with -A). Viewing a session is recorded (console-0003).
 */
import { SESSION_ID_PATTERN, VIGIL_SESSION, type VigilSession } from "../../operator/api/sessions/v1alpha1.ts";
import { CONSOLE_CODES } from "../core/audit.ts";
import { EXIT } from "../core/exit-codes.ts";
import { printObjects } from "../core/output.ts";
import { describeSession, sessionFieldSelector, sessionsTable, userOf, type SessionFilters, type TimelineEntry } from "../core/sessions.ts";
import { recordAudit, vigilEvents } from "../kube/audit-trail.ts";
import { UsageError } from "../kube/errors.ts";
import { listSessions, whoAmI } from "../kube/resources.ts";
import type { Command, CommandContext } from "../command.ts";

const str = (v: string | boolean | undefined): string | undefined => (typeof v === "string" ? v : undefined);

function filtersOf(ctx: CommandContext): SessionFilters {
  const v = ctx.parsed.values;
  return {
    ...(str(v["user"]) === undefined ? {} : { user: str(v["user"]) ?? "" }),
    ...(str(v["group"]) === undefined ? {} : { group: str(v["group"]) ?? "" }),
    ...(str(v["workload"]) === undefined ? {} : { workload: str(v["workload"]) ?? "" }),
    ...(str(v["state"]) === undefined ? {} : { state: str(v["state"]) ?? "" }),
  };
}

async function list(ctx: CommandContext): Promise<number> {
  const scope = ctx.scope();
  const selector = sessionFieldSelector(filtersOf(ctx));
  const { items } = await listSessions(ctx.kube(), scope, selector);
  const format = ctx.parsed.global.output ?? "table";
  if (format === "json" || format === "yaml") ctx.io.out(printObjects(format, items, false));
  else if (format === "name") ctx.io.out(items.map((s) => `${VIGIL_SESSION.singular}.sessions.vigil.dev/${s.metadata.name}\n`).join(""));
  else if (items.length === 0) ctx.io.err(scope === null ? "No sessions found.\n" : `No sessions found in ${scope} namespace.\n`);
  else ctx.io.out(sessionsTable(items, Date.now(), { wide: format === "wide", withNamespace: scope === null }));
  return EXIT.ok;
}

async function get(ctx: CommandContext, id: string): Promise<number> {
  if (!SESSION_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not a session id (s_ and 22 characters); kubectl vigil sessions lists them`);
  const kube = ctx.kube();
  const scope = ctx.scope();
  const { items } = await listSessions(kube, scope, sessionFieldSelector({}, id));
  if (items.length === 0) {
    ctx.io.err(`session ${id} not found ${scope === null ? "in any namespace you may read" : `in namespace ${scope} (try -A)`}\n`);
    return EXIT.notFound;
  }
  await recordViews(ctx, items);
  const format = ctx.parsed.global.output ?? "table";
  if (format === "json" || format === "yaml") ctx.io.out(printObjects(format, items, true));
  else if (format === "name") ctx.io.out(`${VIGIL_SESSION.singular}.sessions.vigil.dev/${id}\n`);
  else {
    const extra: TimelineEntry[] = [];
    for (const s of items) {
      const events = await vigilEvents(kube, s.metadata.namespace, `involvedObject.name=${id}`).catch(() => []);
      extra.push(...events.map((e) => ({ time: e.time, code: e.code, type: e.type, outcome: e.outcome, detail: e.reason, namespace: e.namespace })));
    }
    ctx.io.out(describeSession(items, extra, Date.now()));
  }
  return EXIT.ok;
}

/** One Event per namespace part; a refusal is said on stderr, the view goes on (the API server's audit log has it). */
async function recordViews(ctx: CommandContext, parts: readonly VigilSession[]): Promise<void> {
  const kube = ctx.kube();
  const actor = await whoAmI(kube);
  for (const s of parts) {
    const refused = await recordAudit(kube, {
      what: "view",
      namespace: s.metadata.namespace,
      sessionId: s.metadata.name,
      sessionUser: userOf(s),
      actor,
      client: "kubectl-vigil",
      message: `${CONSOLE_CODES.view.type}: session viewed by ${actor.username} with kubectl vigil`,
    });
    if (refused !== undefined) ctx.io.err(`warning: this view could not be recorded as an Event in ${s.metadata.namespace}: ${refused.message}\n`);
  }
}

export const sessionsCommand: Command = {
  name: "sessions",
  summary: "List sessions, or show one with its flows and audit timeline",
  help: `List the sessions of the namespace (or every namespace with -A), newest activity first as the API serves them.
Show one session, with every namespace's part, its live flows and its audit timeline, with "get".

Usage:
  kubectl vigil sessions [--user U] [--group G] [--workload W] [--state Active|Idle|Ended] [-o table|wide|json|yaml|name]
  kubectl vigil sessions get SESSION_ID [-o table|json|yaml|name]

Flags:
      --user U        sessions of this subject or email
      --group G       sessions of members of this group
      --workload W    sessions that reached this workload (Deployment name or pod)
      --state S       Active, Idle or Ended

Examples:
  kubectl vigil sessions -n shop
  kubectl vigil sessions -A --user alice@example.com -o wide
  kubectl vigil sessions get s_3q2xJ7b2cZy9Q8nR1vW0aQ -A
  kubectl vigil sessions --state Active -o name | wc -l`,
  options: {
    user: { type: "string" },
    group: { type: "string" },
    workload: { type: "string" },
    state: { type: "string" },
  },
  formats: ["table", "wide", "json", "yaml", "name"],
  async run(ctx) {
    const [sub, id, ...rest] = ctx.parsed.positionals;
    if (sub === undefined) return list(ctx);
    if (sub !== "get") throw new UsageError(`unknown argument "${sub}"; did you mean kubectl vigil sessions get ${sub}?`);
    if (id === undefined) throw new UsageError("kubectl vigil sessions get needs a SESSION_ID (s_…)");
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(" ")}`);
    return get(ctx, id);
  },
};
