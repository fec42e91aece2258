import type { Ack, Heartbeat, Revocation } from "../../operator/api/bus/messages.ts";
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import { compileAccessPolicy } from "../../operator/policy/compile.ts";
import { accessPolicy, allow, deny, inNamespace, withRule, type PolicyOption } from "./access-policy.ts";

/** A compiled policy exercising every matcher kind. */
export function compiledPolicy(name = "web", ...options: PolicyOption[]): CompiledPolicy {
  const result = compileAccessPolicy(
    accessPolicy(
      name,
      withRule(
        allow("staff", {
          identities: [{ group: "staff" }, { email: "a@example.com" }, { claim: { name: "team", values: ["x"] } }],
          requests: [
            { methods: ["GET"], paths: ["/docs/*", "/health"], hosts: ["*.example.com"] },
            { methods: ["CONNECT"], ports: [22] },
          ],
          sourceCIDRs: ["10.0.0.0/8", "2001:db8::/32"],
          schedule: { timeZone: "Europe/Paris", windows: [{ days: ["Mon"], start: "09:00", end: "17:00" }] },
        }),
        deny("contractors", { identities: [{ emailDomain: "contractor.example" }] }),
      ),
      ...options,
    ),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

export function compiledIn(namespace: string, name: string, ...options: PolicyOption[]): CompiledPolicy {
  return compiledPolicy(name, inNamespace(namespace), ...options);
}

export function revocation(fields: Partial<Revocation> = {}): Revocation {
  return {
    id: "default/cut-alice/uid-1",
    namespace: "default",
    selector: { kind: "email", email: "alice@example.com" },
    reason: "laptop stolen",
    tokensIssuedBefore: 1_700_000_000_000,
    expiresAt: 1_700_028_800_000,
    ...fields,
  };
}

export function heartbeat(fields: Partial<Heartbeat> = {}): Heartbeat {
  return { v: 2, pod: "web-0", namespace: "default", labels: { app: "web" }, epoch: "", appliedRevision: 7, integrity: "", at: 1_700_000_000_000, ...fields };
}

export function ack(fields: Partial<Ack> = {}): Ack {
  return {
    v: 2,
    terminationId: "default/cut-alice/uid-1",
    pod: "web-0",
    namespace: "default",
    sessionsTerminated: 2,
    connectionsClosed: 5,
    at: 1_700_000_000_000,
    ...fields,
  };
}
