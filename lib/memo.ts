/**
 * `fn` computed once per argument object, the result kept as long as the object lives (a WeakMap). For objects that
 * are never mutated — informer cache entries (a change replaces the object), token principals, parsed configuration
 * lists — whose derived value therefore never changes. A hit is one WeakMap lookup. Callers treat the result as
 * read-only: it is shared.
 */
export function oncePerObject<K extends WeakKey, V>(fn: (key: K) => V): (key: K) => V {
  const results = new WeakMap<K, V>();
  return (key) => {
    const hit = results.get(key);
    if (hit !== undefined || results.has(key)) return hit as V;
    const value = fn(key);
    results.set(key, value);
    return value;
  };
}
