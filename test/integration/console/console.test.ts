/**
 * The console in a real browser: `kubectl vigil console` (bin/kubectl-vigil, the admin kubeconfig) during a live
 * journey (live-journey.ts), driven in Debian's headless Chromium by playwright-core. Alice's session appears in the
 * live table, its flow counter moves when she opens a WebSocket and its byte counters when she sends, Terminate asks
 * for a reason, the termination reaches Completed with its counts and her session ends. Plus the defences: the CSP
 * header (and no violation in the page), a wrong Host refused, no cookie refused, a cross-origin POST refused, a POST
 * without the CSRF token refused. Screenshots go to .vigil/artifacts/console/ (copied to docs/ by hand).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { request } from "node:http";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type WebSocket from "ws";
import { CONTENT_SECURITY_POLICY } from "../../../console/security.ts";
import { bytes } from "../../../console/pages/format.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { startLiveJourney, type LiveJourney } from "./live-journey.ts";
import { start } from "./plugin-cli.ts";

const id = randomBytes(3).toString("hex");
const ARTIFACTS = join(import.meta.dirname, "../../../.vigil/artifacts/console");
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const waitFor = <T>(fn: () => Promise<T> | T, timeout = 20_000): Promise<T> => vi.waitFor(fn, { timeout, interval: 200 });

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request to the console (any Host, Origin, cookie), as a rebinding page or another local user would send. */
function raw(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers ?? {} }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("the console in a real browser", () => {
  let env: ClusterEnv;
  let journey: LiveJourney | undefined;
  const jj = (): LiveJourney => {
    if (journey === undefined) throw new Error("no journey");
    return journey;
  };
  let consoleProc: ReturnType<typeof start> | undefined;
  let url: string;
  let port: number;
  let cookie: string;
  let profile: string | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  let alice: string;
  let ws: WebSocket | undefined;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    env = clusterEnv();
    mkdirSync(ARTIFACTS, { recursive: true });
    journey = await startLiveJourney(env, id);
    const proc = start(env.kubeconfig, ["console", "-n", jj().namespace, "--no-browser", "--port", "0"]);
    consoleProc = proc;
    url = await waitFor(() => {
      const m = /(http:\/\/127\.0\.0\.1:(\d+)\/\?token=[\w-]+)/.exec(proc.output());
      if (m === null) throw new Error(`no URL yet:\n${proc.output()}`);
      return m[1] ?? "";
    });
    port = Number(new URL(url).port);
    profile = await mkdtemp(join(tmpdir(), "vigil-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 900 },
    });
    browser = context;
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.text().includes("Content Security Policy")) cspViolations.push(m.text());
    });
  }, 240_000);

  afterAll(async () => {
    ws?.terminate();
    await browser?.close().catch(() => undefined);
    if (consoleProc !== undefined) {
      consoleProc.child.kill("SIGINT");
      await once(consoleProc.child, "exit").catch(() => undefined);
    }
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
    await journey?.stop();
  }, 120_000);

  describe("defences", () => {
    it("answers only with the login token, then with its cookie; every page carries the strict CSP", async () => {
      const noCookie = await raw(port, "/sessions", { headers: { host: `127.0.0.1:${port}` } });
      expect(noCookie.status).toBe(401);
      const badToken = await raw(port, "/?token=wrong", { headers: { host: `127.0.0.1:${port}` } });
      expect(badToken.status).toBe(401);
      const login = await raw(port, new URL(url).pathname + new URL(url).search, { headers: { host: `127.0.0.1:${port}` } });
      expect(login.status).toBe(303);
      const setCookie = String(login.headers["set-cookie"]);
      expect(setCookie).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
      cookie = setCookie.split(";")[0] ?? "";
      const sessions = await raw(port, "/sessions", { headers: { host: `127.0.0.1:${port}`, cookie } });
      expect(sessions.status).toBe(200);
      expect(sessions.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
      expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
      expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe");
      expect(sessions.headers["x-frame-options"]).toBe("DENY");
      expect(sessions.body).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
      expect(sessions.body).not.toMatch(/ style="/);
    });

    it("refuses a wrong Host header (DNS rebinding) even with the cookie", async () => {
      const r = await raw(port, "/sessions", { headers: { host: `rebind.example:${port}`, cookie } });
      expect(r.status).toBe(403);
      expect(r.body).toContain("DNS rebinding protection");
    });

    it("refuses a cross-origin POST and a POST without the CSRF token", async () => {
      const target = `/sessions/${jj().namespace}/s_AAAAAAAAAAAAAAAAAAAAAA/terminate`;
      const form = { "content-type": "application/x-www-form-urlencoded" };
      const cross = await raw(port, target, {
        method: "POST",
        headers: { ...form, host: `127.0.0.1:${port}`, cookie, origin: "http://evil.example" },
        body: "reason=x",
      });
      expect(cross.status).toBe(403);
      expect(cross.body).toContain("cross-origin request refused");
      const noOrigin = await raw(port, target, { method: "POST", headers: { ...form, host: `127.0.0.1:${port}`, cookie }, body: "reason=x" });
      expect(noOrigin.status).toBe(403);
      const noToken = await raw(port, target, {
        method: "POST",
        headers: { ...form, host: `127.0.0.1:${port}`, cookie, origin: `http://127.0.0.1:${port}` },
        body: "reason=x",
      });
      expect(noToken.status).toBe(403);
      expect(noToken.body).toContain("CSRF");
      const terminations = await raw(port, "/terminations", { headers: { host: `127.0.0.1:${port}`, cookie } });
      expect(terminations.body).toContain("No terminations.");
    });
  });

  describe("a live journey", () => {
    it("shows alice's session appear in the live table and its flow counter change", async () => {
      await page.goto(url);
      await expect.poll(() => page.locator("h1").textContent()).toBe("Sessions");
      expect(await page.locator("tbody tr[data-session]").count()).toBe(1); // bob (the policy's readiness probe)
      const active = async () => Number(await page.locator('[data-counter="active"]').textContent());
      expect(await active()).toBe(1);

      expect((await jj().get(jj().users.alice, "/orders")).status).toBe(200);
      const row = page.locator("tbody tr[data-session]", { hasText: "alice@example.test" });
      await row.waitFor({ timeout: 10_000 });
      alice = (await row.getAttribute("data-session")) ?? "";
      expect(alice).toMatch(/^s_/);
      expect(await row.locator("td").nth(2).textContent()).toBe("alice@example.test");
      expect(await row.locator("[data-flows]").textContent()).toBe("0");
      await expect.poll(active).toBe(2);

      ws = await jj().websocket(jj().users.alice);
      await expect.poll(() => row.locator("[data-flows]").textContent(), { timeout: 10_000 }).toBe("1");
      expect(await page.locator('[data-counter="flows"]').textContent()).toBe("1");
      await page.screenshot({ path: join(ARTIFACTS, "sessions.png") });
    });

    it("opens alice's session: identity, client, the live flow whose bytes move, the audit timeline", async () => {
      // The admitting rule comes with the sidecar's (throttled) activity report, after the session's start.
      await jj().session(jj().users.alice, (s) => s.admittedBy.length > 0);
      await page.locator(`tr[data-session="${alice}"] a`).click();
      await page.waitForURL(`**/sessions/${jj().namespace}/${alice}`);
      expect(await page.locator("h1").textContent()).toBe("alice@example.test");
      const identity = await page.locator(".identity").textContent();
      expect(identity).toContain("engineers");
      expect(identity).toContain("journey-alice/1.0");
      expect(identity).toContain("web-access / rule engineers");
      const flow = page.locator("tr[data-flow]");
      await flow.waitFor();
      expect(await flow.locator("td").first().textContent()).toBe("websocket");
      // Bytes as the client socket counts them: so far the upgrade request in, the 101 answer out.
      if (ws === undefined) throw new Error("no WebSocket");
      const opened = jj().bytesOf(ws);
      await expect.poll(() => flow.locator("[data-bytes-in]").textContent(), { timeout: 10_000 }).toBe(bytes(opened.in));
      await expect.poll(() => flow.locator("[data-bytes-out]").textContent(), { timeout: 10_000 }).toBe(bytes(opened.out));
      ws.send("x".repeat(2048));
      await once(ws, "message");
      const moved = jj().bytesOf(ws);
      expect(moved.in - opened.in).toBeGreaterThan(2048);
      expect(moved.out - opened.out).toBeGreaterThan(2048);
      await expect.poll(() => flow.locator("[data-bytes-in]").textContent(), { timeout: 10_000 }).toBe(bytes(moved.in));
      await expect.poll(() => flow.locator("[data-bytes-out]").textContent(), { timeout: 10_000 }).toBe(bytes(moved.out));
      expect(await page.locator("#detail").textContent()).toContain("VF001I");
      await page.screenshot({ path: join(ARTIFACTS, "session.png"), fullPage: true });
    });

    it("terminates it with a reason: the termination reaches Completed with its counts, and the session ends", async () => {
      if (ws === undefined) throw new Error("no WebSocket");
      const closed = once(ws, "close");
      await page.locator("details.terminate summary").click();
      await page.locator('input[name="reason"]').fill("browser test: suspicious activity");
      await page.locator('input[name="revokeFor"]').fill("1m");
      await page.locator('button[type="submit"]').click();
      await page.waitForURL(`**/terminations/${jj().namespace}/vigil-console-*`);
      const termination = new URL(page.url()).pathname.split("/").at(-1) ?? "";
      await page.locator('[data-phase="Completed"]').waitFor({ timeout: 30_000 });
      expect(await page.locator('[data-count="sessions"]').textContent()).toBe("1");
      // The WebSocket (alice's requests went on connections of their own, closed after the answer).
      expect(await page.locator('[data-count="connections"]').textContent()).toBe("1");
      expect(await page.locator('[data-count="acked"]').textContent()).toBe("1 / 1");
      expect(await page.locator("main").textContent()).toContain("browser test: suspicious activity");
      await closed;
      expect((await jj().get(jj().users.alice, "/orders")).status).toBe(401);

      await page.goto(`http://127.0.0.1:${port}/sessions/${jj().namespace}/${alice}`);
      // The end travels the audit pipeline (the sidecar's flush, the stream, the operator's ingest): as long as Completed may take.
      await page.locator('#detail [data-state="Ended"]').waitFor({ timeout: 30_000 });
      // The end the sidecar reported: Vigil's reset, by this termination.
      await expect
        .poll(() => page.locator("#detail .state").textContent(), { timeout: 10_000 })
        .toContain(`Terminated: SessionTermination ${jj().namespace}/${termination}`);
      expect(await page.locator("details.terminate").count()).toBe(0);
    });

    it("lists the termination, the policy in words, and the views and the termination in the audit trail", async () => {
      await page.goto(`http://127.0.0.1:${port}/terminations`);
      expect(await page.locator("tbody").textContent()).toMatch(/vigil-console-\w+.*Completed/s);
      await page.goto(`http://127.0.0.1:${port}/policies`);
      const policy = await page.locator('article[data-policy="web-access"]').textContent();
      expect(policy).toContain("Allow members of engineers: GET on any path");
      expect(policy).toContain("Accepted=True");
      expect(policy).toMatch(/Enforcing sidecars: 1 of 1/);
      expect(policy).toContain(jj().pod);
      await page.goto(`http://127.0.0.1:${port}/audit?session=${alice}`);
      const codes = await Promise.all((await page.locator("tbody tr").all()).map((r) => r.getAttribute("data-code")));
      expect(codes).toEqual(expect.arrayContaining(["VC001I", "VC002I", "VF001I"]));
      const csv = await raw(port, `/audit/export.csv?session=${alice}`, { headers: { host: `127.0.0.1:${port}`, cookie } });
      expect(csv.headers["content-type"]).toContain("text/csv");
      expect(csv.body.split("\r\n")[0]).toBe("time,code,type,outcome,user,actor,namespace,session,pod,reason,source");
      expect(cspViolations).toEqual([]);
    });
  });
});
