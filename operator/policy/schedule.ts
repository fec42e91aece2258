import type { CompiledSchedule } from "../api/compiled-policy.ts";
import type { Schedule, TimeWindow, Weekday } from "../api/v1alpha1/index.ts";
import { sortUniqueByJson } from "./canonical-json.ts";
import { Findings, quote } from "./findings.ts";
import { PROBLEM_REASONS as P } from "./reasons.ts";

export const WEEK: readonly Weekday[] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/u;
const MINUTES_PER_DAY = 24 * 60;

/**
 * Canonical IANA name for a time zone (`europe/paris` → `Europe/Paris`), or null when the runtime's
 * ICU data does not know it.
 */
export function canonicalTimeZone(name: string): string | null {
  if (typeof name !== "string" || name.length === 0 || name.length > 64) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** `HH:MM` → minutes after midnight; `24:00` is accepted as an end of day. */
export function parseClock(text: string, allowEndOfDay: boolean): number | null {
  if (allowEndOfDay && text === "24:00") return MINUTES_PER_DAY;
  const match = typeof text === "string" ? HHMM.exec(text) : null;
  if (match === null) return null;
  return Number(match[1]) * 60 + Number(match[2]);
}

export function compileSchedule(schedule: Schedule, field: string, findings: Findings): CompiledSchedule | null {
  const before = findings.problems.length;
  const timeZone = canonicalTimeZone(schedule.timeZone ?? "UTC");
  if (timeZone === null) {
    findings.problem(P.UnknownTimeZone, `${field}.timeZone`, `${quote(schedule.timeZone)} is not a known IANA time zone`);
  }
  const windows: CompiledSchedule["windows"] = [];
  if (schedule.windows.length === 0) {
    findings.problem(P.ScheduleNeverMatches, `${field}.windows`, "a schedule with no windows never matches; omit schedule to match at any time");
  }
  schedule.windows.forEach((window, i) => {
    const compiled = compileWindow(window, `${field}.windows[${i}]`, findings);
    if (compiled !== null) windows.push(compiled);
  });
  if (timeZone === null || findings.problems.length !== before) return null;
  return { timeZone, windows: sortUniqueByJson(windows) };
}

function compileWindow(window: TimeWindow, field: string, findings: Findings): CompiledSchedule["windows"][number] | null {
  const startMinute = parseClock(window.start, false);
  const endMinute = parseClock(window.end, true);
  const days = window.days === undefined ? [...WEEK] : WEEK.filter((d) => window.days?.includes(d));
  const unknownDays = (window.days ?? []).filter((d) => !WEEK.includes(d));
  if (startMinute === null || endMinute === null) {
    findings.problem(P.InvalidTimeWindow, field, `start ${quote(window.start)} and end ${quote(window.end)} must be HH:MM (24h)`);
    return null;
  }
  if (unknownDays.length > 0) {
    findings.problem(P.InvalidTimeWindow, `${field}.days`, `unknown days ${unknownDays.map(quote).join(", ")}; use ${WEEK.join(", ")}`);
    return null;
  }
  if (startMinute >= endMinute) {
    findings.problem(P.ScheduleNeverMatches, field, `window ${window.start}-${window.end} never occurs: start must be before end`);
    return null;
  }
  if (days.length === 0) {
    findings.problem(P.ScheduleNeverMatches, `${field}.days`, "a window with an empty list of days never occurs; omit days for every day");
    return null;
  }
  return { days, startMinute, endMinute };
}
