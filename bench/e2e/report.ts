/** The tables and verdicts of `npm run bench:e2e` (bench/e2e.ts), from the rounds of bench/e2e/rounds.ts. */
import { num, table, verdict, verdictLines, type Verdict } from "../support/report.ts";
import { median, percentile } from "../support/stats.ts";
import type { PolicyRound, TerminationRound } from "./rounds.ts";

const finite = (xs: number[]): number[] => xs.map((t) => (Number.isNaN(t) ? Number.POSITIVE_INFINITY : t));
const p99 = (xs: number[]): number => percentile(finite(xs), 99);

function row(label: string, xs: number[]): string[] {
  const v = finite(xs);
  return [label, num(percentile(v, 50), 1), num(percentile(v, 99), 1), num(Math.min(...v), 1), num(Math.max(...v), 1)];
}

export interface Targets {
  /** From just before kubectl is spawned (issue 5's clock), in ms; undefined: printed without a target. */
  fromInvokeMs?: number;
  /** From kubectl returned (issue 11's clock: the part Vigil controls), in ms. */
  fromReturnMs?: number;
}

function verdicts(label: string, rounds: Array<{ allClosedMs: number; afterReturnMs: number }>, targets: Targets): Verdict[] {
  const out: Verdict[] = [];
  if (targets.fromInvokeMs !== undefined)
    out.push(verdict(`${label}, from invoking kubectl, p99`, p99(rounds.map((r) => r.allClosedMs)), "≤", targets.fromInvokeMs, " ms", 1));
  if (targets.fromReturnMs !== undefined)
    out.push(verdict(`${label}, from kubectl returned, p99`, p99(rounds.map((r) => r.afterReturnMs)), "≤", targets.fromReturnMs, " ms", 1));
  return out;
}

/** A termination scenario's table and verdicts; `label` names it (e.g. "(a) … 1,000 … 20 sidecars"). */
export function terminationReport(label: string, term: TerminationRound[], connections: number, targets: Targets): { lines: string[]; verdicts: Verdict[] } {
  const lines = [`${label} (ms)`];
  lines.push(
    table(
      ["", "p50", "p99", "min", "max"],
      [
        row(
          "before `kubectl create` → last reset",
          term.map((r) => r.allClosedMs),
        ),
        row(
          "`kubectl create` returned → last reset",
          term.map((r) => r.afterReturnMs),
        ),
        row(
          "`kubectl create` itself",
          term.map((r) => r.kubectlMs),
        ),
        row(
          "before `kubectl create` → first reset",
          term.map((r) => r.firstClosedMs),
        ),
        row(
          "operator: before create → Completed (polled)",
          term.map((r) => r.completedMs),
        ),
      ],
    ),
  );
  const allClosed = term.every((r) => r.closed === connections && Number.isFinite(r.allClosedMs));
  lines.push(
    `  all ${num(connections)} closed in every round: ${allClosed ? "yes" : "no"}; ECONNRESET seen per round min ${num(Math.min(...term.map((r) => r.resets)))}; ` +
      `Completed every round: ${term.every((r) => r.phase === "Completed") ? "yes" : "no"}; connections counted in status per round min ${num(Math.min(...term.map((r) => r.connectionsClosed)))}`,
  );
  const vs = verdicts(label.split(" ")[0] ?? label, term, targets);
  lines.push(verdictLines(vs), "");
  return { lines, verdicts: vs };
}

/** A policy-change scenario's table and verdicts. */
export function policyReport(label: string, pol: PolicyRound[], sidecars: number, targets: Targets): { lines: string[]; verdicts: Verdict[] } {
  const lines = [`${label} (ms)`];
  lines.push(
    table(
      ["", "p50", "p99", "min", "max"],
      [
        row(
          "before `kubectl apply` → last ops tunnel closed",
          pol.map((r) => r.allClosedMs),
        ),
        row(
          "`kubectl apply` returned → last closed (< 0: before kubectl exited)",
          pol.map((r) => r.afterReturnMs),
        ),
        row(
          "`kubectl apply` itself",
          pol.map((r) => r.kubectlMs),
        ),
      ],
    ),
  );
  lines.push(
    `  all ${sidecars} closed in every round: ${pol.every((r) => r.closed === sidecars && Number.isFinite(r.allClosedMs)) ? "yes" : "no"}; ` +
      `engineers tunnel (still allowed) survived every round: ${pol.every((r) => r.controlSurvived) ? "yes" : "no"}; re-allow → admitted everywhere median ${num(median(pol.map((r) => r.reallowMs)))} ms`,
  );
  const vs = verdicts(label.split(" ")[0] ?? label, pol, targets);
  lines.push(verdictLines(vs), "");
  return { lines, verdicts: vs };
}

export function summary(all: Verdict[]): string {
  const failed = all.filter((v) => !v.met);
  return `Targets met: ${all.length - failed.length}/${all.length}${failed.length > 0 ? `; not met: ${failed.map((v) => v.label).join("; ")}` : ""}`;
}
