/**
 * The admission gate with its instrumentation: metrics — decision latency (`vigil_sidecar_decision_seconds`,
 * authentication included) and decisions by result and code; counters per code are created on first use, so label
 * hashing is not repeated per request; refusals thrown before a decision (POLICY_STALE) are not decisions — and an
 * optional observer (the audit, sidecar/audit/sidecar-audit.ts) told of every decision and of every refusal thrown
 * by authentication or authorization. One wrapper, so the request path pays for one layer.
 */
import type { Decision, Principal, RequestFacts } from "./auth/types.ts";
import type { Gate } from "./gate.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { AuthContext } from "./proxy/context.ts";

export interface GateObserver {
  /** A decision (allowed or not). Called on the request path: must not allocate in the common case. */
  decided(principal: Principal, facts: RequestFacts, decision: Decision): void;
  /** A refusal thrown by authentication (`principal` undefined) or by authorization (e.g. POLICY_STALE). */
  refused(principal: Principal | undefined, clientIp: string, kind: AuthContext["kind"], err: unknown): void;
}

export function instrumentGate(gate: Gate, metrics: Pick<SidecarMetrics, "decisions" | "decisionSeconds">, observer?: GateObserver): Gate {
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
      } catch (err) {
        observer?.refused(undefined, ctx.clientIp, ctx.kind, err);
        throw err;
      } finally {
        metrics.decisionSeconds.observe((performance.now() - started) / 1000);
      }
    },
    authorizeRequest(principal, facts) {
      let decision;
      try {
        decision = gate.authorizeRequest(principal, facts);
      } catch (err) {
        observer?.refused(principal, facts.clientIp, facts.method === "CONNECT" ? "tunnel" : "http", err);
        throw err;
      }
      count(decision);
      observer?.decided(principal, facts, decision);
      return decision;
    },
    stillAllowed: (flow) => gate.stillAllowed(flow),
  };
}
