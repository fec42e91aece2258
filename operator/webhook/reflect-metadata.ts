/**
 * The few `Reflect` metadata functions @peculiar/x509's dependency injection (tsyringe) needs at import time
 * (`defineMetadata`, `getOwnMetadata`, `getMetadata`, `hasMetadata`, `metadata`), for when no `reflect-metadata`
 * polyfill is installed. Import this module BEFORE `@peculiar/x509` (ES modules evaluate in import order).
 * It installs nothing if a polyfill is already present. Metadata lives in a WeakMap keyed by target and property.
 */

type Target = object;
const store = new WeakMap<Target, Map<string | symbol | undefined, Map<unknown, unknown>>>();

function table(target: Target, property: string | symbol | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (byProperty === undefined) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (entries === undefined && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

function getOwnMetadata(key: unknown, target: Target, property?: string | symbol): unknown {
  return table(target, property, false)?.get(key);
}

function getMetadata(key: unknown, target: Target, property?: string | symbol): unknown {
  for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
    const entries = table(t, property, false);
    if (entries?.has(key) === true) return entries.get(key);
  }
  return undefined;
}

function defineMetadata(key: unknown, value: unknown, target: Target, property?: string | symbol): void {
  table(target, property, true)?.set(key, value);
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R["getMetadata"] !== "function") {
  Object.assign(R, {
    getOwnMetadata,
    getMetadata,
    defineMetadata,
    hasMetadata: (key: unknown, target: Target, property?: string | symbol): boolean => getMetadata(key, target, property) !== undefined,
    metadata:
      (key: unknown, value: unknown) =>
      (target: Target, property?: string | symbol): void => {
        defineMetadata(key, value, target, property);
      },
  });
}
