import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccessReviewer, checkKey, type AccessCheck, type Decision } from "../../../../operator/sessions-api/authz/access-review.ts";
import { authenticate, commonName, userFromHeaders, verifyFrontProxy, type PeerCertificates } from "../../../../operator/sessions-api/authn/authenticate.ts";
import { parseAuthConfigMap, type FrontProxyConfig } from "../../../../operator/sessions-api/authn/front-proxy-config.ts";
import { generateCa, issueServingCert } from "../../../../operator/webhook/certs.ts";

const NOW = Date.now();

describe("front-proxy authentication", async () => {
  const ca = await generateCa({ commonName: "front-proxy-ca" });
  const otherCa = await generateCa({ commonName: "someone-else" });
  const leaf = await issueServingCert(ca, { service: "front-proxy-client", namespace: "x" }); // CN=front-proxy-client.x.svc
  const stranger = await issueServingCert(otherCa, { service: "front-proxy-client", namespace: "x" });
  const data = (allowed: string[]): Record<string, string> => ({
    "requestheader-client-ca-file": ca.certPem,
    "requestheader-allowed-names": JSON.stringify(allowed),
    "requestheader-username-headers": '["X-Remote-User"]',
    "requestheader-group-headers": '["X-Remote-Group"]',
    "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
  });
  const config = (allowed: string[] = ["front-proxy-client.x.svc"]): FrontProxyConfig => {
    const p = parseAuthConfigMap(data(allowed));
    if (!p.ok) throw new Error(p.problem);
    return p.config;
  };
  const peer = (pem: string, verified = true): PeerCertificates => ({
    verified,
    verifyError: verified ? undefined : "unable to verify",
    chain: [new X509Certificate(pem)],
  });
  const headers = { "x-remote-user": ["jane"], "x-remote-group": ["devs", "system:authenticated"], "x-remote-extra-scopes%2Fa": ["x", "y"] };

  it("reads the ConfigMap the API server publishes, and refuses one without a front proxy", () => {
    const c = config();
    expect(c).toMatchObject({
      allowedNames: ["front-proxy-client.x.svc"],
      usernameHeaders: ["x-remote-user"],
      groupHeaders: ["x-remote-group"],
      extraHeaderPrefixes: ["x-remote-extra-"],
      uidHeaders: [],
    });
    expect(c.cas).toHaveLength(1);
    expect(parseAuthConfigMap({ "client-ca-file": ca.certPem })).toMatchObject({
      ok: false,
      problem: expect.stringContaining("requestheader-client-ca-file") as unknown,
    });
    expect(parseAuthConfigMap({ ...data([]), "requestheader-allowed-names": "not json" })).toMatchObject({ ok: false });
    expect(parseAuthConfigMap(undefined).ok).toBe(false);
  });

  it("accepts a verified certificate of the current CA with an allowed name, then reads user, groups and extra", () => {
    const r = authenticate(peer(leaf.certPem), headers, config(), NOW);
    expect(r).toEqual({ ok: true, user: { name: "jane", uid: undefined, groups: ["devs", "system:authenticated"], extra: { "scopes/a": ["x", "y"] } } });
    expect(authenticate(peer(leaf.certPem), headers, config([]), NOW).ok).toBe(true); // no allowed names: any of the CA's
  });

  it.each([
    ["no certificate", { verified: false, verifyError: undefined, chain: [] }, "no client certificate"],
    ["a certificate TLS did not verify", "unverified", "not verified"],
    ["a certificate of another CA", "stranger", "not issued by the current front-proxy CA"],
  ] as const)("refuses %s", (_what, kind, reason) => {
    const p = kind === "unverified" ? peer(leaf.certPem, false) : kind === "stranger" ? peer(stranger.certPem) : kind;
    expect(verifyFrontProxy(p, config(), NOW)).toEqual({ ok: false, reason: expect.stringContaining(reason) as unknown });
  });

  it("refuses a name that is not allowed, an expired certificate, a missing user and a missing configuration", () => {
    expect(verifyFrontProxy(peer(leaf.certPem), config(["front-proxy-client"]), NOW)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("not an allowed front-proxy name") as unknown,
    });
    expect(verifyFrontProxy(peer(leaf.certPem), config(), NOW + 400 * 86_400_000)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("expired") as unknown,
    });
    expect(authenticate(peer(leaf.certPem), { "x-remote-group": ["system:masters"] }, config(), NOW)).toMatchObject({
      ok: false,
      reason: "verified front proxy sent no user",
    });
    expect(authenticate(peer(leaf.certPem), headers, undefined, NOW).ok).toBe(false);
  });

  it("reads the CN of a subject", () => {
    expect(commonName(new X509Certificate(leaf.certPem))).toBe("front-proxy-client.x.svc");
    expect(userFromHeaders({ "x-remote-user": [""] }, config())).toBeUndefined();
  });
});

describe("access reviews", () => {
  const check = (over: Partial<AccessCheck> = {}): AccessCheck => ({
    user: { name: "jane", uid: undefined, groups: ["b", "a"], extra: {} },
    verb: "list",
    namespace: "shop",
    name: undefined,
    ...over,
  });

  it("ask once per distinct decision, sharing concurrent identical checks", async () => {
    const asked: AccessCheck[] = [];
    const reviewer = new AccessReviewer(async (c): Promise<Decision> => {
      asked.push(c);
      await new Promise((r) => setTimeout(r, 5));
      return { allowed: c.namespace === "shop", reason: undefined };
    });
    const [a, b] = await Promise.all([
      reviewer.check(check()),
      reviewer.check(check({ user: { name: "jane", uid: undefined, groups: ["a", "b"], extra: {} } })),
    ]);
    expect(a.allowed && b.allowed).toBe(true);
    expect((await reviewer.check(check({ namespace: "web" }))).allowed).toBe(false);
    expect((await reviewer.check(check({ namespace: "web" }))).allowed).toBe(false);
    expect(asked).toHaveLength(2);
    expect(reviewer.reviews).toBe(2);
  });

  it("do not cache a failed review", async () => {
    let calls = 0;
    const reviewer = new AccessReviewer(() => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error("API server unavailable")) : Promise.resolve({ allowed: true, reason: undefined });
    });
    await expect(reviewer.check(check())).rejects.toThrow("unavailable");
    expect((await reviewer.check(check())).allowed).toBe(true);
  });

  it("key on everything a decision depends on", () => {
    const keys = new Set(
      [
        check(),
        check({ verb: "get" }),
        check({ name: "s_x" }),
        check({ namespace: "" }),
        check({ user: { name: "jane", uid: "1", groups: ["a", "b"], extra: {} } }),
        check({ user: { name: "jane", uid: undefined, groups: ["a", "b"], extra: { k: ["v"] } } }),
      ].map(checkKey),
    );
    expect(keys.size).toBe(6);
  });
});
