import { describe, expect, it } from "vitest";
import { covers } from "../../../../operator/api/bus/coverage.ts";
import { sessionKeyOf } from "../../../../operator/api/session-key.ts";
import type { SessionTermination } from "../../../../operator/api/v1alpha1/index.ts";
import { revocationOf } from "../../../../operator/controller/session-termination.ts";
import { idpSessionSelector, terminationSelector } from "../../../../operator/controller/termination-plan.ts";

const ISS = "https://login.example.test/";
const created = Date.parse("2026-12-01T10:00:00Z");

function termination(spec: Partial<SessionTermination["spec"]>): SessionTermination {
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "SessionTermination",
    metadata: { name: "t", namespace: "shop", uid: "u1", creationTimestamp: new Date(created).toISOString() },
    spec: { target: { idpSessionID: "sid-1", issuer: ISS }, reason: "logout", ...spec },
  };
}

const who = (sid: string, sessionId = "s_AAAAAAAAAAAAAAAAAAAAAA") => ({
  sessionId,
  sessionKey: sessionKeyOf({ issuer: ISS, sessionClaim: { name: "sid", value: sid } }),
  principal: { issuer: ISS, subject: "alice", groups: [] },
});

describe("an identity provider's login session as a termination target", () => {
  it("becomes a session selector by session key, matching every Vigil session of that login and no other", () => {
    const result = terminationSelector({ idpSessionID: "sid-1", issuer: ISS });
    expect(result).toEqual({ ok: true, selector: idpSessionSelector(ISS, "sid-1") });
    const revocation = revocationOf(termination({}), 5000, 3600_000);
    expect(revocation).toBeDefined();
    expect(covers(revocation!, who("sid-1"), created - 1000, created)).toBe(true);
    expect(covers(revocation!, who("sid-2"), created - 1000, created)).toBe(false);
  });

  it("needs the issuer, and the issuer alone is still refused", () => {
    expect(terminationSelector({ idpSessionID: "sid-1" }).ok).toBe(false);
    expect(terminationSelector({ issuer: ISS }).ok).toBe(false);
  });
});

describe("cutoffTime", () => {
  it("moves the cutoff back to the provider's event: a session started after it is never covered", () => {
    const event = created - 60_000;
    const revocation = revocationOf(termination({ cutoffTime: new Date(event).toISOString() }), 5000, 3600_000)!;
    expect(revocation.tokensIssuedBefore).toBe(event + 5000);
    expect(covers(revocation, who("sid-1"), event - 1, created)).toBe(true);
    expect(covers(revocation, who("sid-1"), event + 10_000, created)).toBe(false);
    expect(revocation.expiresAt).toBe(created + 3600_000);
  });

  it("never moves it later than the creation time", () => {
    const revocation = revocationOf(termination({ cutoffTime: new Date(created + 3600_000).toISOString() }), 5000, 3600_000)!;
    expect(revocation.tokensIssuedBefore).toBe(created + 5000);
  });
});
