/**
 * Hand-written structural validators for bus messages. Each reads an `unknown` JSON value and
 * returns a freshly built, fully typed copy (unknown fields dropped, records rebuilt with
 * Object.fromEntries so no prototype is ever touched), or throws FieldError naming the bad field.
 * FieldError never escapes bus-codec.ts.
 */

export class FieldError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "FieldError";
    this.field = field;
  }
}

export type Reader<T> = (value: unknown, field: string) => T;

const MAX_STRING = 64 * 1024;
const MAX_ITEMS = 10_000;

export function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FieldError(field, "must be an object");
  }
  return value as Record<string, unknown>;
}

export function string(value: unknown, field: string, min = 1, max = MAX_STRING): string {
  if (typeof value !== "string") throw new FieldError(field, "must be a string");
  if (value.length < min || value.length > max) throw new FieldError(field, `length must be ${min}-${max}`);
  return value;
}

export function matching(value: unknown, field: string, pattern: RegExp, what: string): string {
  const text = string(value, field);
  if (!pattern.test(text)) throw new FieldError(field, `must be ${what}`);
  return text;
}

export function integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new FieldError(field, `must be an integer in ${min}..${max}`);
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new FieldError(field, `must be one of ${allowed.join(", ")}`);
  return found;
}

export function literal<T extends string | number>(value: unknown, field: string, expected: T): T {
  if (value !== expected) throw new FieldError(field, `must be ${JSON.stringify(expected)}`);
  return expected;
}

export function array<T>(value: unknown, field: string, item: Reader<T>, max = MAX_ITEMS): T[] {
  if (!Array.isArray(value)) throw new FieldError(field, "must be an array");
  if (value.length > max) throw new FieldError(field, `must have at most ${max} items`);
  return value.map((v: unknown, i) => item(v, `${field}[${i}]`));
}

export function record<T>(value: unknown, field: string, item: Reader<T>, max = MAX_ITEMS): Record<string, T> {
  const source = object(value, field);
  const keys = Object.keys(source);
  if (keys.length > max) throw new FieldError(field, `must have at most ${max} entries`);
  return Object.fromEntries(
    keys.map((key) => {
      string(key, `${field} key`, 1, 1024);
      return [key, item(source[key], `${field}.${key}`)];
    }),
  );
}

export function optional<T>(value: unknown, field: string, item: Reader<T>): T | undefined {
  return value === undefined ? undefined : item(value, field);
}

export const anyString: Reader<string> = (v, f) => string(v, f);
export const anyStringOrEmpty: Reader<string> = (v, f) => string(v, f, 0);
