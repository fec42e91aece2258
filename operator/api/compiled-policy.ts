import type {
  DeviceComponent,
  ExceedAction,
  FailureMode,
  HttpMethod,
  LabelSelectorRequirement,
  NetworkGranularity,
  ProtectionMode,
  Weekday,
} from "./v1alpha1/index.ts";

/**
 * CompiledPolicy: the normalised form of one AccessPolicy generation, as published on the bus and
 * evaluated by every sidecar. Produced by the operator's pure compiler (sorted, deduplicated,
 * defaults applied); `hash` is a SHA-256 over the canonical JSON of everything except `hash` and
 * `revision`, so republishing an unchanged policy is a no-op.
 */
export interface CompiledPolicy {
  /** Wire-format version of this object. */
  v: 1;
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  hash: string;
  selector: CompiledSelector;
  /** Deny rules first, then allow rules; each group sorted by name. */
  rules: CompiledRule[];
  session: CompiledSession;
  failureMode: FailureMode;
}

export interface CompiledSelector {
  matchLabels: Record<string, string>;
  matchExpressions: Required<LabelSelectorRequirement>[];
}

export interface CompiledRule {
  name: string;
  action: "Allow" | "Deny";
  /** Any-of; empty = any authenticated identity. */
  identities: CompiledIdentity[];
  /** Any-of; empty = any request. */
  requests: CompiledRequest[];
  /** Any-of canonical CIDRs; empty = any source. */
  sourceCIDRs: string[];
  /** Null = always. */
  schedule: CompiledSchedule | null;
}

export type CompiledIdentity =
  | { kind: "subject"; value: string }
  | { kind: "email"; value: string } // lower-cased
  | { kind: "emailDomain"; value: string } // lower-cased, no leading @
  | { kind: "group"; value: string }
  | { kind: "claim"; name: string; values: string[] };

export interface CompiledRequest {
  /** Empty = any. Sorted, unique. */
  methods: HttpMethod[];
  /** Empty = any. */
  paths: PathMatch[];
  /** Empty = any; lower-cased; `*.x` = any subdomain of x. */
  hosts: string[];
  /** Empty = any. */
  ports: number[];
}

export type PathMatch = { kind: "exact"; value: string } | { kind: "prefix"; value: string } | { kind: "any" };

export interface CompiledSchedule {
  timeZone: string;
  windows: { days: Weekday[]; startMinute: number; endMinute: number }[];
}

export interface CompiledSession {
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
  /** Present only when the policy sets at least one protection (absent: every protection Off). */
  protections?: CompiledProtections | undefined;
}

/** Every protection with its defaults applied (Off where the policy does not set it). */
export interface CompiledProtections {
  network: { mode: ProtectionMode; granularity: NetworkGranularity; ipv4PrefixLength: number; ipv6PrefixLength: number };
  /** Components sorted, unique. */
  device: { mode: ProtectionMode; components: DeviceComponent[] };
  travel: { mode: ProtectionMode; maxSpeedKmh: number; minDistanceKm: number };
  /** maxSessions is 0 when mode is Off and the policy names none. */
  concurrent: { mode: ProtectionMode; maxSessions: number; onExceed: ExceedAction };
}
