/**
 * The benchmark's sessions: `count` sessions across `pods` sidecars in `namespaces` namespaces, four sessions per
 * user, a fifth of them with an open WebSocket, four recent events each. Records go through JSON as they will
 * from the audit stream (every string a fresh copy), so interning and memory are measured as in the operator.
 */
import { randomBytes } from "node:crypto";
import type { FlowSeen, SessionEventSeen, SessionSeen } from "../../operator/api/sessions/records.ts";

export interface WorkloadShape {
  count: number;
  namespaces: number;
  pods: number;
}

export interface SessionRecords {
  seen: SessionSeen;
  flow: FlowSeen | undefined;
  events: SessionEventSeen[];
}

const fresh = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export function namespaceOf(i: number, shape: WorkloadShape): string {
  return `team-${i % shape.namespaces}`;
}

export function sessionRecords(i: number, shape: WorkloadShape, now: number): SessionRecords {
  const namespace = namespaceOf(i, shape);
  const podIndex = i % shape.pods;
  const pod = `app-${podIndex}-7d9f8c6b5-x${podIndex % 7}`;
  const user = Math.floor(i / 4);
  const sessionId = `s_${randomBytes(16).toString("base64url")}`;
  const workload = { namespace, pod };
  const seen: SessionSeen = fresh({
    sessionId,
    identity: {
      issuer: "https://login.example.com/",
      subject: `user-${user}`,
      email: `user${user}@example.com`,
      groups: ["engineers", `team-${user % 20}`, "vpn-users"],
      claims: { department: `dept-${user % 7}` },
    },
    workload: { ...workload, kind: "Deployment", name: `app-${podIndex}` },
    clientIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    time: now - (i % 600) * 1000,
    startTime: now - 3_600_000,
    admittedBy: { policy: "team-access", rule: "engineers" },
    requests: 12,
  });
  const flow: FlowSeen | undefined =
    i % 5 === 0
      ? fresh({
          sessionId,
          workload,
          flowId: String(i),
          kind: "websocket" as const,
          peer: `10.0.0.1:${40000 + (i % 20000)}`,
          port: 8080,
          bytesIn: 1234,
          bytesOut: 56789,
          openedAt: now,
        })
      : undefined;
  const events = Array.from({ length: 4 }, (_, e) =>
    fresh({ sessionId, workload, time: now - e * 1000, type: "request.allowed", code: "VR001I", outcome: "success", reason: "team-access/engineers" }),
  );
  return { seen, flow, events };
}
