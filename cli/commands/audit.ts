/**
 * `kubectl vigil audit [--since 1h] [--user U] [--session S] [--code C] [-o table|json|csv]` — the audit events
 * the API exposes (cli/kube/audit-trail.ts), oldest first, for a SIEM or a spreadsheet.
 */
import { parseFlagDuration } from "../core/args.ts";
import { auditCsv, filterAudit, type AuditFilter } from "../core/audit.ts";
import { EXIT } from "../core/exit-codes.ts";
import { asJson } from "../core/output.ts";
import { orNone, renderTable } from "../core/table.ts";
import { sessionsAndEventsSource } from "../kube/audit-trail.ts";
import type { Command } from "../command.ts";

const str = (v: string | boolean | undefined): string | undefined => (typeof v === "string" ? v : undefined);

export const auditCommand: Command = {
  name: "audit",
  summary: "Audit events: session activity, views and terminations, for export",
  help: `The audit events the API exposes, oldest first: what the sidecars reported on each session (flows, refusals,
ends) and what people did (a session viewed in the console or with kubectl vigil, a termination requested).

Usage:
  kubectl vigil audit [--since 1h] [--user U] [--session SESSION_ID] [--code CODE] [-o table|json|csv]

Flags:
      --since D       only events of the last D (e.g. 15m, 1h, 24h)
      --user U        events about or by this user (email or subject)
      --session S     events of one session
      --code C        events with this code (e.g. VC001I: a session viewed)

Examples:
  kubectl vigil audit -A --since 24h -o csv > vigil-audit.csv
  kubectl vigil audit -n shop --user alice@example.com -o json | jq '.[] | select(.type == "console.view")'`,
  options: {
    since: { type: "string" },
    user: { type: "string" },
    session: { type: "string" },
    code: { type: "string" },
  },
  formats: ["table", "json", "csv"],
  async run(ctx) {
    const v = ctx.parsed.values;
    const since = str(v["since"]);
    const filter: AuditFilter = {
      ...(since === undefined ? {} : { since: Date.now() - parseFlagDuration("since", since) }),
      ...(str(v["user"]) === undefined ? {} : { user: str(v["user"]) ?? "" }),
      ...(str(v["session"]) === undefined ? {} : { session: str(v["session"]) ?? "" }),
      ...(str(v["code"]) === undefined ? {} : { code: str(v["code"]) ?? "" }),
    };
    const scope = ctx.scope();
    const events = filterAudit(await sessionsAndEventsSource(ctx.kube()).read(scope), filter);
    const format = ctx.parsed.global.output ?? "table";
    if (format === "json") ctx.io.out(asJson(events));
    else if (format === "csv") ctx.io.out(auditCsv(events));
    else if (events.length === 0) ctx.io.err("No audit events found.\n");
    else {
      const rows = events.map((e) => [e.time, e.namespace, orNone(e.code), e.type, orNone(e.user), orNone(e.actor), orNone(e.session), orNone(e.reason)]);
      ctx.io.out(renderTable(["TIME", "NAMESPACE", "CODE", "EVENT", "USER", "ACTOR", "SESSION", "DETAIL"], rows));
    }
    return EXIT.ok;
  },
};
