/**
 * The mounted issuer configuration, validated with zod (the issuers ConfigMap, see charts/vigil values `sidecar.issuers`).
 *
 * Contract: `parseIssuers(value, opts)` returns the validated list with defaults filled in, or throws a `ConfigError`
 * whose key names the first bad field as `issuers[i].<field>` (e.g. `issuers[0].algorithms`,
 * `issuers[1].jwks.keys[0].kty`). Refused: an empty list, unknown keys (a typo never silently falls back to a
 * default), no or unknown algorithms (HS*, `none`), a clock tolerance above 60 s, both or neither of `jwksUri` and
 * `jwks`, a remote JWKS that is not https (loopback http only when allowed) or carries credentials, an inline JWKS
 * with symmetric or private key material, a duplicate issuer, a maximum token lifetime (`maxTokenLifetimeSeconds`,
 * default 24 h) that is not a whole number of seconds from 1 s to 366 days, an allowed token type (`allowedTypes`,
 * default `at+jwt` and `JWT`) that is not a media type or is never a credential (token-type.ts), and a
 * configuration that could accept no token at all (no allowed type and `allowMissingType: false`).
 */
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { DEFAULT_ALLOWED_TYPES, NEVER_CREDENTIALS, normaliseType } from "./token-type.ts";

export const ALLOWED_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"] as const;
export type AllowedAlgorithm = (typeof ALLOWED_ALGORITHMS)[number];
export const MAX_CLOCK_TOLERANCE_SECONDS = 60;
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;
export const MAX_TOKEN_LIFETIME_LIMIT_SECONDS = 366 * 24 * 3600;

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const PUBLIC_KTYS = new Set(["EC", "RSA", "OKP"]);
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const HTTPS_ONLY = "must use https (plain http only for loopback)";
/** `type/subtype` or a bare subtype (RFC 6838 restricted names). */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})?$/;

const isLoopbackHttp = (url: URL): boolean => url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);

const nonEmptyString = z.string({ error: "must be a non-empty string" }).min(1, { error: "must be a non-empty string" });

const publicJwk = z.record(z.string(), z.unknown(), { error: "must be an object" }).superRefine((jwk, ctx) => {
  const kty = jwk.kty;
  if (typeof kty !== "string" || !PUBLIC_KTYS.has(kty)) {
    ctx.addIssue({ code: "custom", path: ["kty"], message: "must be EC, RSA or OKP (no symmetric keys)" });
  } else if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) {
    ctx.addIssue({ code: "custom", message: "must hold public key material only" });
  }
});

const jwksSchema = z.object(
  { keys: z.array(publicJwk, { error: 'must be a JWK Set ({"keys": [...]})' }).min(1, { error: "must contain at least one key" }) },
  { error: 'must be a JWK Set ({"keys": [...]})' },
);

export interface IssuerSchemaOptions {
  /** Accept `http://` JWKS URIs on loopback hosts (tests, node-local IdPs). */
  allowInsecureLoopbackJwks: boolean;
}

/** https, or plain http to a loopback host (refused later unless allowed: see `parseIssuers`). */
function jwksUriProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  if (url.protocol === "https:") return undefined;
  if (isLoopbackHttp(url)) return undefined;
  return HTTPS_ONLY;
}

const issuerShape = {
  /** Exact `iss` value. */
  issuer: nonEmptyString,
  /** Accepted `aud` values (any-of). */
  audiences: z.array(nonEmptyString, { error: "at least one audience is required" }).min(1, { error: "at least one audience is required" }),
  /** Explicit allow-list; never `none` or HS*. */
  algorithms: z
    .array(
      z.enum(ALLOWED_ALGORITHMS, { error: (issue) => `algorithm ${JSON.stringify(issue.input)} is not allowed (allowed: ${ALLOWED_ALGORITHMS.join(", ")})` }),
      { error: "an explicit, non-empty algorithm list is required" },
    )
    .min(1, { error: "an explicit, non-empty algorithm list is required" }),
  /** Remote JWKS (https). Exactly one of `jwksUri` and `jwks`. */
  jwksUri: z.string({ error: "must be a URL" }).optional(),
  /** Inline JWKS (public keys only). */
  jwks: jwksSchema.optional(),
  /** Claim holding the groups array. */
  groupsClaim: nonEmptyString.default("groups"),
  /** Claim holding the email. */
  emailClaim: nonEmptyString.default("email"),
  clockToleranceSeconds: z
    .number({ error: `must be a number between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}` })
    .min(0, { error: `must be between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}` })
    .max(MAX_CLOCK_TOLERANCE_SECONDS, { error: `must be between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}` })
    .default(DEFAULT_CLOCK_TOLERANCE_SECONDS),
  /** Refuse tokens whose `iat` is older than this. */
  maxTokenAgeSeconds: z.number({ error: "must be a positive number" }).positive({ error: "must be a positive number" }).optional(),
  /** `typ` values accepted (compared case-insensitively, `application/` prefix optional). */
  allowedTypes: z
    .array(
      z
        .string({ error: "must be a media type such as at+jwt" })
        .regex(MEDIA_TYPE, { error: "must be a media type such as at+jwt" })
        .refine((t) => !NEVER_CREDENTIALS.has(normaliseType(t)), {
          error: "is never accepted as a credential (logout, security event and introspection tokens)",
        }),
      { error: "must be a list of media types" },
    )
    .default([...DEFAULT_ALLOWED_TYPES]),
  /** Accept tokens without `typ`. */
  allowMissingType: z.boolean({ error: "must be true or false" }).default(true),
  /** Refuse tokens valid for longer than this (`exp − iat`). */
  maxTokenLifetimeSeconds: z
    .int({ error: `must be a whole number of seconds from 1 to ${MAX_TOKEN_LIFETIME_LIMIT_SECONDS}` })
    .min(1, { error: `must be a whole number of seconds from 1 to ${MAX_TOKEN_LIFETIME_LIMIT_SECONDS}` })
    .max(MAX_TOKEN_LIFETIME_LIMIT_SECONDS, { error: `must be a whole number of seconds from 1 to ${MAX_TOKEN_LIFETIME_LIMIT_SECONDS}` })
    .default(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
};

const issuerSchema = z.strictObject(issuerShape, { error: "must be a mapping" }).superRefine((config, ctx) => {
  if (config.allowedTypes.length === 0 && !config.allowMissingType) {
    ctx.addIssue({ code: "custom", path: ["allowedTypes"], message: "must not be empty when allowMissingType is false (no token could be accepted)" });
  }
  if ((config.jwksUri === undefined) === (config.jwks === undefined)) {
    ctx.addIssue({ code: "custom", path: ["jwksUri"], message: "exactly one of jwksUri and jwks is required" });
    return;
  }
  const problem = config.jwksUri === undefined ? undefined : jwksUriProblem(config.jwksUri);
  if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["jwksUri"], message: problem });
});

const issuersSchema = z
  .array(issuerSchema, { error: "must be a list of issuers" })
  .min(1, { error: "at least one issuer is required" })
  .superRefine((issuers, ctx) => {
    const seen = new Set<string>();
    issuers.forEach((config, i) => {
      if (seen.has(config.issuer)) ctx.addIssue({ code: "custom", path: [i, "issuer"], message: "duplicate issuer" });
      seen.add(config.issuer);
    });
  });

/** One issuer as written in the configuration. */
export type IssuerConfig = z.input<typeof issuerSchema>;
/** One issuer after validation, defaults filled in. */
export type ValidIssuerConfig = z.output<typeof issuerSchema>;

export function parseIssuers(value: unknown, opts: IssuerSchemaOptions): ValidIssuerConfig[] {
  const result = issuersSchema.safeParse(value);
  if (result.success) {
    if (!opts.allowInsecureLoopbackJwks) {
      const i = result.data.findIndex((c) => c.jwksUri !== undefined && isLoopbackHttp(new URL(c.jwksUri)));
      if (i !== -1) throw new ConfigError(`issuers[${i}].jwksUri`, HTTPS_ONLY);
    }
    return result.data;
  }
  const issue = result.error.issues[0];
  if (issue === undefined) throw new ConfigError("issuers", "is invalid", result.error);
  const at = keyOf(["issuers", ...issue.path]);
  if (issue.code === "unrecognized_keys") {
    throw new ConfigError(`${at}.${issue.keys[0] ?? ""}`, `unknown key (allowed: ${Object.keys(issuerShape).join(", ")})`, result.error);
  }
  throw new ConfigError(at, issue.message, result.error);
}

/** `["issuers", 0, "jwks", "keys", 1, "kty"]` → `issuers[0].jwks.keys[1].kty`. */
function keyOf(path: readonly PropertyKey[]): string {
  let key = "";
  for (const part of path) key += typeof part === "number" ? `[${part}]` : `${key === "" ? "" : "."}${String(part)}`;
  return key;
}
