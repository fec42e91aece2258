/**
 * Operator-specific logging on top of the one logger factory (lib/log.ts): every log line about a resource goes
 * through `withResource`, which fixes the keys `resource_kind`, `resource_namespace`, `resource_name` (and
 * `reconcileId` when given) so logs can be filtered uniformly. Never log a token or a secret (URLs with
 * credentials go through `config.safeUrl`).
 */
import type { Logger } from "../lib/log.ts";

export interface ResourceRef {
  kind: string;
  namespace?: string | undefined;
  name: string;
}

/** A child logger whose every line names the resource (and the reconcile, when given). */
export function withResource(log: Logger, ref: ResourceRef, reconcileId?: string): Logger {
  const bindings: Record<string, string> = {
    resource_kind: ref.kind,
    resource_namespace: ref.namespace ?? "",
    resource_name: ref.name,
  };
  if (reconcileId !== undefined) bindings["reconcileId"] = reconcileId;
  return log.child(bindings);
}
