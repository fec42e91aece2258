/**
 * What the bus must hold according to the cached resources (`desiredBusState`), for the bus controller's sync and
 * rebuild. It runs under the exclusive side of the publish gate (every reconciler publish waits meanwhile), once per
 * resync period, over every cached policy and termination: what it derives from an object is kept per object.
 *
 * The informer replaces a cached object on every change and never mutates it, so a policy object's compiled form
 * and a termination object's revocation (for the same clock skew and lifetime) never change: each is computed once
 * per object (WeakMaps, dropped with the object). A sync after a resync of 1,200 policies and 10,200 terminations
 * compiles nothing and builds no revocation; it re-derives only the objects that changed since the last one.
 */
import type { Revocation } from "../api/bus/messages.ts";
import type { CompiledPolicy } from "../api/compiled-policy.ts";
import type { AccessPolicy, SessionTermination } from "../api/v1alpha1/index.ts";
import type { DesiredBus } from "../bus/published.ts";
import type { Informer } from "../kube/informer.ts";
import { compileOnce } from "../policy/compile-once.ts";
import { absoluteTimeoutsIn, revocationOf } from "./session-termination.ts";
import { longestTimeoutSeconds, revocationLifetimeMs } from "./termination-plan.ts";

/** Objects handled between two yields to the event loop (the Lease renewal, the watches and Redis must run). */
const YIELD_EVERY = 200;

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface KnownRevocation {
  skewMs: number;
  lifetimeMs: number;
  revocation: Revocation | undefined;
}

const revocations = new WeakMap<SessionTermination, KnownRevocation>();

/** revocationOf(t, skewMs, lifetimeMs), once per termination object and (skew, lifetime). */
function revocationOnce(t: SessionTermination, skewMs: number, lifetimeMs: number): Revocation | undefined {
  const known = revocations.get(t);
  if (known?.skewMs === skewMs && known.lifetimeMs === lifetimeMs) return known.revocation;
  const revocation = revocationOf(t, skewMs, lifetimeMs);
  revocations.set(t, { skewMs, lifetimeMs, revocation });
  return revocation;
}

/**
 * The desired bus. The caches are read once (a snapshot of each); it yields to the event loop every YIELD_EVERY
 * objects, so what compiling new objects costs never blocks the event loop throughout.
 */
export async function desiredBusState(
  policies: Pick<Informer<AccessPolicy>, "list">,
  terminations: Pick<Informer<SessionTermination>, "list">,
  sidecarNamespaces: Iterable<string>,
  skewMs: number,
): Promise<DesiredBus> {
  let handled = 0;
  const compiled: CompiledPolicy[] = [];
  for (const policy of policies.list()) {
    if (++handled % YIELD_EVERY === 0) await yieldToLoop();
    if (policy.metadata.deletionTimestamp !== undefined) continue;
    const result = compileOnce(policy);
    if (result.ok) compiled.push(result.policy);
  }
  const wanted: Revocation[] = [];
  // Once per namespace, not per termination: 10,000 terminations × 1,200 policies was a 3–5 s synchronous step.
  const timeouts = new Map<string, number[]>();
  for (const t of terminations.list()) {
    if (++handled % YIELD_EVERY === 0) await yieldToLoop();
    const namespace = t.metadata.namespace ?? "";
    let namespaceTimeouts = timeouts.get(namespace);
    if (namespaceTimeouts === undefined) {
      // The longest only (all revocationLifetimeMs takes of them): not a pass over every policy per termination.
      namespaceTimeouts = [longestTimeoutSeconds(absoluteTimeoutsIn(policies, namespace))];
      timeouts.set(namespace, namespaceTimeouts);
    }
    // The same lifetime the termination reconciler uses before it has a plan (a termination published without one
    // yet must not look deleted).
    const record = revocationOnce(t, skewMs, revocationLifetimeMs(t.spec.revokeFor, namespaceTimeouts));
    if (record !== undefined) wanted.push(record);
  }
  return { policies: compiled, revocations: wanted, namespaces: sidecarNamespaces };
}
