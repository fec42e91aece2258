/**
 * Least privilege, measured: every permission a role grants (apiGroup × resource × verb, with its resourceNames)
 * against the requests the API server's audit log recorded for the account. A permission no recorded request used
 * could be removed without breaking anything that happened. Pure: plain data in, plain data out.
 */
import type { V1PolicyRule } from "@kubernetes/client-node";
import type { AuditedCall } from "../../cluster/audit.ts";

export interface Permission {
  /** "ClusterRole" or "Role <namespace>". */
  scope: string;
  apiGroup: string;
  /** `resource` or `resource/subresource`. */
  resource: string;
  verb: string;
  resourceNames: string[];
}

export const describePermission = (p: Permission): string =>
  `${p.scope}: ${p.verb} ${p.apiGroup === "" ? "core" : p.apiGroup}/${p.resource}${p.resourceNames.length > 0 ? ` [${p.resourceNames.join(",")}]` : ""}`;

export function expandRules(scope: string, rules: readonly V1PolicyRule[]): Permission[] {
  return rules.flatMap((r) =>
    (r.apiGroups ?? []).flatMap((apiGroup) =>
      (r.resources ?? []).flatMap((resource) => r.verbs.map((verb) => ({ scope, apiGroup, resource, verb, resourceNames: r.resourceNames ?? [] }))),
    ),
  );
}

/** Whether `call` needed `p` (namespace of a Role: the call must be in it). */
export function uses(call: AuditedCall, p: Permission, roleNamespace?: string): boolean {
  const resource = call.subresource === "" ? call.resource : `${call.resource}/${call.subresource}`;
  if (call.apiGroup !== p.apiGroup || resource !== p.resource || call.verb !== p.verb) return false;
  if (roleNamespace !== undefined && call.namespace !== roleNamespace) return false;
  return p.resourceNames.length === 0 || p.resourceNames.includes(call.name);
}

export function unusedPermissions(calls: readonly AuditedCall[], permissions: readonly { p: Permission; namespace?: string }[]): Permission[] {
  return permissions.filter(({ p, namespace }) => !calls.some((c) => c.code < 400 && uses(c, p, namespace))).map(({ p }) => p);
}
