/**
 * An SSF 1.0 transmitter written in the test to the specs, as a real HTTP server on a loopback port:
 *
 *   GET  /.well-known/ssf-configuration   discovery (SSF §7.1): issuer, jwks_uri, both delivery methods, the
 *                                          configuration, status and verification endpoints
 *   GET  /jwks                             its public signing key (ES256, a real key from jose)
 *   POST /ssf/stream                       create a stream (SSF §8.1.1.1): 201 with the stream's configuration; a poll
 *                                          stream gets this transmitter's poll endpoint
 *   GET  /ssf/stream?stream_id=            read it (404 when unknown)
 *   GET  /ssf/status?stream_id=            its status (enabled unless the test says otherwise)
 *   POST /ssf/verify                       204, then a verification SET echoing `state` (pushed, or queued to poll)
 *   POST /ssf/poll/<stream_id>             RFC 8936: takes `ack` and `setErrs`, answers at most `maxEvents` queued SETs
 *                                          with `moreAvailable`
 *
 * Management and poll calls need the management bearer. Every request is recorded (the tests assert what the
 * receiver asked). SETs are signed with the real key (`typ: secevent+jwt`); `push` sends one to a push stream's
 * endpoint with the authorization header the receiver gave at creation, trusting the receiver's certificate.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { postTrusting, type HttpAnswer } from "./signals-tls.ts";

export const PUSH = "urn:ietf:rfc:8935";
export const POLL = "urn:ietf:rfc:8936";
export const CAEP = "https://schemas.openid.net/secevent/caep/event-type/";
export const VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";

export interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface Stream {
  id: string;
  delivery: { method: string; endpoint_url?: string; authorization_header?: string };
  eventsRequested: string[];
  status: "enabled" | "paused" | "disabled";
  /** Poll delivery: SETs waiting for the receiver, by jti, in order. */
  queue: Map<string, string>;
  acked: string[];
  setErrs: Record<string, { err: string; description: string }>;
  /** Answers to this transmitter's own pushes (verification events). */
  pushed: HttpAnswer[];
}

export interface TransmitterOptions {
  /** The SETs' `aud`. */
  audience: string;
  /** The bearer the receiver must send to manage streams and poll. */
  managementToken: string;
  /** The receiver's serving certificate (pushes trust it). */
  receiverCa: string;
}

export class SsfTransmitter {
  readonly requests: Recorded[] = [];
  readonly streams = new Map<string, Stream>();
  readonly issuer: string;
  readonly #server: Server;
  readonly #key: CryptoKey;
  readonly #o: TransmitterOptions;

  private constructor(server: Server, key: CryptoKey, o: TransmitterOptions) {
    this.#server = server;
    this.#key = key;
    this.#o = o;
    this.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(o: TransmitterOptions): Promise<SsfTransmitter> {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "tx-1", alg: "ES256", use: "sig" };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const t = new SsfTransmitter(server, privateKey, o);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      t.#handle(req, res, jwk).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    return t;
  }

  /** The SET claims for one event (iss, aud, iat, jti, sub_id, events), `extra` overriding any of them. */
  claims(type: string, subId: unknown, event: Record<string, unknown>, extra: Record<string, unknown> = {}): JWTPayload {
    return {
      iss: this.issuer,
      aud: this.#o.audience,
      iat: Math.floor(Date.now() / 1000),
      jti: randomBytes(12).toString("hex"),
      ...(subId === undefined ? {} : { sub_id: subId }),
      events: { [type.includes("/") ? type : `${CAEP}${type}`]: event },
      ...extra,
    };
  }

  /** Signs with the transmitter's key (ES256, kid tx-1, typ secevent+jwt) unless told otherwise. */
  async sign(claims: JWTPayload, header: Record<string, unknown> = {}, key: CryptoKey | Uint8Array = this.#key): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "tx-1", typ: "secevent+jwt", ...header }).sign(key);
  }

  streamBy(method: string): Stream {
    const stream = [...this.streams.values()].find((s) => s.delivery.method === method);
    if (stream === undefined) throw new Error(`no ${method} stream yet`);
    return stream;
  }

  /** RFC 8935 push of `body` to the push stream's endpoint (its bearer and content type unless overridden). */
  async push(body: string | Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const stream = this.streamBy(PUSH);
    return postTrusting(
      stream.delivery.endpoint_url ?? "",
      this.#o.receiverCa,
      { authorization: stream.delivery.authorization_header ?? "", "content-type": "application/secevent+jwt", accept: "application/json", ...headers },
      body,
    );
  }

  /** Queues a SET for the poll stream. */
  enqueue(jti: string, set: string): void {
    this.streamBy(POLL).queue.set(jti, set);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, jwk: JWK): Promise<void> {
    const url = new URL(req.url ?? "/", this.issuer);
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    this.requests.push({ method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization, body: text === "" ? undefined : body });
    const [status, value, then] = this.#route(req.method ?? "", url, req.headers.authorization, body, jwk);
    res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" }).end(value === undefined ? undefined : JSON.stringify(value));
    await then?.();
  }

  #route(method: string, url: URL, authorization: string | undefined, body: Record<string, unknown>, jwk: JWK): [number, unknown?, (() => Promise<void>)?] {
    if (url.pathname === "/.well-known/ssf-configuration") return [200, this.#discovery()];
    if (url.pathname === "/jwks") return [200, { keys: [jwk] }];
    if (authorization !== `Bearer ${this.#o.managementToken}`) return [401, { error: "invalid_token" }];
    if (method === "POST" && url.pathname === "/ssf/stream") return [201, this.#configOf(this.#create(body))];
    const named = url.searchParams.get("stream_id") ?? (typeof body["stream_id"] === "string" ? body["stream_id"] : url.pathname.split("/")[3]);
    const stream = this.streams.get(named ?? "");
    if (stream === undefined) return [404, { error: "not_found" }];
    if (method === "GET" && url.pathname === "/ssf/stream") return [200, this.#configOf(stream)];
    if (method === "GET" && url.pathname === "/ssf/status") return [200, { stream_id: stream.id, status: stream.status }];
    if (method === "POST" && url.pathname === "/ssf/verify")
      return [204, undefined, () => this.#verify(stream, typeof body["state"] === "string" ? body["state"] : undefined)];
    if (method === "POST" && url.pathname.startsWith("/ssf/poll/")) return [200, this.#poll(stream, body)];
    return [404, { error: "not_found" }];
  }

  #discovery(): Record<string, unknown> {
    return {
      spec_version: "1_0",
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks`,
      delivery_methods_supported: [PUSH, POLL],
      configuration_endpoint: `${this.issuer}/ssf/stream`,
      status_endpoint: `${this.issuer}/ssf/status`,
      verification_endpoint: `${this.issuer}/ssf/verify`,
      authorization_schemes: [{ spec_urn: "urn:ietf:rfc:6749" }],
    };
  }

  #create(body: Record<string, unknown>): Stream {
    const id = randomBytes(8).toString("hex");
    const requested = body["delivery"] as Stream["delivery"];
    const delivery = requested.method === POLL ? { method: POLL, endpoint_url: `${this.issuer}/ssf/poll/${id}` } : requested;
    const stream: Stream = {
      id,
      delivery,
      eventsRequested: Array.isArray(body["events_requested"]) ? (body["events_requested"] as string[]) : [],
      status: "enabled",
      queue: new Map(),
      acked: [],
      setErrs: {},
      pushed: [],
    };
    this.streams.set(id, stream);
    return stream;
  }

  #configOf(s: Stream): Record<string, unknown> {
    // The authorization header the receiver gave is write-only: never read back.
    const delivery = { method: s.delivery.method, ...(s.delivery.endpoint_url === undefined ? {} : { endpoint_url: s.delivery.endpoint_url }) };
    return {
      stream_id: s.id,
      iss: this.issuer,
      aud: this.#o.audience,
      delivery,
      events_supported: s.eventsRequested,
      events_requested: s.eventsRequested,
      events_delivered: s.eventsRequested,
    };
  }

  async #verify(stream: Stream, state: string | undefined): Promise<void> {
    const set = await this.sign(this.claims(VERIFICATION, { format: "opaque", id: stream.id }, state === undefined ? {} : { state }));
    if (stream.delivery.method === POLL) {
      this.enqueue(randomBytes(8).toString("hex"), set);
      return;
    }
    stream.pushed.push(await this.push(set).catch(() => ({ status: 0, json: undefined })));
  }

  /** RFC 8936 §2.4: acknowledgements and errors first, then at most maxEvents of what is still queued. */
  #poll(stream: Stream, body: Record<string, unknown>): { sets: Record<string, string>; moreAvailable: boolean } {
    for (const jti of Array.isArray(body["ack"]) ? (body["ack"] as string[]) : []) {
      stream.acked.push(jti);
      stream.queue.delete(jti);
    }
    for (const [jti, err] of Object.entries((body["setErrs"] ?? {}) as Stream["setErrs"])) {
      stream.setErrs[jti] = err;
      stream.queue.delete(jti);
    }
    const max = typeof body["maxEvents"] === "number" ? body["maxEvents"] : 100;
    const pending = [...stream.queue];
    return { sets: Object.fromEntries(pending.slice(0, max)), moreAvailable: pending.length > max };
  }
}
