/**
 * compileAccessPolicy once per policy OBJECT: the informer replaces a cached object on every change and never
 * mutates it, and compiling is pure and deterministic, so an object's result never changes. The policy reconciler
 * (every resync reconciles every policy) and the bus controller's desired state (every resync period, every
 * policy, under the gate every publish waits for) share the results; a changed policy is a new object, compiled anew.
 * Callers must treat the result as read-only (it is shared).
 */
import { oncePerObject } from "../../lib/memo.ts";
import { compileAccessPolicy } from "./compile.ts";

export const compileOnce = oncePerObject(compileAccessPolicy);
