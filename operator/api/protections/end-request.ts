/**
 * A sidecar's request that the operator end a session everywhere (stream `P end-requests`; wire version 1). Pure
 * contract with its zod schema: the operator validates every entry (anyone who can write to Redis can add one, so a
 * request only ever names a session to END, never grants anything, and the operator rate-limits them).
 */
import { z } from "zod";
import type { EnforceableCode } from "./findings.ts";

/** What a SessionTermination created for a request says (its evidence stays in the sealed audit stream). */
export const END_REASONS: Record<EnforceableCode, string> = {
  SESSION_NETWORK_CHANGED: "the session was used from another network than the one it started from",
  SESSION_DEVICE_CHANGED: "the session was used from another device than the one it started on",
  SESSION_IMPOSSIBLE_TRAVEL: "the session's identity moved faster than a person can travel",
  SESSION_LIMIT_EXCEEDED: "the identity has more live sessions than its policy allows",
};

export interface EndRequest {
  v: 1;
  sessionId: string;
  code: EnforceableCode;
  namespace: string;
  pod: string;
  /** Epoch ms the finding was made (the termination's cutoff: later logins are not ended). */
  time: number;
}

export const endRequestSchema: z.ZodType<EndRequest> = z.object({
  v: z.literal(1),
  sessionId: z.string().regex(/^s_[A-Za-z0-9_-]{22}$/u),
  code: z.enum(["SESSION_NETWORK_CHANGED", "SESSION_DEVICE_CHANGED", "SESSION_IMPOSSIBLE_TRAVEL", "SESSION_LIMIT_EXCEEDED"]),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u),
  pod: z.string().min(1).max(253),
  time: z.int().min(0).max(8_640_000_000_000_000),
});
