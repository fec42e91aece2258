/**
 * Exponential backoff with bounded jitter, shared by the work queue (per-key failures) and the informer (watch
 * restarts). Pure: the randomness is a function argument (default: node:crypto), so tests are deterministic.
 *
 * delay(n) = min(cap, base · 2ⁿ) · (1 − jitter · r), r ∈ [0, 1): at most the exponential value, at least
 * (1 − jitter) of it, so retries of many keys or many replicas spread out instead of arriving together.
 */
import { randomInt } from "node:crypto";

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  /** Fraction of the delay that is randomised away, 0..1. */
  readonly jitter: number;
}

/** A uniform number in [0, 1) from the CSPRNG. */
export function cryptoUnit(): number {
  return randomInt(0, 2 ** 32) / 2 ** 32;
}

export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number = cryptoUnit): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(failures, 0), 52));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(0, Math.round(exp * (1 - policy.jitter * r)));
}

/** Per-key failure counts (client-go ItemExponentialFailureRateLimiter with jitter). */
export class KeyedBackoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  readonly #failures = new Map<string, number>();

  constructor(policy: BackoffPolicy, random: () => number = cryptoUnit) {
    this.#policy = policy;
    this.#random = random;
  }

  /** The delay before the next retry of `key`; counts one more failure. */
  next(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return backoffDelay(this.#policy, n, this.#random);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }
}
