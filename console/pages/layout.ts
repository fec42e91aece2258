/** The page frame: Pico (classless), the console's stylesheet, htmx and its SSE extension — all from /assets. */
import { html, raw, type Html } from "../html.ts";

export interface Frame {
  title: string;
  /** Which navigation entry is current. */
  nav: "sessions" | "terminations" | "policies" | "audit";
  csrf: string;
  context: string;
  viewer: string;
  scope: string;
}

/** htmx without eval or script tags, no injected indicator styles (the CSP forbids inline style), same-origin only. */
const HTMX_CONFIG = raw(`{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"historyCacheSize":0}`);

const NAV: readonly [Frame["nav"], string, string][] = [
  ["sessions", "/sessions", "Sessions"],
  ["terminations", "/terminations", "Terminations"],
  ["policies", "/policies", "Policies"],
  ["audit", "/audit", "Audit"],
];

export function page(f: Frame, body: Html): Html {
  const headers = JSON.stringify({ "x-csrf-token": f.csrf });
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content="${HTMX_CONFIG.value}" />
        <title>${f.title} · Vigil</title>
        <link rel="stylesheet" href="/assets/pico.classless.min.css" />
        <link rel="stylesheet" href="/assets/console.css" />
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/sse.js" defer></script>
      </head>
      <body hx-headers="${headers}">
        <header>
          <nav>
            <ul>
              <li><strong>Vigil</strong></li>
            </ul>
            <ul>
              ${NAV.map(([key, path, label]) => html`<li><a href="${path}" ${key === f.nav ? raw(' aria-current="page"') : ""}>${label}</a></li>`)}
            </ul>
          </nav>
          <p class="whoami">${f.viewer} · context ${f.context} · ${f.scope}</p>
        </header>
        <main>${body}</main>
      </body>
    </html>`;
}
