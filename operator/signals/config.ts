/**
 * The identity-provider signal receivers' configuration: a YAML/JSON file (VIGIL_SIGNALS_CONFIG_FILE, mounted from
 * a ConfigMap the chart renders from its `signals` values; secrets are files mounted from Secrets), validated with zod at
 * start — a bad entry stops the operator naming the key. See docs/decisions/signals-0001-where-signals-are-received.md.
 *
 * Every URL is https, except loopback http (a development and test convenience that never leaves the host).
 * Algorithms are an explicit list (no `none`, no HMAC: the receiver only ever holds public keys).
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";

export const SIGNAL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

export function isAllowedUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}

const url = z.string().max(2048).refine(isAllowedUrl, "must be an https URL (http only on loopback)");
const algorithms = z.array(z.enum(SIGNAL_ALGORITHMS)).min(1).max(10);
const name = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u, "must be a DNS label");
const issuer = z.string().min(1).max(2048);
const path = z.string().regex(/^\/\S*$/u, "must be an absolute path");

const backChannel = z
  .object({
    issuer,
    /** Vigil's client_id(s) at the provider: the logout token's `aud`. */
    audiences: z.array(z.string().min(1).max(512)).min(1).max(16),
    algorithms,
    jwksUri: url.optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(64) }).optional(),
    /** Logout tokens older than this (from `iat`) are refused. Default 600. */
    maxAgeSeconds: z.int().min(30).max(3600).default(600),
    clockToleranceSeconds: z.int().min(0).max(120).default(30),
  })
  .strict()
  .refine((c) => (c.jwksUri === undefined) !== (c.jwks === undefined), "exactly one of jwksUri and jwks");

const ssf = z
  .object({
    name,
    /** The transmitter's issuer: discovery at its /.well-known/ssf-configuration, and the SETs' `iss`. */
    transmitter: url,
    /** The SETs' `aud` (this receiver, as the stream is configured). */
    audience: z.string().min(1).max(2048),
    algorithms: algorithms.default(["RS256"]),
    /** Issuer of the users' tokens, for subjects that name no issuer (email, opaque sessions). */
    subjectIssuer: issuer,
    delivery: z.enum(["push", "poll"]),
    /** Bearer token for stream management and polling (an OAuth access token with ssf.manage / ssf.read). */
    managementTokenFile: path,
    /** push: the bearer the transmitter must send (Vigil gives it to the transmitter when creating the stream). */
    pushTokenFile: path.optional(),
    /** push: this receiver's public URL of `/ssf/push/<name>` (given to the transmitter). */
    pushUrl: url.optional(),
    pollIntervalSeconds: z.int().min(1).max(3600).default(5),
    maxEvents: z.int().min(1).max(1000).default(100),
    /** How often the stream's status is read and a verification event asked for. Default 300. */
    healthCheckSeconds: z.int().min(5).max(86_400).default(300),
    clockToleranceSeconds: z.int().min(0).max(120).default(30),
  })
  .strict()
  .refine((c) => c.delivery === "poll" || (c.pushTokenFile !== undefined && c.pushUrl !== undefined), "push delivery needs pushTokenFile and pushUrl");

export const signalsConfigSchema = z
  .object({ backChannelLogout: z.array(backChannel).max(16).default([]), ssf: z.array(ssf).max(16).default([]) })
  .strict()
  .refine((c) => new Set(c.ssf.map((s) => s.name)).size === c.ssf.length, "ssf names must be unique");

export type SignalsConfig = z.infer<typeof signalsConfigSchema>;
export type BackChannelConfig = SignalsConfig["backChannelLogout"][number];
export type SsfConfig = SignalsConfig["ssf"][number];

export function parseSignalsConfig(doc: unknown): SignalsConfig {
  const parsed = signalsConfigSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`VIGIL_SIGNALS_CONFIG_FILE: ${(issue?.path ?? []).join(".") || "(root)"}`, issue?.message ?? "invalid");
  }
  return parsed.data;
}

export async function readSignalsConfig(file: string): Promise<SignalsConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError("VIGIL_SIGNALS_CONFIG_FILE", `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseSignalsConfig(parse(text) as unknown);
}
