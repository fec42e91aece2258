/**
 * Stable, CamelCase reasons the AccessPolicy compiler reports. Problems make the policy
 * `Accepted=False` with the first problem's reason; warnings leave it accepted and surface as a
 * warning condition/event. These strings are API: never rename one, only add.
 */

/** Problems: the policy is not published. */
export const PROBLEM_REASONS = {
  InvalidMetadata: "InvalidMetadata",
  InvalidSelector: "InvalidSelector",
  NoRules: "NoRules",
  DuplicateRuleName: "DuplicateRuleName",
  InvalidRuleName: "InvalidRuleName",
  InvalidAction: "InvalidAction",
  InvalidIdentity: "InvalidIdentity",
  InvalidMethod: "InvalidMethod",
  InvalidPath: "InvalidPath",
  InvalidHost: "InvalidHost",
  InvalidPort: "InvalidPort",
  InvalidCIDR: "InvalidCIDR",
  InvalidDuration: "InvalidDuration",
  IdleExceedsAbsolute: "IdleExceedsAbsolute",
  InvalidFailureMode: "InvalidFailureMode",
  UnknownTimeZone: "UnknownTimeZone",
  InvalidTimeWindow: "InvalidTimeWindow",
  ScheduleNeverMatches: "ScheduleNeverMatches",
  RuleNeverMatches: "RuleNeverMatches",
  /** A session protection (spec.session networkBinding, deviceBinding, impossibleTravel, concurrentSessions) is invalid. */
  InvalidProtection: "InvalidProtection",
} as const;

/** Warnings: the policy is published, but probably not what the author meant. */
export const WARNING_REASONS = {
  /** One request entry of a rule can never match; it is left out of the compiled rule. */
  RequestNeverMatches: "RequestNeverMatches",
  /** An Allow rule can never take effect because a Deny rule matches everything it matches. */
  RuleShadowed: "RuleShadowed",
  /** The policy has no Allow rule: it denies every request to the workloads it selects. */
  NoAllowRule: "NoAllowRule",
} as const;

export type ProblemReason = (typeof PROBLEM_REASONS)[keyof typeof PROBLEM_REASONS];
export type WarningReason = (typeof WARNING_REASONS)[keyof typeof WARNING_REASONS];

/** Every reason the compiler can emit, sorted: a stable list for docs and tests. */
export const ALL_REASONS: readonly string[] = [...Object.values(PROBLEM_REASONS), ...Object.values(WARNING_REASONS)].sort();

export interface Problem {
  /** CamelCase, from PROBLEM_REASONS or WARNING_REASONS. */
  reason: ProblemReason | WarningReason;
  /** A sentence for `kubectl describe`. */
  message: string;
  /** JSON-path-like field, e.g. `spec.rules[2].requests[0].paths[1]`. */
  field: string;
}
