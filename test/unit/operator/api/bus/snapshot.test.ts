import { describe, expect, it } from "vitest";
import { covers, selectorMatches } from "../../../../../operator/api/bus/coverage.ts";
import { entryHash, NamespaceDigest } from "../../../../../operator/api/bus/digest.ts";
import { seal } from "../../../../../operator/api/bus/envelope.ts";
import { busKeys, namespaceOfKey } from "../../../../../operator/api/bus/keys.ts";
import { entryField, type Entry, type EpochBody } from "../../../../../operator/api/bus/messages.ts";
import { verifyEpoch, verifyNamespace } from "../../../../../operator/api/bus/snapshot.ts";
import { compiledPolicy, revocation } from "../../../../builders/bus.ts";
import { sharedBusKey, verifyingOf } from "../../../../builders/bus-keys.ts";

const key = { kid: sharedBusKey.kid, privateKey: sharedBusKey.privateKey };
const keys = verifyingOf();
const EPOCH = "BBBBBBBBBBBBBBBBBBBBBB";
const epoch: EpochBody = { v: 2, type: "epoch", epoch: EPOCH, createdAt: 1000, signedAt: 2000 };
const epochHash = (body: EpochBody = epoch): string[] => ["id", body.epoch, "signed", seal(body, key).envelope];

function entries(revision = 5): Entry[] {
  return [
    { v: 2, epoch: EPOCH, namespace: "shop", revision, type: "policy", policy: compiledPolicy("web") },
    { v: 2, epoch: EPOCH, namespace: "shop", revision: revision - 1, type: "policy", policy: compiledPolicy("api") },
    { v: 2, epoch: EPOCH, namespace: "shop", revision, type: "revocation", revocation: revocation({ namespace: "shop", id: "shop/cut/u1" }) },
  ].map((e) => ({ ...e, policy: "policy" in e ? { ...e.policy, namespace: "shop" } : undefined }) as Entry);
}

/** The raw HGETALL replies of a namespace as the operator writes it. */
function written(list: Entry[], revision = 5): { head: string[]; entries: string[] } {
  const sealed = list.map((e) => ({ field: entryField(e), ...seal(e, key) }));
  const digest = new NamespaceDigest(sealed.map((s) => [s.field, entryHash(s.text)]));
  const head = seal({ v: 2, type: "head", epoch: EPOCH, namespace: "shop", revision, digest: digest.digest, entries: digest.size }, key).envelope;
  return { head: ["revision", String(revision), "signed", head], entries: sealed.flatMap((s) => [s.field, s.envelope]) };
}

describe("the namespace digest", () => {
  it("is the same whether built at once or changed entry by entry, in any order", () => {
    const pairs: [string, string][] = Array.from({ length: 600 }, (_, i) => [`r:ns/t${i}/u`, entryHash(`entry ${i}`)]);
    const atOnce = new NamespaceDigest(pairs);
    const stepwise = new NamespaceDigest();
    for (const [field, hash] of [...pairs].reverse()) stepwise.preview([{ field, hash }]).commit();
    expect(stepwise.digest).toBe(atOnce.digest);
    expect(stepwise.size).toBe(600);
    const removed = atOnce.preview([{ field: "r:ns/t7/u", hash: null }]);
    expect(removed.size).toBe(599);
    expect(removed.digest).toBe(new NamespaceDigest(pairs.filter(([f]) => f !== "r:ns/t7/u")).digest);
    expect(atOnce.digest).not.toBe(removed.digest); // preview does not apply
  });

  it("changes when one entry's bytes change", () => {
    const a = new NamespaceDigest([["p:web", entryHash("one")]]);
    const b = new NamespaceDigest([["p:web", entryHash("two")]]);
    expect(a.digest).not.toBe(b.digest);
  });
});

describe("snapshot verification", () => {
  it("accepts exactly what the operator wrote", () => {
    const raw = written(entries());
    const verified = verifyNamespace("shop", epoch, raw.head, raw.entries, keys);
    expect(verified.ok).toBe(true);
    if (verified.ok) {
      expect(verified.value.policies.map((p) => p.policy.name).sort()).toEqual(["api", "web"]);
      expect(verified.value.revocations.map((r) => r.revocation.id)).toEqual(["shop/cut/u1"]);
    }
  });

  it("treats a namespace without head and entries as nothing published, and entries without a head as inconsistent", () => {
    expect(verifyNamespace("shop", epoch, [], [], keys)).toMatchObject({ ok: true, value: { head: null, policies: [] } });
    expect(verifyNamespace("shop", epoch, [], written(entries()).entries, keys)).toMatchObject({ ok: false, error: { code: "BUS_INCONSISTENT" } });
  });

  it.each<[string, (raw: { head: string[]; entries: string[] }) => { head: string[]; entries: string[] }, string]>([
    ["a deny policy deleted (HDEL)", (r) => ({ ...r, entries: r.entries.slice(2) }), "BUS_DIGEST_MISMATCH"],
    [
      "an old signed version of a policy put back",
      (r) => ({ ...r, entries: [...r.entries.slice(0, 1), written(entries(3), 3).entries[1]!, ...r.entries.slice(2)] }),
      "BUS_DIGEST_MISMATCH",
    ],
    [
      "an entry of another namespace copied in",
      (r) => ({ ...r, entries: [...r.entries, "p:other", seal({ ...entries()[0]!, namespace: "other" }, key).envelope] }),
      "BUS_INCONSISTENT",
    ],
    ["an entry stored under another field", (r) => ({ ...r, entries: ["p:admin", ...r.entries.slice(1)] }), "BUS_INCONSISTENT"],
    ["an unsigned entry", (r) => ({ ...r, entries: [...r.entries.slice(0, 1), JSON.stringify(entries()[0]), ...r.entries.slice(2)] }), "BUS_UNSIGNED"],
    ["a head whose plain revision was bumped", (r) => ({ ...r, head: ["revision", "99", ...r.head.slice(2)] }), "BUS_INCONSISTENT"],
    ["an entry newer than the head", () => written(entries(5), 4), "BUS_INCONSISTENT"],
  ])("refuses a snapshot with %s", (_label, tamper, code) => {
    const raw = tamper(written(entries()));
    expect(verifyNamespace("shop", epoch, raw.head, raw.entries, keys)).toMatchObject({ ok: false, error: { code } });
  });

  it("refuses heads and entries of another epoch", () => {
    const raw = written(entries());
    expect(verifyNamespace("shop", { ...epoch, epoch: "CCCCCCCCCCCCCCCCCCCCCC" }, raw.head, raw.entries, keys)).toMatchObject({
      ok: false,
      error: { code: "BUS_INCONSISTENT" },
    });
  });

  it("needs a signed epoch record that agrees with its id", () => {
    expect(verifyEpoch(epochHash(), keys)).toEqual({ ok: true, value: epoch });
    expect(verifyEpoch([], keys)).toMatchObject({ ok: false, error: { code: "BUS_NO_EPOCH" } });
    expect(verifyEpoch(["id", "other", ...epochHash().slice(2)], keys)).toMatchObject({ ok: false, error: { code: "BUS_INCONSISTENT" } });
    expect(verifyEpoch(["id", EPOCH, "signed", JSON.stringify(epoch)], keys)).toMatchObject({ ok: false, error: { code: "BUS_UNSIGNED" } });
  });
});

describe("which identities a revocation covers (one rule everywhere)", () => {
  const alice = { issuer: "https://idp", subject: "alice", email: "Alice@Example.com", groups: ["staff"] };
  const r = revocation({ selector: { kind: "email", email: "alice@example.com" }, tokensIssuedBefore: 10_000, expiresAt: 20_000 });
  const who = { sessionId: "s_a", sessionKey: "key-a", principal: alice };

  it("covers what was issued at or before the cutoff, while in force", () => {
    expect(covers(r, who, 10_000, 15_000)).toBe(true);
    expect(covers(r, who, 10_001, 15_000)).toBe(false); // a login after the termination
    expect(covers(r, who, 5_000, 20_000)).toBe(false); // expired
  });

  it("matches each selector kind", () => {
    expect(selectorMatches({ kind: "email", email: "ALICE@example.com" }, who)).toBe(true);
    expect(selectorMatches({ kind: "group", group: "Staff" }, who)).toBe(false);
    expect(selectorMatches({ kind: "group", group: "staff" }, who)).toBe(true);
    expect(selectorMatches({ kind: "subject", subject: "alice", issuer: "https://other" }, who)).toBe(false);
    expect(selectorMatches({ kind: "subject", subject: "alice" }, who)).toBe(true);
    expect(selectorMatches({ kind: "all" }, who)).toBe(true);
  });

  it("finds a revoked session by its key when the session ID changed (Redis lost the index)", () => {
    expect(selectorMatches({ kind: "session", sessionId: "s_old", sessionKey: "key-a" }, who)).toBe(true);
    expect(selectorMatches({ kind: "session", sessionId: "s_old" }, who)).toBe(false);
    expect(selectorMatches({ kind: "session", sessionId: "s_a" }, who)).toBe(true);
    expect(selectorMatches({ kind: "session", sessionId: "s_a" }, { ...who, sessionId: "" })).toBe(false);
  });
});

describe("bus keys", () => {
  it("builds every key from the prefix and recognises namespace keys", () => {
    const keys = busKeys("{vigil}:");
    expect(keys).toMatchObject({ epoch: "{vigil}:epoch", revision: "{vigil}:revision", sidecars: "{vigil}:sidecars", ackEvents: "{vigil}:ack-events" });
    expect(keys.namespace("shop")).toEqual({ head: "{vigil}:ns:shop:head", entries: "{vigil}:ns:shop:entries", events: "{vigil}:ns:shop:events" });
    expect(keys.acks("ns/t/uid")).toBe("{vigil}:acks:ns/t/uid");
    expect(busKeys("a*b:").namespacePattern).toBe("a\\*b:ns:*");
    expect(namespaceOfKey(keys, "{vigil}:ns:shop:entries")).toBe("shop");
    for (const other of ["{vigil}:ns:Shop:head", "{vigil}:ns:shop:other", "{vigil}:epoch", "x:ns:shop:head"]) expect(namespaceOfKey(keys, other)).toBeNull();
  });

  it.each(["", "has space", "x".repeat(129), "tab\t"])("refuses the prefix %j with a coded error", (prefix) => {
    expect(() => busKeys(prefix)).toThrow(expect.objectContaining({ code: "BUS_INVALID_PREFIX" }));
  });
});
