/**
 * Go-style durations (`90s`, `30m`, `1h30m`, `1.5h`, `250ms`) as used in the CRDs.
 *
 * Contract: `parseDuration` returns seconds (a finite, non-negative number, possibly fractional for
 * sub-second units) or throws a `DurationError` with a stable `code`. No sign is accepted (Vigil's
 * durations are lengths of time), units are required except for the bare `0`, and values above Go's
 * own `time.Duration` range (~2,562,047 h) are refused, exactly as Go would.
 */

export const DURATION_INVALID = "DURATION_INVALID";
export const DURATION_OUT_OF_RANGE = "DURATION_OUT_OF_RANGE";
export type DurationErrorCode = typeof DURATION_INVALID | typeof DURATION_OUT_OF_RANGE;

export class DurationError extends Error {
  readonly code: DurationErrorCode;
  readonly input: string;

  constructor(code: DurationErrorCode, input: string, message: string) {
    super(message);
    this.name = "DurationError";
    this.code = code;
    this.input = input;
  }
}

/** Seconds per unit, longest suffix first so `ms` wins over `m`. */
const UNITS: readonly (readonly [string, number])[] = [
  ["ns", 1e-9],
  ["us", 1e-6],
  ["µs", 1e-6],
  ["μs", 1e-6],
  ["ms", 1e-3],
  ["h", 3600],
  ["m", 60],
  ["s", 1],
];

/** Go's time.Duration is an int64 of nanoseconds. */
const MAX_SECONDS = 2 ** 63 / 1e9;
const MAX_INPUT_LENGTH = 64;
const TERM = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|h|m|s)/u;

function describe(input: string): string {
  const shown = input.length > MAX_INPUT_LENGTH ? `${input.slice(0, MAX_INPUT_LENGTH)}…` : input;
  return JSON.stringify(shown);
}

function unitSeconds(unit: string): number {
  for (const [name, seconds] of UNITS) {
    if (name === unit) return seconds;
  }
  return Number.NaN;
}

/** Parses a Go duration into seconds; throws DurationError on anything else. */
export function parseDuration(input: string): number {
  const value: unknown = input;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_INPUT_LENGTH) {
    const shown = typeof value === "string" ? value : typeof value;
    throw new DurationError(DURATION_INVALID, shown, `invalid duration ${describe(shown)}`);
  }
  if (input === "0") return 0;
  let rest = input;
  let total = 0;
  while (rest.length > 0) {
    const match = TERM.exec(rest);
    if (match === null) {
      throw new DurationError(DURATION_INVALID, input, `invalid duration ${describe(input)}: expected terms like 1h, 30m, 90s, 250ms`);
    }
    const [whole, amount = "", unit = ""] = match;
    total += Number(amount) * unitSeconds(unit);
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total) || total > MAX_SECONDS) {
    throw new DurationError(DURATION_OUT_OF_RANGE, input, `duration ${describe(input)} is out of range`);
  }
  return total;
}

/** Like parseDuration but returns a result instead of throwing. */
export function tryParseDuration(input: string): { ok: true; seconds: number } | { ok: false; error: DurationError } {
  try {
    return { ok: true, seconds: parseDuration(input) };
  } catch (error: unknown) {
    if (error instanceof DurationError) return { ok: false, error };
    throw error;
  }
}
