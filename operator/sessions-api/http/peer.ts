/**
 * The client certificates of a TLS connection, as `authenticate` needs them: whether TLS verified them, and the
 * chain (leaf first) as node:crypto X509Certificates. Computed once per connection.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { PeerCertificates } from "../authn/authenticate.ts";

const cache = new WeakMap<TLSSocket, PeerCertificates>();

export function peerCertificates(socket: TLSSocket): PeerCertificates {
  const known = cache.get(socket);
  if (known !== undefined) return known;
  const chain: X509Certificate[] = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (Object.keys(cert).length > 0 && !seen.has(cert.fingerprint256) && chain.length < 8) {
    seen.add(cert.fingerprint256);
    try {
      chain.push(new X509Certificate(cert.raw));
    } catch {
      break;
    }
    const issuer = (cert as { issuerCertificate?: typeof cert }).issuerCertificate;
    if (issuer === undefined) break;
    cert = issuer;
  }
  const error = socket.authorizationError as Error | string | null | undefined;
  const peer: PeerCertificates = {
    verified: socket.authorized,
    verifyError: error === null || error === undefined ? undefined : error instanceof Error ? error.message : error,
    chain,
  };
  cache.set(socket, peer);
  return peer;
}
