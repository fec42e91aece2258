import { randomBytes } from "node:crypto";
import { CompactEncrypt, exportSPKI } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenVerifier, sessionKeyOf } from "../../../../sidecar/auth/jwt.ts";
import type { IssuerConfig, TokenVerifier, TokenVerifierOptions } from "../../../../sidecar/auth/jwt.ts";
import { ConfigError, SidecarError } from "../../../../sidecar/errors.ts";
import type { SidecarErrorCode } from "../../../../sidecar/errors.ts";
import {
  claims,
  handSigned,
  hmac,
  jwksOf,
  makeKey,
  malleate,
  nowSeconds,
  rawSignature,
  signed,
  signingInput,
  startJwksServer,
  withSignature,
} from "./jwt-fixtures.ts";
import type { JwksServer, TestKey } from "./jwt-fixtures.ts";

const ISS_A = "https://idp-a.test";
const ISS_B = "https://idp-b.test";

let es: TestKey;
let rs: TestKey;
let ed: TestKey;
let issuerBKey: TestKey;
let attacker: TestKey;
let attackerServer: JwksServer;

beforeAll(async () => {
  [es, rs, ed, issuerBKey, attacker] = await Promise.all([
    makeKey("ES256", "es-1"),
    makeKey("RS256", "rs-1"),
    makeKey("EdDSA", "ed-1"),
    makeKey("ES256", "b-1"),
    makeKey("ES256", "es-1"), // same kid as ours on purpose
  ]);
  attackerServer = await startJwksServer({ keys: [attacker.publicJwk] });
});

afterAll(async () => {
  await attackerServer.close();
});

/** Overrides may set a field to `undefined` to remove it (e.g. `jwks` for a remote issuer). */
type Overrides = { [K in keyof IssuerConfig]?: IssuerConfig[K] | undefined };

function issuerA(overrides: Overrides = {}): IssuerConfig {
  const merged = { issuer: ISS_A, audiences: ["vigil-app"], algorithms: ["ES256", "RS256", "EdDSA"], jwks: jwksOf(es, rs, ed), ...overrides };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as unknown as IssuerConfig;
}

function issuerB(): IssuerConfig {
  return { issuer: ISS_B, audiences: ["vigil-app"], algorithms: ["ES256"], jwks: jwksOf(issuerBKey) };
}

function verifier(opts: TokenVerifierOptions = {}, issuers: IssuerConfig[] = [issuerA(), issuerB()]): TokenVerifier {
  return createTokenVerifier(issuers, opts);
}

async function refusal(v: TokenVerifier, token: string): Promise<SidecarError> {
  try {
    await v.verify(token);
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw new Error("verify threw a non-SidecarError", { cause: err });
  }
  throw new Error("token was accepted");
}

async function expectRefused(v: TokenVerifier, token: string, code: SidecarErrorCode): Promise<SidecarError> {
  const err = await refusal(v, token);
  expect(err.code).toBe(code);
  expect(err.status).toBe(401);
  if (token.length > 0) expect(err.message).not.toContain(token);
  return err;
}

describe("valid tokens", () => {
  it.each(["ES256", "RS256", "EdDSA"] as const)("accepts a %s token and returns the verified principal", async (alg) => {
    const key = { ES256: es, RS256: rs, EdDSA: ed }[alg];
    const p = await verifier().verify(await signed(key));
    expect(p.issuer).toBe(ISS_A);
    expect(p.subject).toBe("alice");
    expect(p.email).toBe("Alice@Example.com");
    expect(p.groups).toEqual(["eng", "oncall"]);
    expect(p.sessionClaim).toEqual({ name: "sid", value: "login-1" });
    expect(p.claims.sub).toBe("alice");
    expect(p.expiresAt).toBeGreaterThan(p.issuedAt);
  });

  it("falls back to jti when there is no sid", async () => {
    const p = await verifier().verify(await signed(es, claims({ sid: undefined, jti: "tok-9" })));
    expect(p.sessionClaim).toEqual({ name: "jti", value: "tok-9" });
  });

  it("reads groups and email from configured claim names", async () => {
    const v = verifier({}, [issuerA({ groupsClaim: "roles", emailClaim: "upn" })]);
    const p = await v.verify(await signed(es, claims({ roles: ["admin", 7], upn: "a@corp.test" })));
    expect(p.groups).toEqual(["admin"]);
    expect(p.email).toBe("a@corp.test");
  });

  it("accepts nbf and iat within the clock tolerance", async () => {
    const now = nowSeconds();
    const v = verifier({}, [issuerA({ clockToleranceSeconds: 30 })]);
    await expect(v.verify(await signed(es, claims({ nbf: now + 20, iat: now + 20 })))).resolves.toMatchObject({ subject: "alice" });
  });

  it("verifies with the key set of the token's issuer", async () => {
    const p = await verifier().verify(await signed(issuerBKey, claims({ iss: ISS_B })));
    expect(p.issuer).toBe(ISS_B);
  });
});

describe("session key", () => {
  it("is the same for two tokens of one login and different across logins and issuers", async () => {
    const v = verifier();
    const first = await v.verify(await signed(es, claims({ iat: nowSeconds() - 5 })));
    const second = await v.verify(await signed(rs, claims()));
    const other = await v.verify(await signed(es, claims({ sid: "login-2" })));
    const otherIssuer = await v.verify(await signed(issuerBKey, claims({ iss: ISS_B })));
    expect(sessionKeyOf(first)).toBe(sessionKeyOf(second));
    expect(sessionKeyOf(first)).not.toBe(sessionKeyOf(other));
    expect(sessionKeyOf(first)).not.toBe(sessionKeyOf(otherIssuer));
    expect(sessionKeyOf(first)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("covers a malleated ECDSA signature of the same token: same (iss, sid), different signature bytes", async () => {
    const v = verifier({ cacheMaxEntries: 0 });
    const token = await signed(es);
    const twin = malleate(token);
    expect(twin).not.toBe(token);
    const original = await v.verify(token);
    const malleated = await v.verify(twin);
    // A denylist keyed on the token bytes would miss `twin`; one keyed on the session key cannot.
    expect(sessionKeyOf(malleated)).toBe(sessionKeyOf(original));
  });
});

describe("verified-token cache", () => {
  it("answers a repeated token without touching the key set, until the token expires", async () => {
    const server = await startJwksServer(jwksOf(es));
    let clock = Date.now();
    const v = verifier({ now: () => clock, remoteJwks: { cacheMaxAgeMs: 0, cooldownMs: 0 } }, [issuerA({ jwks: undefined, jwksUri: server.url })]);
    const exp = Math.floor(clock / 1000) + 60;
    const token = await signed(es, claims({ exp }));
    await v.verify(token);
    await server.close(); // any further key lookup now fails closed
    await expect(v.verify(token)).resolves.toMatchObject({ subject: "alice" });
    await expectRefused(v, await signed(es, claims({ sid: "fresh" })), "JWKS_UNAVAILABLE");
    clock = (exp + 31) * 1000; // past exp + default tolerance
    await expectRefused(v, token, "JWKS_UNAVAILABLE");
    expect(v.cacheSize).toBe(0);
  });

  it("drops entries covered by a revocation", async () => {
    const v = verifier();
    const alice = await signed(es);
    const bob = await signed(es, claims({ sub: "bob", sid: "login-b" }));
    const aliceKey = sessionKeyOf(await v.verify(alice));
    await v.verify(bob);
    expect(v.invalidateWhere((p) => sessionKeyOf(p) === aliceKey)).toBe(1);
    expect(v.cacheSize).toBe(1);
  });

  it("is bounded, evicting the least recently used token", async () => {
    const v = verifier({ cacheMaxEntries: 2 });
    const tokens = await Promise.all(["1", "2", "3"].map((sid) => signed(es, claims({ sid }))));
    for (const t of tokens) await v.verify(t);
    expect(v.cacheSize).toBe(2);
    expect(v.invalidateWhere((p) => p.sessionClaim.value === "1")).toBe(0);
  });

  it("counts use, not insertion: a token used again outlives one cached after it", async () => {
    const v = verifier({ cacheMaxEntries: 2 });
    const [t1, t2, t3] = await Promise.all(["1", "2", "3"].map((sid) => signed(es, claims({ sid }))));
    await v.verify(t1!);
    await v.verify(t2!);
    await v.verify(t1!); // hit: t1 is now the most recently used
    await v.verify(t3!);
    expect(v.invalidateWhere((p) => p.sessionClaim.value === "2")).toBe(0);
    expect(v.invalidateWhere((p) => p.sessionClaim.value === "1")).toBe(1);
  });

  it("expires each entry at its own token's deadline", async () => {
    const server = await startJwksServer(jwksOf(es));
    let clock = Date.now();
    const v = verifier({ now: () => clock, remoteJwks: { cacheMaxAgeMs: 0, cooldownMs: 0 } }, [issuerA({ jwks: undefined, jwksUri: server.url })]);
    const nowS = Math.floor(clock / 1000);
    const short = await signed(es, claims({ sid: "short", exp: nowS + 60 }));
    const long = await signed(es, claims({ sid: "long", exp: nowS + 600 }));
    await v.verify(short);
    await v.verify(long);
    await server.close(); // from here on only cache hits succeed
    clock = (nowS + 60 + 31) * 1000; // past the short token's exp + tolerance, long before the other's
    await expectRefused(v, short, "JWKS_UNAVAILABLE");
    await expect(v.verify(long)).resolves.toMatchObject({ sessionClaim: { value: "long" } });
    expect(v.cacheSize).toBe(1);
  });
});

describe("remote JWKS", () => {
  let server: JwksServer;
  beforeAll(async () => {
    server = await startJwksServer(jwksOf(es, rs));
  });
  afterAll(async () => {
    await server.close();
  });

  it("fetches once, then serves new tokens from its cache; unknown kids refetch at most once per cooldown", async () => {
    const before = server.requests();
    const v = verifier({ cacheMaxEntries: 0, remoteJwks: { cooldownMs: 60_000 } }, [issuerA({ jwks: undefined, jwksUri: server.url })]);
    await v.verify(await signed(es));
    await v.verify(await signed(rs, claims({ sid: "other" })));
    expect(server.requests() - before).toBe(1);
    for (let i = 0; i < 20; i++) {
      const token = await signed({ ...es, kid: `random-${i}` });
      await expectRefused(v, token, "TOKEN_INVALID");
    }
    expect(server.requests() - before).toBeLessThanOrEqual(2);
  });

  it("fails closed with JWKS_UNAVAILABLE when the endpoint errors", async () => {
    const broken = await startJwksServer(jwksOf(es));
    broken.setStatus(500);
    const v = verifier({}, [issuerA({ jwks: undefined, jwksUri: broken.url })]);
    await expectRefused(v, await signed(es), "JWKS_UNAVAILABLE");
    await broken.close();
    await expectRefused(v, await signed(es, claims({ sid: "x" })), "JWKS_UNAVAILABLE");
  });
});

describe("attack corpus", () => {
  const v = (): TokenVerifier => verifier();

  it.each(["none", "None", "NONE", "nOnE"])("refuses alg %s without and with a signature", async (alg) => {
    const input = signingInput({ alg, typ: "JWT" }, claims());
    await expectRefused(v(), `${input}.`, "TOKEN_MALFORMED");
    await expectRefused(v(), withSignature(input, Buffer.from("not-a-signature")), "TOKEN_INVALID");
  });

  it("refuses HS256 MACed with the issuer's public key bytes (key confusion)", async () => {
    const input = signingInput({ alg: "HS256", typ: "JWT", kid: es.kid }, claims());
    const secrets = [
      await exportSPKI(es.publicKey),
      await exportSPKI(rs.publicKey),
      JSON.stringify(es.publicJwk),
      Buffer.from(String(es.publicJwk.x), "base64url"),
    ];
    for (const secret of secrets) await expectRefused(v(), withSignature(input, hmac(secret, input)), "TOKEN_INVALID");
  });

  it.each([["../../dev/null"], ["' OR 1=1--"], [42], [{ $ne: null }]])("refuses kid injection %j", async (kid) => {
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid }), "TOKEN_INVALID");
  });

  it("refuses an 8 KB kid: at the size gate by default, by key lookup when the gate is raised", async () => {
    const token = handSigned(es, { alg: "ES256", kid: "k".repeat(8192) });
    await expectRefused(v(), token, "TOKEN_MALFORMED");
    await expectRefused(verifier({ maxTokenBytes: 64 * 1024 }), token, "TOKEN_INVALID");
  });

  it("never fetches keys from jku or x5u", async () => {
    const before = attackerServer.requests();
    const token = handSigned(attacker, { alg: "ES256", kid: "attacker-kid", jku: attackerServer.url, x5u: attackerServer.url });
    await expectRefused(v(), token, "TOKEN_INVALID");
    const sameKid = handSigned(attacker, { alg: "ES256", kid: es.kid, jku: attackerServer.url });
    await expectRefused(v(), sameKid, "TOKEN_INVALID");
    expect(attackerServer.requests()).toBe(before);
  });

  it("ignores an embedded jwk carrying the attacker's key", async () => {
    await expectRefused(v(), handSigned(attacker, { alg: "ES256", jwk: attacker.publicJwk }), "TOKEN_INVALID");
    await expectRefused(v(), handSigned(attacker, { alg: "ES256", kid: es.kid, jwk: attacker.publicJwk }), "TOKEN_INVALID");
  });

  it("refuses an algorithm outside the issuer's list even with a valid signature", async () => {
    const esOnly = verifier({}, [issuerA({ algorithms: ["ES256"] })]);
    await expectRefused(esOnly, await signed(rs), "TOKEN_INVALID");
  });

  it.each([
    ["exp", "TOKEN_MISSING_CLAIM"],
    ["iat", "TOKEN_MISSING_CLAIM"],
    ["sub", "TOKEN_MISSING_CLAIM"],
    ["aud", "TOKEN_MISSING_CLAIM"],
    ["iss", "TOKEN_MISSING_CLAIM"],
  ] as const)("refuses a token without %s", async (claim, code) => {
    const payload = Object.fromEntries(Object.entries(claims()).filter(([name]) => name !== claim));
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid }, payload), code);
  });

  it("refuses a token with neither sid nor jti", async () => {
    await expectRefused(v(), await signed(es, claims({ sid: undefined })), "TOKEN_MISSING_CLAIM");
  });

  it("refuses string exp and string iat", async () => {
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid }, { ...claims(), exp: "9999999999" }), "TOKEN_INVALID");
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid }, { ...claims(), iat: String(nowSeconds()) }), "TOKEN_INVALID");
  });

  /** A genuinely signed token whose payload JSON text has `claim` set to `literal` (e.g. 1e400, which no JSON.stringify writes). */
  const withLiteral = (claim: string, literal: string, base: Record<string, unknown> = claims()): string => {
    const json = JSON.stringify({ ...base, [claim]: 0 }).replace(`"${claim}":0`, `"${claim}":${literal}`);
    return handSigned(es, { alg: "ES256", kid: es.kid, typ: "JWT" }, Buffer.from(json));
  };

  it("refuses exp, iat or nbf written as 1e400 (Infinity once parsed): such a token would never expire", async () => {
    await expectRefused(v(), withLiteral("exp", "1e400"), "TOKEN_INVALID");
    await expectRefused(v(), withLiteral("iat", "-1e400"), "TOKEN_INVALID");
    await expectRefused(v(), withLiteral("nbf", "-1e400"), "TOKEN_INVALID");
    await expectRefused(v(), withLiteral("nbf", "1e400"), "TOKEN_NOT_YET_VALID");
    await expectRefused(v(), withLiteral("exp", "-1e400"), "TOKEN_EXPIRED");
    // The same literal with an ordinary value is accepted: the refusal is about the value.
    await expect(v().verify(withLiteral("exp", String(nowSeconds() + 60)))).resolves.toMatchObject({ subject: "alice" });
  });

  it("refuses a token valid for longer than the issuer's maximum lifetime: 24 h by default, or as configured", async () => {
    const now = nowSeconds();
    await expect(v().verify(await signed(es, claims({ iat: now, exp: now + 86_400 })))).resolves.toMatchObject({ subject: "alice" });
    const err = await expectRefused(v(), await signed(es, claims({ iat: now, exp: now + 86_401 })), "TOKEN_LIFETIME_TOO_LONG");
    expect(err.message).toContain("86400 s");
    const hourly = verifier({}, [issuerA({ maxTokenLifetimeSeconds: 3_600 })]);
    await expect(hourly.verify(await signed(es, claims({ iat: now, exp: now + 3_600 })))).resolves.toMatchObject({ subject: "alice" });
    await expectRefused(hourly, await signed(es, claims({ iat: now, exp: now + 3_601 })), "TOKEN_LIFETIME_TOO_LONG");
  });

  it.each(["at+jwt", "application/AT+JWT", "JWT", undefined])("accepts typ %j by default", async (typ) => {
    await expect(v().verify(await signed(es, claims(), { typ }))).resolves.toMatchObject({ subject: "alice" });
  });

  it.each(["logout+jwt", "secevent+jwt", "application/logout+jwt", "Secevent+JWT", "dpop+jwt"])(
    "refuses a genuinely signed %s token as a credential",
    async (typ) => {
      const err = await expectRefused(v(), await signed(es, claims(), { typ }), "TOKEN_WRONG_TYPE");
      expect(err.message).not.toContain(typ);
    },
  );

  it("applies an issuer's own allowed types: at+jwt only, typ required", async () => {
    const strict = verifier({}, [issuerA({ allowedTypes: ["at+jwt"], allowMissingType: false })]);
    await expect(strict.verify(await signed(es, claims(), { typ: "at+jwt" }))).resolves.toMatchObject({ subject: "alice" });
    await expectRefused(strict, await signed(es, claims(), { typ: "JWT" }), "TOKEN_WRONG_TYPE");
    await expectRefused(strict, await signed(es, claims(), { typ: undefined }), "TOKEN_WRONG_TYPE");
  });

  it("refuses expired tokens and tokens from the future beyond the tolerance", async () => {
    const now = nowSeconds();
    await expectRefused(v(), await signed(es, claims({ iat: now - 100, exp: now - 31 })), "TOKEN_EXPIRED");
    await expectRefused(v(), await signed(es, claims({ nbf: now + 120 })), "TOKEN_NOT_YET_VALID");
    await expectRefused(v(), await signed(es, claims({ iat: now + 120 })), "TOKEN_NOT_YET_VALID");
  });

  it("refuses tokens older than maxTokenAge", async () => {
    const aged = verifier({}, [issuerA({ maxTokenAgeSeconds: 60 })]);
    await expectRefused(aged, await signed(es, claims({ iat: nowSeconds() - 600 })), "TOKEN_EXPIRED");
  });

  it("refuses a wrong, empty or foreign audience", async () => {
    await expectRefused(v(), await signed(es, claims({ aud: "other-service" })), "TOKEN_WRONG_AUDIENCE");
    await expectRefused(v(), await signed(es, claims({ aud: [] })), "TOKEN_WRONG_AUDIENCE");
  });

  it("refuses an unknown issuer", async () => {
    await expectRefused(v(), await signed(es, claims({ iss: "https://evil.test" })), "ISSUER_UNKNOWN");
    await expectRefused(v(), await signed(es, claims({ iss: `${ISS_A}/` })), "ISSUER_UNKNOWN");
  });

  it("refuses issuer A's key signing iss=B", async () => {
    await expectRefused(v(), await signed(es, claims({ iss: ISS_B })), "TOKEN_INVALID");
    await expectRefused(v(), await signed({ ...es, kid: issuerBKey.kid }, claims({ iss: ISS_B })), "TOKEN_INVALID");
  });

  it.each([[["x-unknown"]], [[]], ["x-unknown"]])("refuses crit %j", async (crit) => {
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid, crit, "x-unknown": 1 }), "TOKEN_INVALID");
  });

  it("refuses b64:false (unencoded payload)", async () => {
    // The payload segment is itself base64url text, so the token passes the format gate and is
    // refused by verification: the signature is genuine over the unencoded form.
    const header = Buffer.from(JSON.stringify({ alg: "ES256", kid: es.kid, b64: false, crit: ["b64"] })).toString("base64url");
    const payload = Buffer.from(JSON.stringify(claims())).toString("base64url");
    const token = withSignature(`${header}.${payload}`, rawSignature(es, `${header}.${payload}`));
    await expectRefused(v(), token, "TOKEN_INVALID");
  });

  it("refuses a JWE where a JWS is expected, saying so", async () => {
    const jwe = await new CompactEncrypt(Buffer.from(JSON.stringify(claims()))).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(randomBytes(32));
    expect(jwe.split(".")).toHaveLength(5);
    const err = await expectRefused(v(), jwe, "TOKEN_INVALID");
    expect(err.message).toMatch(/JWE/);
  });

  it("refuses malformed segments at the format gate", async () => {
    const good = await signed(es);
    const [h, p, s] = good.split(".") as [string, string, string];
    const cases = [
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${good}=`,
      `${h}.${p}.${s.slice(0, 10)}+/${s.slice(12)}`,
      ` ${good}`,
      `${h}. ${p}.${s}`,
      `${good}\n`,
      `${h}..${s}`,
      "{}.{}.{}",
    ];
    for (const token of cases) await expectRefused(v(), token, "TOKEN_MALFORMED");
    await expectRefused(v(), "", "TOKEN_MISSING");
  });

  it("refuses an oversized token before verification", async () => {
    await expectRefused(v(), await signed(es, claims({ pad: "x".repeat(9000) })), "TOKEN_MALFORMED");
  });

  it("refuses a payload that is not valid UTF-8 (bytes C3 28)", async () => {
    const json = Buffer.from(JSON.stringify({ ...claims(), name: "__" }));
    const at = json.indexOf("__");
    json[at] = 0xc3;
    json[at + 1] = 0x28;
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid }, json), "TOKEN_MALFORMED");
  });

  it("refuses a payload that is not a JSON object", async () => {
    await expectRefused(v(), handSigned(es, { alg: "ES256", kid: es.kid }, Buffer.from("[1,2]")), "TOKEN_MALFORMED");
  });

  it("refuses a degenerate ECDSA signature (r = s = 0)", async () => {
    const [h, p] = (await signed(es)).split(".") as [string, string];
    await expectRefused(v(), `${h}.${p}.${Buffer.alloc(64).toString("base64url")}`, "TOKEN_INVALID");
  });

  it("refuses a valid token whose signature bytes were altered", async () => {
    const token = await signed(rs);
    const last = token.at(-2) === "A" ? "B" : "A";
    await expectRefused(v(), `${token.slice(0, -2)}${last}${token.slice(-1)}`, "TOKEN_INVALID");
  });
});

describe("configuration", () => {
  const bad: [string, Overrides, string][] = [
    ["empty algorithm list", { algorithms: [] }, "issuers[0].algorithms"],
    ["HS256", { algorithms: ["HS256" as never] }, "issuers[0].algorithms[0]"],
    ["none after an allowed one", { algorithms: ["ES256", "none" as never] }, "issuers[0].algorithms[1]"],
    ["tolerance above 60 s", { clockToleranceSeconds: 61 }, "issuers[0].clockToleranceSeconds"],
    ["no audience", { audiences: [] }, "issuers[0].audiences"],
    ["both key sources", { jwksUri: "https://idp.test/jwks" }, "issuers[0].jwksUri"],
    ["no key source", { jwks: undefined }, "issuers[0].jwksUri"],
    ["plain-http remote JWKS", { jwks: undefined, jwksUri: "http://idp.test/jwks" }, "issuers[0].jwksUri"],
    ["symmetric inline key", { jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, "issuers[0].jwks.keys[0].kty"],
    ["private inline key", { jwks: { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", d: "d" }] } }, "issuers[0].jwks.keys[0]"],
    ["empty issuer", { issuer: "" }, "issuers[0].issuer"],
    ["a misspelt key", { maxTokenAgeSecs: 60 } as Overrides, "issuers[0].maxTokenAgeSecs"],
    ["a string tolerance", { clockToleranceSeconds: "30" as never }, "issuers[0].clockToleranceSeconds"],
    ["a negative maximum age", { maxTokenAgeSeconds: -1 }, "issuers[0].maxTokenAgeSeconds"],
    ["a JWKS URI with credentials", { jwks: undefined, jwksUri: "https://user:pw@idp.test/jwks" }, "issuers[0].jwksUri"],
    ["an inline JWKS without keys", { jwks: { keys: [] } }, "issuers[0].jwks.keys"],
    ["a zero maximum lifetime", { maxTokenLifetimeSeconds: 0 }, "issuers[0].maxTokenLifetimeSeconds"],
    ["a fractional maximum lifetime", { maxTokenLifetimeSeconds: 1.5 }, "issuers[0].maxTokenLifetimeSeconds"],
    ["a maximum lifetime above 366 days", { maxTokenLifetimeSeconds: 366 * 86_400 + 1 }, "issuers[0].maxTokenLifetimeSeconds"],
    ["a string maximum lifetime", { maxTokenLifetimeSeconds: "86400" as never }, "issuers[0].maxTokenLifetimeSeconds"],
    ["logout tokens as an allowed type", { allowedTypes: ["at+jwt", "Logout+JWT"] }, "issuers[0].allowedTypes[1]"],
    ["security event tokens as an allowed type", { allowedTypes: ["application/secevent+jwt"] }, "issuers[0].allowedTypes[0]"],
    ["a type that is not a media type", { allowedTypes: ["at jwt"] }, "issuers[0].allowedTypes[0]"],
    ["no type and no untyped tokens", { allowedTypes: [], allowMissingType: false }, "issuers[0].allowedTypes"],
    ["a string allowMissingType", { allowMissingType: "no" as never }, "issuers[0].allowMissingType"],
  ];

  it.each(bad)("refuses %s, naming the key", (_name, overrides, key) => {
    const issuers = [issuerA(overrides)];
    let caught: unknown;
    try {
      createTokenVerifier(issuers);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe("CONFIG_INVALID");
    expect((caught as ConfigError).key).toBe(key);
  });

  it("refuses a duplicate issuer and an empty issuer list", () => {
    expect(() => createTokenVerifier([issuerA(), issuerA()])).toThrow(/issuers\[1\]\.issuer/);
    expect(() => createTokenVerifier([])).toThrow(ConfigError);
  });

  it("says what is wrong in words, not only where", () => {
    expect(() => createTokenVerifier([issuerA({ algorithms: ["HS256" as never] })])).toThrow(
      'invalid configuration at issuers[0].algorithms[0]: algorithm "HS256" is not allowed (allowed: ES256, ES384, RS256, PS256, EdDSA)',
    );
    expect(() => createTokenVerifier([issuerA({ maxTokenAgeSecs: 60 } as Overrides)])).toThrow(/unknown key \(allowed: issuer, audiences, /);
    expect(() => createTokenVerifier(["https://idp.test"] as never)).toThrow("invalid configuration at issuers[0]: must be a mapping");
  });

  it("accepts plain-http loopback JWKS only when allowed", () => {
    const loopback = [issuerA({ jwks: undefined, jwksUri: "http://127.0.0.1:1/jwks.json" })];
    expect(() => createTokenVerifier(loopback)).not.toThrow();
    expect(() => createTokenVerifier(loopback, { allowInsecureLoopbackJwks: false })).toThrow(/issuers\[0\]\.jwksUri: must use https/);
  });
});
