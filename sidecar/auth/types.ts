/** A verified identity, produced only by the JWT verifier. Never carries the raw token. */
export interface Principal {
  issuer: string;
  subject: string;
  email?: string;
  groups: string[];
  /** Verified top-level claims, for claim matchers. */
  claims: Readonly<Record<string, unknown>>;
  /** What a session is keyed on: `sid` if present, else `jti`. */
  sessionClaim: { name: "sid" | "jti"; value: string };
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
}

/** Facts about one request or new flow, as the authorizer sees them. */
export interface RequestFacts {
  /** Upper-case method; `CONNECT` for tunnels. */
  method: string;
  /** Normalised path (see sidecar/proxy/path.ts); "" for CONNECT. */
  path: string;
  /** Lower-case host without port. */
  host: string;
  /** Tunnel target port (CONNECT only). */
  port?: number;
  /** Trusted client IP (see sidecar/proxy/client-ip.ts). */
  clientIp: string;
}

export type Decision = { allowed: true; policy: string; rule: string } | { allowed: false; code: DenyCode; reason: string; policy?: string; rule?: string };

export type DenyCode =
  /** No AccessPolicy selects this workload and the default action is deny. */
  | "NO_POLICY"
  /** A deny rule matched. */
  | "DENIED_BY_RULE"
  /** Policies select the workload but no allow rule matched. */
  | "NO_MATCHING_RULE";
