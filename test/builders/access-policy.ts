import type { AccessPolicy, AccessRule, FailureMode, LabelSelector, SessionSettings } from "../../operator/api/v1alpha1/index.ts";

/** Test builders: `accessPolicy("web", withRule(allow("staff", { identities: [{ group: "staff" }] })))`. */
export type PolicyOption = (policy: AccessPolicy) => AccessPolicy;

export function accessPolicy(name: string, ...options: PolicyOption[]): AccessPolicy {
  const base: AccessPolicy = {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name, namespace: "default", uid: `uid-${name}`, generation: 1 },
    spec: { selector: { matchLabels: { app: name } }, rules: [] },
  };
  return options.reduce((policy, option) => option(policy), base);
}

export function allow(name: string, fields: Omit<AccessRule, "name" | "action"> = {}): AccessRule {
  return { name, action: "Allow", ...fields };
}

export function deny(name: string, fields: Omit<AccessRule, "name" | "action"> = {}): AccessRule {
  return { name, action: "Deny", ...fields };
}

export function withRule(...rules: AccessRule[]): PolicyOption {
  return (p) => ({ ...p, spec: { ...p.spec, rules: [...p.spec.rules, ...rules] } });
}

export function withSelector(selector: LabelSelector): PolicyOption {
  return (p) => ({ ...p, spec: { ...p.spec, selector } });
}

export function withSession(session: SessionSettings): PolicyOption {
  return (p) => ({ ...p, spec: { ...p.spec, session } });
}

export function withFailureMode(failureMode: FailureMode): PolicyOption {
  return (p) => ({ ...p, spec: { ...p.spec, failureMode } });
}

export function inNamespace(namespace: string): PolicyOption {
  return (p) => ({ ...p, metadata: { ...p.metadata, namespace } });
}

export function withGeneration(generation: number): PolicyOption {
  return (p) => ({ ...p, metadata: { ...p.metadata, generation } });
}

export function withUid(uid: string): PolicyOption {
  return (p) => ({ ...p, metadata: { ...p.metadata, uid } });
}

/** A typical rule set used where the content does not matter. */
export const staffCanRead = allow("staff-read", {
  identities: [{ group: "staff" }],
  requests: [{ methods: ["GET"], paths: ["/docs/*"] }],
});
