import { availableParallelism, loadavg } from "node:os";

/** Plain-text tables and target verdicts for the benchmark's printout. */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export interface Verdict {
  label: string;
  value: string;
  target: string;
  met: boolean;
}

/** `value` compared with `target` (≥ or ≤); NaN never meets a target. */
export function verdict(label: string, value: number, op: "≥" | "≤", target: number, unit = "", digits = 2): Verdict {
  const met = Number.isFinite(value) && (op === "≥" ? value >= target : value <= target);
  return { label, value: `${num(value, digits)}${unit}`, target: `${op} ${num(target, digits)}${unit}`, met };
}

export function verdictLines(verdicts: Verdict[]): string {
  const w = Math.max(...verdicts.map((v) => v.label.length));
  const vw = Math.max(...verdicts.map((v) => v.value.length));
  return verdicts.map((v) => `  ${v.label.padEnd(w)}  ${v.value.padStart(vw)}   target ${v.target} : ${v.met ? "yes" : "no"}`).join("\n");
}

/** The run's context line: date, Node, usable cores and load average (the machines are shared and noisy). */
export function machineLine(): string {
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return `date ${new Date().toISOString()}  node ${process.version}  nproc ${availableParallelism()}  load average ${num(l1, 2)} ${num(l5, 2)} ${num(l15, 2)}`;
}
