import { describe, expect, it } from "vitest";
import { parseCommandLine, parseFlagDuration } from "../../../cli/core/args.ts";
import { auditCsv, csvCell, filterAudit, type AuditEvent } from "../../../cli/core/audit.ts";
import { sessionFieldSelector } from "../../../cli/core/sessions.ts";
import { progressLine, terminationObject } from "../../../cli/core/termination.ts";
import { parseMetrics } from "../../../cli/core/status.ts";
import { UsageError } from "../../../cli/kube/errors.ts";

describe("kubectl-vigil's pure core", () => {
  it("parses global flags anywhere and refuses bad formats and -n with -A", () => {
    const p = parseCommandLine(["--user", "a", "-n", "shop", "-o", "wide"], { user: { type: "string" } }, ["table", "wide"], "sessions");
    expect(p.global).toMatchObject({ namespace: "shop", output: "wide", allNamespaces: false });
    expect(p.values["user"]).toBe("a");
    expect(() => parseCommandLine(["-o", "xml"], {}, ["table"], "sessions")).toThrow(/unknown output format "xml"/);
    expect(() => parseCommandLine(["-o", "csv"], {}, ["table"], "sessions")).toThrow(/cannot print -o csv/);
    expect(() => parseCommandLine(["-n", "a", "-A"], {}, ["table"], "x")).toThrow(UsageError);
    expect(() => parseCommandLine(["--nope"], {}, ["table"], "x")).toThrow(/see kubectl vigil x -h/);
  });

  it("reads Go-style durations", () => {
    expect(parseFlagDuration("since", "1h30m")).toBe(5_400_000);
    expect(parseFlagDuration("since", "90s")).toBe(90_000);
    expect(() => parseFlagDuration("since", "1 hour")).toThrow(/--since 1 hour/);
  });

  it("escapes field-selector values and spells states as the API does", () => {
    expect(sessionFieldSelector({ user: "a,b=c\\d", state: "active" })).toBe("user=a\\,b\\=c\\\\d,state=Active");
    expect(sessionFieldSelector({}, "s_x")).toBe("metadata.name=s_x");
  });

  it("builds one-target terminations with a reason, confirmation for --all", () => {
    const t = terminationObject("shop", { email: "Alice@Example.com", reason: " why ", revokeFor: "1h" }, "admin", "p");
    expect(t.spec).toEqual({ target: { email: "alice@example.com" }, reason: "why", revokeFor: "1h" });
    expect(t.metadata.annotations?.["vigil.dev/requested-by"]).toBe("admin");
    expect(terminationObject("shop", { all: true, yes: true, reason: "r" }, "a", "p").spec).toMatchObject({
      target: { allSessions: true },
      confirmation: "TerminateAllSessionsInNamespace",
    });
    expect(() => terminationObject("shop", { all: true, reason: "r" }, "a", "p")).toThrow(/--yes/);
    expect(() => terminationObject("shop", { user: "a", group: "b", reason: "r" }, "a", "p")).toThrow(/one target only/);
    expect(() => terminationObject("shop", { user: "a", reason: "r", revokeFor: "soon" }, "a", "p")).toThrow(/--revoke-for soon/);
    expect(
      progressLine({ ...t, status: { phase: "Propagating", sidecarsAcknowledged: 1, sidecarsExpected: 2, sessionsTerminated: 1, connectionsClosed: 3 } }),
    ).toBe("Propagating: 1/2 sidecars acknowledged, 1 session, 3 connections ended");
  });

  it("writes CSV that a spreadsheet cannot run as formulas, and filters by time and user", () => {
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    const e: AuditEvent = {
      time: "2026-01-01T00:00:00Z",
      code: "VC001I",
      type: "console.view",
      outcome: "success",
      user: "Alice@x",
      actor: "admin",
      namespace: "n",
      session: "s",
      pod: "",
      reason: "r",
      source: "kubernetes",
    };
    expect(auditCsv([e]).split("\r\n")[1]).toBe("2026-01-01T00:00:00Z,VC001I,console.view,success,Alice@x,admin,n,s,,r,kubernetes");
    expect(filterAudit([e], { user: "alice@x" })).toHaveLength(1);
    expect(filterAudit([e], { user: "bob" })).toHaveLength(0);
    expect(filterAudit([e], { since: Date.parse("2026-01-02T00:00:00Z") })).toHaveLength(0);
  });

  it("sums the operator metrics status shows", () => {
    const text =
      '# HELP x\nvigil_operator_sidecars_known 3\nvigil_operator_workqueue_depth{queue="a"} 1\nvigil_operator_workqueue_depth{queue="b"} 2\nvigil_operator_sidecars_known_other 9\n';
    expect(parseMetrics(text)).toEqual({ sidecarsKnown: 3, queueDepth: 3 });
  });
});
