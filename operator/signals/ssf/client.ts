/**
 * The receiver's side of SSF 1.0 stream management and RFC 8936 polling, over HTTPS (loopback http for tests):
 * discovery (`/.well-known/ssf-configuration` inserted before the issuer's path, §7.2), stream creation, status and
 * verification requests, and poll requests — each with the management bearer token, a timeout and a size limit on
 * the answer, validated with zod. Errors are thrown as `TransmitterError` with the HTTP status; never logs tokens.
 */
import { z } from "zod";
import { isAllowedUrl } from "../config.ts";

const MAX_RESPONSE_BYTES = 1024 * 1024;
const TIMEOUT_MS = 10_000;

export class TransmitterError extends Error {
  readonly status: number | undefined;

  constructor(message: string, status?: number) {
    super(message);
    this.name = "TransmitterError";
    this.status = status;
  }
}

const httpsUrl = z.string().refine(isAllowedUrl, "must be an https URL");
export const discoverySchema = z.object({
  issuer: z.string(),
  jwks_uri: httpsUrl,
  spec_version: z.string().optional(),
  delivery_methods_supported: z.array(z.string()).default([]),
  configuration_endpoint: httpsUrl.optional(),
  status_endpoint: httpsUrl.optional(),
  verification_endpoint: httpsUrl.optional(),
});
export type Discovery = z.infer<typeof discoverySchema>;

const streamSchema = z.object({
  stream_id: z.string().min(1).max(256),
  delivery: z.object({ method: z.string(), endpoint_url: z.string().optional() }).optional(),
  events_delivered: z.array(z.string()).optional(),
});
export type StreamConfig = z.infer<typeof streamSchema>;

const statusSchema = z.object({ status: z.enum(["enabled", "paused", "disabled"]), reason: z.string().optional() });
const pollSchema = z.object({ sets: z.record(z.string().max(256), z.string().max(64 * 1024)).default({}), moreAvailable: z.boolean().default(false) });

export const PUSH_METHOD = "urn:ietf:rfc:8935";
export const POLL_METHOD = "urn:ietf:rfc:8936";

export function discoveryUrl(issuer: string): string {
  const u = new URL(issuer);
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/$/u, "");
  return `${u.origin}/.well-known/ssf-configuration${path}`;
}

async function call<T>(url: string, init: { method: string; token?: string; body?: unknown }, schema: z.ZodType<T>): Promise<T> {
  if (!isAllowedUrl(url)) throw new TransmitterError("the transmitter's URL is not https");
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: {
        accept: "application/json",
        ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      redirect: "error",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new TransmitterError(`the transmitter could not be reached: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new TransmitterError("the transmitter's answer is too large", res.status);
  if (!res.ok) throw new TransmitterError(`the transmitter answered ${res.status}`, res.status);
  if (schema === NO_CONTENT) return undefined as T;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TransmitterError("the transmitter's answer is not JSON", res.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new TransmitterError(`the transmitter's answer is not valid: ${parsed.error.issues[0]?.message ?? "?"}`, res.status);
  return parsed.data;
}

const NO_CONTENT = z.unknown() as z.ZodType;

export class TransmitterClient {
  readonly #issuer: string;
  readonly #token: () => Promise<string>;

  constructor(issuer: string, token: () => Promise<string>) {
    this.#issuer = issuer;
    this.#token = token;
  }

  async discover(): Promise<Discovery> {
    const d = await call(discoveryUrl(this.#issuer), { method: "GET" }, discoverySchema);
    if (d.issuer !== this.#issuer) throw new TransmitterError("the discovery document names another issuer");
    return d;
  }

  async createStream(
    d: Discovery,
    body: { delivery: { method: string; endpoint_url?: string; authorization_header?: string }; events_requested: string[]; description: string },
  ): Promise<StreamConfig> {
    if (d.configuration_endpoint === undefined) throw new TransmitterError("the transmitter has no configuration_endpoint");
    return call(d.configuration_endpoint, { method: "POST", token: await this.#token(), body }, streamSchema);
  }

  async readStream(d: Discovery, streamId: string): Promise<StreamConfig> {
    if (d.configuration_endpoint === undefined) throw new TransmitterError("the transmitter has no configuration_endpoint");
    return call(`${d.configuration_endpoint}?stream_id=${encodeURIComponent(streamId)}`, { method: "GET", token: await this.#token() }, streamSchema);
  }

  async status(d: Discovery, streamId: string): Promise<z.infer<typeof statusSchema>> {
    if (d.status_endpoint === undefined) throw new TransmitterError("the transmitter has no status_endpoint");
    return call(`${d.status_endpoint}?stream_id=${encodeURIComponent(streamId)}`, { method: "GET", token: await this.#token() }, statusSchema);
  }

  async requestVerification(d: Discovery, streamId: string, state: string): Promise<void> {
    if (d.verification_endpoint === undefined) throw new TransmitterError("the transmitter has no verification_endpoint");
    await call(d.verification_endpoint, { method: "POST", token: await this.#token(), body: { stream_id: streamId, state } }, NO_CONTENT);
  }

  /** RFC 8936: acknowledge, report errors, and fetch up to maxEvents more. */
  async poll(
    endpoint: string,
    body: { ack: string[]; setErrs: Record<string, { err: string; description: string }>; maxEvents: number; returnImmediately: boolean },
  ): Promise<z.infer<typeof pollSchema>> {
    return call(endpoint, { method: "POST", token: await this.#token(), body }, pollSchema);
  }
}
