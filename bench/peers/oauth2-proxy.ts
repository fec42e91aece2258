/**
 * The peer of `npm run bench:sidecar`: oauth2-proxy v7, built once per machine from the Go module proxy into the
 * cache outside the repository (build-oauth2-proxy.sh), in front of the same upstream, verifying the same bearer
 * JWTs against the same issuer (its OpenID discovery and JWKS served locally by bench/servers/oidc.ts).
 *
 * What it does per request with `--skip-jwt-bearer-tokens`: parse the bearer JWT, verify its ES256 signature with the
 * issuer's key (go-oidc; no verified-token cache), check issuer, audience (the client ID), expiry and a verified
 * email in an allowed domain (`*`), build a session from the claims, and proxy to the upstream with
 * X-Forwarded-User / -Email / -Groups / -Preferred-Username headers. It keeps no session store for bearer tokens,
 * evaluates no per-route policy and tracks no connections.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { freePort } from "../../test/cluster/ports.ts";
import { startChild, type Child } from "../support/children.ts";

const BUILD = resolve(import.meta.dirname, "build-oauth2-proxy.sh");

/** The cached binary's path, building it first when the cache has none (minutes, once per machine). */
export function buildOauth2Proxy(): Promise<string> {
  return new Promise((done, fail) => {
    execFile("bash", [BUILD], { maxBuffer: 16 << 20, timeout: 20 * 60_000 }, (err, stdout, stderr) => {
      const bin = stdout.trim().split("\n").at(-1) ?? "";
      if (err === null && bin !== "") done(bin);
      else fail(new Error(`building oauth2-proxy failed: ${stderr.slice(-2_000)}`));
    });
  });
}

export interface PeerProxy extends Child {
  port: number;
  version: string;
}

export async function startOauth2Proxy(opts: { bin: string; upstreamPort: number; issuerUrl: string; clientId: string }): Promise<PeerProxy> {
  const port = await freePort();
  const version = /oauth2-proxy-v([0-9.]+)/.exec(opts.bin)?.[1] ?? "?";
  const child = startChild("oauth2-proxy", opts.bin, [
    `--http-address=127.0.0.1:${port}`,
    `--upstream=http://127.0.0.1:${opts.upstreamPort}/`,
    "--provider=oidc",
    `--oidc-issuer-url=${opts.issuerUrl}`,
    `--client-id=${opts.clientId}`,
    "--client-secret=bench-not-used",
    `--cookie-secret=${randomBytes(16).toString("hex")}`,
    "--cookie-secure=false",
    "--email-domain=*",
    "--skip-jwt-bearer-tokens=true",
    "--skip-provider-button=true",
    "--request-logging=false",
    "--auth-logging=false",
    "--standard-logging=false",
  ]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`oauth2-proxy did not start: ${child.stderr().slice(-2_000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...child, port, version };
}
