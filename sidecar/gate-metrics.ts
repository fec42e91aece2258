/**
 * The admission gate with its metrics: decision latency (`vigil_sidecar_decision_seconds`, authentication included)
 * and decisions by result and code. Counters per code are created on first use, so label hashing is not repeated
 * per request. Refusals thrown before a decision (POLICY_STALE) are not decisions.
 */
import type { Decision } from "./auth/types.ts";
import type { Gate } from "./gate.ts";
import type { SidecarMetrics } from "./metrics.ts";

export function instrumentGate(gate: Gate, metrics: Pick<SidecarMetrics, "decisions" | "decisionSeconds">): Gate {
  const counters = new Map<string, { inc(): void }>();
  const count = (decision: Decision): void => {
    const code = decision.allowed ? "ALLOWED" : decision.code;
    let counter = counters.get(code);
    if (counter === undefined) {
      counter = metrics.decisions.labels({ result: decision.allowed ? "allow" : "deny", code });
      counters.set(code, counter);
    }
    counter.inc();
  };
  return {
    async authenticate(req, ctx) {
      const started = performance.now();
      try {
        return await gate.authenticate(req, ctx);
      } finally {
        metrics.decisionSeconds.observe((performance.now() - started) / 1000);
      }
    },
    authorizeRequest(principal, facts) {
      const decision = gate.authorizeRequest(principal, facts);
      count(decision);
      return decision;
    },
    stillAllowed: (flow) => gate.stillAllowed(flow),
  };
}
