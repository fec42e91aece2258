/**
 * A local OIDC provider for the peer proxy: OpenID discovery and the JWKS of the benchmark issuer, nothing else
 * (tokens are minted by the benchmark itself). The issuer is this server's own URL.
 * Usage: node bench/servers/oidc.ts '<JWKS JSON>'; prints {"port":N,"issuer":"http://127.0.0.1:N"}.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const jwks = process.argv[2] ?? '{"keys":[]}';
let discovery = "";
const server = createServer((req, res) => {
  const body = req.url === "/.well-known/openid-configuration" ? discovery : req.url === "/jwks" ? jwks : undefined;
  if (body === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, "127.0.0.1", () => {
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  discovery = JSON.stringify({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
  });
  process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
});
process.once("SIGTERM", () => process.exit(0));
