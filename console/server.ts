/**
 * The console's HTTP server on 127.0.0.1 (console-0002): the security gate (Host, login token → cookie, Origin +
 * CSRF on POST), static assets, and the routes (console/routes.ts). It reads and writes the cluster only through
 * the user's own kubeconfig (`Kube`).
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Kube } from "../cli/kube/client.ts";
import type { Identity, Scope } from "../cli/kube/resources.ts";
import { loadAssets, type Asset } from "./assets.ts";
import { html } from "./html.ts";
import { redirect, send, sendHtml, sendText } from "./http.ts";
import { handle, type ConsoleState } from "./routes.ts";
import { cookieName, csrfToken, hostAllowed, newSecrets, originAllowed, parseCookies, sameSecret, sessionCookie, type ConsoleSecrets } from "./security.ts";
import { SessionCache } from "./session-cache.ts";
import { feedSessions, type FeedStatus } from "./session-feed.ts";

export interface ConsoleOptions {
  kube: Kube;
  scope: Scope;
  viewer: Identity;
  /** 0 = any free port. */
  port: number;
}

export interface RunningConsole {
  port: number;
  /** The URL to open (carries the login token). */
  url: string;
  cache: SessionCache;
  stop(): Promise<void>;
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, { etag: asset.etag });
    res.end();
    return;
  }
  send(res, 200, asset.body, asset.type, { etag: asset.etag, "cache-control": "private, max-age=3600" });
}

function unauthorized(res: ServerResponse): void {
  sendHtml(
    res,
    401,
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <title>Vigil console</title>
        </head>
        <body>
          <h1>Open the console from its URL</h1>
          <p>
            This console only answers the browser that opened the URL <code>kubectl vigil console</code> printed (it carries a login token). Run it again, or
            copy that URL.
          </p>
        </body>
      </html>`,
  );
}

export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const assets = loadAssets();
  const secrets: ConsoleSecrets = newSecrets();
  const cache = new SessionCache();
  const feed: FeedStatus = {};
  const stop = new AbortController();
  let port = 0;
  const state = (): ConsoleState => ({ ...o, cache, feed, csrf: csrfToken(secrets), port, stop: stop.signal });

  /** A state-changing request: from a page of this console (Origin), and its CSRF header right when present. */
  const sameOrigin = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!originAllowed(req.headers.origin, req.headers.referer, port)) {
      sendText(res, 403, "Forbidden: cross-origin request refused (Origin is not this console)");
      return false;
    }
    // The token comes in the form (csrf) or, from htmx, in a header; routes.ts checks the form field.
    const header = req.headers["x-csrf-token"];
    if (typeof header === "string" && !sameSecret(header, csrfToken(secrets))) {
      sendText(res, 403, "Forbidden: bad CSRF token");
      return false;
    }
    return true;
  };

  const gate = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req.headers.host, port)) {
      sendText(
        res,
        403,
        `Forbidden: this console answers only to http://127.0.0.1:${port} (Host ${req.headers.host ?? "missing"} refused: DNS rebinding protection)`,
      );
      return;
    }
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const asset = assets.get(url.pathname);
    if (asset !== undefined && req.method === "GET") {
      serveAsset(req, res, asset);
      return;
    }
    const token = url.searchParams.get("token");
    if (token !== null && req.method === "GET") {
      if (!sameSecret(token, secrets.loginToken)) {
        unauthorized(res);
        return;
      }
      url.searchParams.delete("token");
      redirect(res, `${url.pathname}${url.search}`, { "set-cookie": sessionCookie(port, secrets) });
      return;
    }
    if (!sameSecret(parseCookies(req.headers.cookie).get(cookieName(port)), secrets.sessionSecret)) {
      unauthorized(res);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD" && !sameOrigin(req, res)) return;
    await handle(req, res, url, state());
  };

  const server: Server = createServer((req, res) => {
    gate(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });
  server.listen(o.port, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
  void feedSessions(o.kube, o.scope, cache, feed, stop.signal);
  return {
    port,
    url: `http://127.0.0.1:${port}/?token=${secrets.loginToken}`,
    cache,
    async stop() {
      stop.abort();
      server.closeAllConnections();
      server.close();
      await once(server, "close").catch(() => undefined);
    },
  };
}
