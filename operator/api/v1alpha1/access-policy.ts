import type { Condition, LabelSelector, ObjectMeta } from "./meta.ts";

/**
 * AccessPolicy: who may reach the workloads it selects in its namespace.
 * Rules are OR-ed; inside a rule every present matcher must match (AND), and each list is any-of (OR).
 * Deny wins over allow. A workload with a sidecar and no selecting policy is denied by default.
 * Mirrors crds/vigil.dev_accesspolicies.yaml field for field (a test keeps them in step).
 */
export interface AccessPolicy {
  apiVersion: "vigil.dev/v1alpha1";
  kind: "AccessPolicy";
  metadata: ObjectMeta;
  spec: AccessPolicySpec;
  status?: AccessPolicyStatus;
}

export interface AccessPolicySpec {
  /** Workloads (pods) in this namespace the policy applies to. An empty selector selects every pod. */
  selector: LabelSelector;
  /** 1..64 rules, names unique. */
  rules: AccessRule[];
  session?: SessionSettings;
  /** Strict: refuse new requests once the sidecar's bus view is older than its staleness bound. Default Strict. */
  failureMode?: FailureMode;
}

export type FailureMode = "Strict" | "BestEffort";
export type RuleAction = "Allow" | "Deny";

export interface AccessRule {
  /** DNS-1123 label, unique within the policy; appears in denials and logs. */
  name: string;
  action: RuleAction;
  /** Any-of (1..32). Absent: any authenticated identity. */
  identities?: IdentityMatch[];
  /** Any-of (1..8). Absent: any request or flow. */
  requests?: RequestMatch[];
  /** Any-of client CIDRs (1..64), canonical form: network address, no host bits (`10.0.0.0/8`). Absent: any source. */
  sourceCIDRs?: string[];
  /** Time windows (any-of). Absent: always. */
  schedule?: Schedule;
}

/** Exactly one field is set. */
export interface IdentityMatch {
  subject?: string;
  email?: string;
  /** Matches any address at this domain (lowercase, `example.com`, no `@`). */
  emailDomain?: string;
  group?: string;
  claim?: ClaimMatch;
}

export interface ClaimMatch {
  /** Top-level claim name. */
  name: string;
  /** Any-of; a string claim must equal one, an array claim must contain one. */
  values: string[];
}

export interface RequestMatch {
  /** Any-of; absent means any method. `CONNECT` matches tunnels. */
  methods?: HttpMethod[];
  /**
   * Any-of normalised paths: exact (`/a/b`), prefix (`/a/*`), or `*` for everything. Start with `/`; no `.`/`..` or
   * empty segments, no percent-encoded `.`, `/` or `\`, no whitespace, query or fragment.
   */
  paths?: string[];
  /** Any-of lowercase DNS host names (no port), matched case-insensitively; a leading `*.` matches any subdomain. */
  hosts?: string[];
  /** Any-of tunnel target ports (CONNECT), 1..65535. */
  ports?: number[];
}

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "CONNECT";

export interface Schedule {
  /** IANA time zone name (`Europe/Berlin`). Default UTC. */
  timeZone?: string;
  windows: TimeWindow[];
}

export interface TimeWindow {
  /** Any-of; absent means every day. */
  days?: Weekday[];
  /** HH:MM, 24h, inclusive. */
  start: string;
  /** HH:MM, 24h, exclusive; after start (`24:00` = end of day; a window never spans midnight). */
  end: string;
}

export type Weekday = "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun";

export interface SessionSettings {
  /** Go duration (`30m`), 1s..24h, ≤ absoluteTimeout. Default 30m. */
  idleTimeout?: string;
  /** Go duration (`8h`), 1s..24h. Default 8h. */
  absoluteTimeout?: string;
}

export interface AccessPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Bus revision at which this generation was published. */
  busRevision?: number;
  /** Live sidecars selected by this policy that report having applied busRevision. */
  enforcingSidecars?: number;
  /** Live sidecars selected by this policy. */
  selectedSidecars?: number;
}
