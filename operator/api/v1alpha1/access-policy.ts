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
  /** Bind each session to the network it started from (finding SESSION_NETWORK_CHANGED). */
  networkBinding?: NetworkBinding;
  /** Bind each session to the device fingerprint of its first request (finding SESSION_DEVICE_CHANGED). */
  deviceBinding?: DeviceBinding;
  /** Geolocate client IPs and flag travel no person can do (finding SESSION_IMPOSSIBLE_TRAVEL). */
  impossibleTravel?: ImpossibleTravel;
  /** Limit how many sessions one identity may have on the selected workloads (finding SESSION_LIMIT_EXCEEDED). */
  concurrentSessions?: ConcurrentSessions;
}

/**
 * Off: not checked. Audit: the finding is recorded (audit stream, the session in the sessions API) and the request
 * goes through. Enforce: the request is refused with the finding's code, the session ends with that reason and its
 * live flows are closed. Where several policies select a workload, the strictest mode wins.
 */
export type ProtectionMode = "Off" | "Audit" | "Enforce";

export interface NetworkBinding {
  mode: ProtectionMode;
  /** Prefix: the IPv4/IPv6 prefix the session started from. ASN: its autonomous system (needs the sidecars' ASN database; Prefix where an address has no ASN). Default Prefix. */
  granularity?: NetworkGranularity;
  /** IPv4 prefix length of the bound network, 8..32. Default 24. */
  ipv4PrefixLength?: number;
  /** IPv6 prefix length of the bound network, 16..128. Default 64. */
  ipv6PrefixLength?: number;
}

export type NetworkGranularity = "Prefix" | "ASN";

/** What a device fingerprint is made of. ClientCertificate and JA4 come from headers a trusted ingress sets. */
export type DeviceComponent = "Browser" | "OperatingSystem" | "Platform" | "AcceptLanguage" | "ClientCertificate" | "JA4";

export interface DeviceBinding {
  mode: ProtectionMode;
  /** Components compared (1..6, unique); Browser is family and major version (minor updates are tolerated). Absent: Browser, OperatingSystem, Platform, AcceptLanguage. */
  components?: DeviceComponent[];
}

export interface ImpossibleTravel {
  mode: ProtectionMode;
  /** Speed above which travel is impossible, 100..20000 km/h. Default 1000. */
  maxSpeedKmh?: number;
  /** Shorter moves (after subtracting both places' accuracy radii) are never findings, 1..20000 km. Default 100. */
  minDistanceKm?: number;
}

export interface ConcurrentSessions {
  mode: ProtectionMode;
  /** Live sessions one identity (issuer and subject) may have on the selected workloads, 1..1000; required unless mode is Off. */
  maxConcurrentSessions?: number;
  /** RefuseNew: the session over the limit is refused and ended. EndOldest: the oldest sessions are ended instead. Default RefuseNew. */
  onExceed?: ExceedAction;
}

export type ExceedAction = "RefuseNew" | "EndOldest";

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
