/** Records for SessionIndex unit tests (plain data, fixed times). */
import type { SessionSeen } from "../../../../operator/api/sessions/records.ts";

export const T0 = Date.parse("2026-11-01T12:00:00Z");
export const sid = (n: number): string => `s_${String(n).padStart(22, "0")}`;

export function seenAt(sessionId: string, namespace: string, time: number, over: Partial<SessionSeen> = {}): SessionSeen {
  return {
    sessionId,
    identity: { issuer: "https://idp.test/", subject: "alice", email: "alice@example.test", groups: ["engineers"] },
    workload: { namespace, pod: "web-0", kind: "Deployment", name: "web" },
    clientIP: "203.0.113.7",
    userAgent: "curl/8",
    time,
    ...over,
  };
}
