/** The console's pages and streams. Every read and write goes to the API server with the user's credentials. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { V1Pod } from "@kubernetes/client-node";
import { SESSION_ID_PATTERN, type VigilSession } from "../operator/api/sessions/v1alpha1.ts";
import type { SessionTermination } from "../operator/api/v1alpha1/session-termination.ts";
import { selects } from "../operator/api/label-selector.ts";
import { auditCsv, CONSOLE_CODES, eventsOfSessions, filterAudit, type AuditEvent } from "../cli/core/audit.ts";
import { parseFlagDuration } from "../cli/core/args.ts";
import { userOf } from "../cli/core/sessions.ts";
import type { Kube } from "../cli/kube/client.ts";
import { recordAudit, sessionsAndEventsSource, vigilEvents } from "../cli/kube/audit-trail.ts";
import { ApiError, describeFailure, UsageError } from "../cli/kube/errors.ts";
import { listAll, listPolicies, listTerminations, sessionsPath, terminationsPath, type Identity, type Scope } from "../cli/kube/resources.ts";
import { createTermination, followTermination } from "../cli/kube/terminations.ts";
import { html, type Html } from "./html.ts";
import { openSse, readForm, redirect, sendHtml, sendText, throttle, send } from "./http.ts";
import { auditPage, type AuditQuery } from "./pages/audit.ts";
import { terminationHref } from "./pages/format.ts";
import { page, type Frame } from "./pages/layout.ts";
import { policiesPage, type PolicyView } from "./pages/policies.ts";
import { sessionDetailUpdate, sessionPage } from "./pages/session.ts";
import { sessionsBlock, sessionsPage } from "./pages/sessions.ts";
import { progressBlock, terminationPage, terminationsPage } from "./pages/terminations.ts";
import { compiled } from "./policy-words.ts";
import { sameSecret } from "./security.ts";
import type { SessionCache, SessionQuery } from "./session-cache.ts";
import type { FeedStatus } from "./session-feed.ts";

export interface ConsoleState {
  kube: Kube;
  scope: Scope;
  viewer: Identity;
  cache: SessionCache;
  feed: FeedStatus;
  csrf: string;
  port: number;
  stop: AbortSignal;
}

const firstLine = (err: unknown): string => describeFailure(err).message.split("\n")[0] ?? "";
/** The API server's status for a refused call (502 when it could not be reached), else `fallback`. */
const statusOf = (err: unknown, fallback: number): number => (err instanceof ApiError ? (err.status > 0 ? err.status : 502) : fallback);

function frame(s: ConsoleState, title: string, nav: Frame["nav"]): Frame {
  return {
    title,
    nav,
    csrf: s.csrf,
    context: s.kube.contextName,
    viewer: s.viewer.username,
    scope: s.scope === null ? "all namespaces" : `namespace ${s.scope}`,
  };
}

/** A page to answer with: its title, the current navigation entry, its body and status (200 unless told). */
interface Shown {
  status?: number;
  title: string;
  nav: Frame["nav"];
  body: Html;
}

const show = (res: ServerResponse, s: ConsoleState, p: Shown): void => {
  sendHtml(res, p.status ?? 200, page(frame(s, p.title, p.nav), p.body));
};

/** One session as addressed by the console's URLs: `/sessions/<namespace>/<id>`. */
interface SessionAt {
  ns: string;
  id: string;
}

function sessionQuery(url: URL): SessionQuery {
  const p = (k: string): string | undefined => url.searchParams.get(k) ?? undefined;
  const pageNo = Number(p("page") ?? "1");
  return {
    ...(p("namespace") === undefined ? {} : { namespace: p("namespace") ?? "" }),
    ...(p("user") === undefined ? {} : { user: p("user") ?? "" }),
    ...(p("group") === undefined ? {} : { group: p("group") ?? "" }),
    ...(p("workload") === undefined ? {} : { workload: p("workload") ?? "" }),
    ...(p("state") === undefined ? {} : { state: p("state") ?? "" }),
    page: Number.isInteger(pageNo) && pageNo > 0 ? pageNo : 1,
  };
}

function sessionsStream(req: IncomingMessage, res: ServerResponse, url: URL, s: ConsoleState): void {
  const q = sessionQuery(url);
  const sse = openSse(req, res);
  const push = (): void => {
    sse.event("sessions", sessionsBlock(s.cache.query(q), q, Date.now(), s.feed.error).value);
  };
  const pushSoon = throttle(push, 250);
  const unsubscribe = s.cache.subscribe(pushSoon);
  const ages = setInterval(pushSoon, 10_000);
  sse.closed.addEventListener("abort", () => {
    unsubscribe();
    clearInterval(ages);
  });
  push();
}

async function timelineOf(s: ConsoleState, session: VigilSession): Promise<AuditEvent[]> {
  const events = await vigilEvents(s.kube, session.metadata.namespace, `involvedObject.name=${session.metadata.name}`).catch(() => []);
  return filterAudit([...eventsOfSessions([session]), ...events], {});
}

const readSession = (s: ConsoleState, ns: string, id: string): Promise<VigilSession> => s.kube.json<VigilSession>({ path: sessionsPath(ns, id) });

/** The answer to a refused terminate: the session page again, with this status and warning. */
interface Refusal {
  status: number;
  warning: string;
}

async function sessionView(res: ServerResponse, s: ConsoleState, { ns, id }: SessionAt, refusal?: Refusal): Promise<void> {
  let session: VigilSession;
  try {
    session = await readSession(s, ns, id);
  } catch (err) {
    show(res, s, {
      status: statusOf(err, 502),
      title: "Session",
      nav: "sessions",
      body: html`<h1>Session ${id}</h1><p class="notice" role="alert">${firstLine(err)}</p>`,
    });
    return;
  }
  const refused = await recordAudit(s.kube, {
    what: "view",
    namespace: ns,
    sessionId: id,
    sessionUser: userOf(session),
    actor: s.viewer,
    client: "console",
    message: `${CONSOLE_CODES.view.type}: session viewed by ${s.viewer.username} in the Vigil console`,
  });
  const warnings = [refusal?.warning, refused === undefined ? undefined : `This view could not be recorded in the audit trail: ${refused.message}`].filter(
    (w) => w !== undefined,
  );
  const otherNamespaces = s.cache
    .partsOf(id)
    .map((p) => p.namespace)
    .filter((n) => n !== ns);
  const timeline = await timelineOf(s, session);
  const body = sessionPage({
    session,
    otherNamespaces,
    timeline,
    csrf: s.csrf,
    now: Date.now(),
    warning: warnings.length === 0 ? undefined : warnings.join(" "),
  });
  show(res, s, { status: refusal?.status ?? 200, title: session.identity.email ?? session.identity.subject, nav: "sessions", body });
}

function sessionStream(req: IncomingMessage, res: ServerResponse, s: ConsoleState, { ns, id }: SessionAt): void {
  const sse = openSse(req, res);
  let last = "";
  const push = (): void => {
    readSession(s, ns, id)
      .then(
        async (session) => sessionDetailUpdate(session, await timelineOf(s, session), Date.now()),
        () => sessionDetailUpdate(undefined, [], Date.now()),
      )
      .then(
        (block) => {
          if (block.value !== last) sse.event("detail", (last = block.value));
        },
        () => undefined,
      );
  };
  const pushSoon = throttle(push, 250);
  let seen = JSON.stringify(s.cache.get(ns, id));
  const unsubscribe = s.cache.subscribe(() => {
    const now = JSON.stringify(s.cache.get(ns, id));
    if (now !== seen) {
      seen = now;
      pushSoon();
    }
  });
  const ages = setInterval(pushSoon, 10_000);
  sse.closed.addEventListener("abort", () => {
    unsubscribe();
    clearInterval(ages);
  });
}

async function terminate(req: IncomingMessage, res: ServerResponse, s: ConsoleState, at: SessionAt): Promise<void> {
  const { ns, id } = at;
  const form = await readForm(req);
  if (form === undefined || !sameSecret(form.get("csrf") ?? undefined, s.csrf)) {
    sendText(res, 403, "Forbidden: missing or bad CSRF token");
    return;
  }
  const reason = form.get("reason") ?? "";
  const revokeFor = (form.get("revokeFor") ?? "").trim();
  let created: SessionTermination;
  try {
    created = await createTermination(s.kube, ns, { sessionId: id, reason, ...(revokeFor === "" ? {} : { revokeFor }) }, s.viewer, "vigil-console");
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ApiError)) throw err;
    await sessionView(res, s, at, { status: statusOf(err, 400), warning: `Not terminated: ${firstLine(err)}` });
    return;
  }
  const name = created.metadata.name ?? "";
  const refused = await recordTermination(s, at, name, reason);
  redirect(res, `${terminationHref(ns, name)}${refused === undefined ? "" : "?unrecorded=1"}`);
}

function recordTermination(s: ConsoleState, { ns, id }: SessionAt, name: string, reason: string): Promise<ApiError | undefined> {
  const user = s.cache.get(ns, id)?.user;
  return recordAudit(s.kube, {
    what: "terminate",
    namespace: ns,
    sessionId: id,
    ...(user === undefined ? {} : { sessionUser: user }),
    actor: s.viewer,
    client: "console",
    termination: name,
    message: `${CONSOLE_CODES.terminate.type}: ${name} requested by ${s.viewer.username} in the Vigil console: ${reason}`,
  });
}

async function terminationView(res: ServerResponse, s: ConsoleState, ns: string, name: string, url: URL): Promise<void> {
  try {
    const t = await s.kube.json<SessionTermination>({ path: terminationsPath(ns, name) });
    const warning = url.searchParams.has("unrecorded") ? "The request could not be recorded as an Event (RBAC); the API server's audit log has it." : undefined;
    show(res, s, { title: `Termination ${name}`, nav: "terminations", body: terminationPage(t, Date.now(), warning) });
  } catch (err) {
    show(res, s, { status: statusOf(err, 502), title: "Termination", nav: "terminations", body: html`<p class="notice" role="alert">${firstLine(err)}</p>` });
  }
}

function terminationStream(req: IncomingMessage, res: ServerResponse, s: ConsoleState, ns: string, name: string): void {
  const sse = openSse(req, res);
  const signal = AbortSignal.any([sse.closed, s.stop]);
  void followTermination(
    s.kube,
    ns,
    name,
    (t) => {
      sse.event("progress", progressBlock(t, Date.now()).value);
    },
    { timeoutMs: 3_600_000, signal },
  ).catch(() => undefined);
}

async function policiesView(res: ServerResponse, s: ConsoleState): Promise<void> {
  let views: PolicyView[] = [];
  let error: string | undefined;
  try {
    const policies = (await listPolicies(s.kube, s.scope)).items;
    const podsByNs = new Map<string, V1Pod[] | string>();
    for (const ns of new Set(policies.map((p) => p.metadata.namespace ?? ""))) {
      podsByNs.set(
        ns,
        await listAll<V1Pod>(s.kube, `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`).then(
          (l) => l.items,
          (err: unknown) => `pods cannot be listed (${firstLine(err)})`,
        ),
      );
    }
    views = policies.map((p) => {
      const pods = podsByNs.get(p.metadata.namespace ?? "") ?? [];
      return {
        policy: p,
        pods:
          typeof pods === "string"
            ? pods
            : pods.filter((pod) => selects(compiled(p.spec.selector), pod.metadata?.labels ?? {})).map((pod) => pod.metadata?.name ?? ""),
      };
    });
  } catch (err) {
    error = firstLine(err);
  }
  show(res, s, { title: "Policies", nav: "policies", body: policiesPage(views, error) });
}

/** The audit page's query: the same filters for the page and its exports. */
function auditQuery(url: URL): AuditQuery {
  const q: AuditQuery = {};
  for (const k of ["since", "user", "session", "code", "namespace"] as const) {
    const v = url.searchParams.get(k);
    if (v !== null && v !== "") q[k] = v;
  }
  return q;
}

async function auditEvents(s: ConsoleState, url: URL): Promise<{ events: AuditEvent[]; q: AuditQuery; error?: string }> {
  const q = auditQuery(url);
  try {
    const { since: sinceText, ...rest } = q;
    const since = sinceText === undefined ? undefined : Date.now() - parseFlagDuration("since", sinceText);
    const all = await sessionsAndEventsSource(s.kube).read(s.scope);
    return { events: filterAudit(all, { ...rest, ...(since === undefined ? {} : { since }) }), q };
  } catch (err) {
    return { events: [], q, error: firstLine(err) };
  }
}

async function terminationsView(res: ServerResponse, s: ConsoleState): Promise<void> {
  const list = await listTerminations(s.kube, s.scope).then(
    (l) => ({ items: l.items, error: undefined }),
    (err: unknown) => ({ items: [], error: firstLine(err) }),
  );
  show(res, s, { title: "Terminations", nav: "terminations", body: terminationsPage(list.items, Date.now(), list.error) });
}

async function auditView(res: ServerResponse, s: ConsoleState, url: URL): Promise<void> {
  const { events, q, error } = await auditEvents(s, url);
  show(res, s, { title: "Audit", nav: "audit", body: auditPage(events, q, error) });
}

async function auditExport(res: ServerResponse, s: ConsoleState, url: URL, csv: boolean): Promise<void> {
  const { events, error } = await auditEvents(s, url);
  if (error !== undefined) {
    sendText(res, 502, error);
    return;
  }
  send(res, 200, csv ? auditCsv(events) : JSON.stringify(events, null, 2), csv ? "text/csv; charset=utf-8" : "application/json", {
    "content-disposition": `attachment; filename="vigil-audit.${csv ? "csv" : "json"}"`,
  });
}

interface Route {
  method: "GET" | "POST";
  /** Path segments; `:x` matches any one segment, `:id` a session id. */
  pattern: string[];
  run(req: IncomingMessage, res: ServerResponse, url: URL, s: ConsoleState, p: string[]): Promise<void> | void;
}

const at = (p: readonly string[], i: number): string => p[i] ?? "";
/** `sessions/<ns>/<id>…` → the session it names. */
const sessionAt = (p: readonly string[]): SessionAt => ({ ns: at(p, 1), id: at(p, 2) });

const ROUTES: Route[] = [
  {
    method: "GET",
    pattern: [],
    run: (_q, res) => {
      redirect(res, "/sessions");
    },
  },
  {
    method: "GET",
    pattern: ["sessions"],
    run: (_q, res, url, s) => {
      const q = sessionQuery(url);
      show(res, s, { title: "Sessions", nav: "sessions", body: sessionsPage(s.cache.query(q), q, s.cache.namespaces(), Date.now(), s.feed.error) });
    },
  },
  {
    method: "GET",
    pattern: ["sessions", "stream"],
    run: (req, res, url, s) => {
      sessionsStream(req, res, url, s);
    },
  },
  { method: "GET", pattern: ["sessions", ":x", ":id"], run: (_q, res, _u, s, p) => sessionView(res, s, sessionAt(p)) },
  {
    method: "GET",
    pattern: ["sessions", ":x", ":id", "stream"],
    run: (req, res, _u, s, p) => {
      sessionStream(req, res, s, sessionAt(p));
    },
  },
  { method: "POST", pattern: ["sessions", ":x", ":id", "terminate"], run: (req, res, _u, s, p) => terminate(req, res, s, sessionAt(p)) },
  { method: "GET", pattern: ["terminations"], run: (_q, res, _u, s) => terminationsView(res, s) },
  { method: "GET", pattern: ["terminations", ":x", ":x"], run: (_q, res, url, s, p) => terminationView(res, s, at(p, 1), at(p, 2), url) },
  {
    method: "GET",
    pattern: ["terminations", ":x", ":x", "stream"],
    run: (req, res, _u, s, p) => {
      terminationStream(req, res, s, at(p, 1), at(p, 2));
    },
  },
  { method: "GET", pattern: ["policies"], run: (_q, res, _u, s) => policiesView(res, s) },
  { method: "GET", pattern: ["audit"], run: (_q, res, url, s) => auditView(res, s, url) },
  { method: "GET", pattern: ["audit", "export.csv"], run: (_q, res, url, s) => auditExport(res, s, url, true) },
  { method: "GET", pattern: ["audit", "export.json"], run: (_q, res, url, s) => auditExport(res, s, url, false) },
];

function matches(pattern: readonly string[], parts: readonly string[]): boolean {
  if (pattern.length !== parts.length) return false;
  return pattern.every((seg, i) => {
    const part = parts[i] ?? "";
    if (seg === ":x") return part !== "";
    if (seg === ":id") return SESSION_ID_PATTERN.test(part);
    return seg === part;
  });
}

function segments(path: string): string[] | undefined {
  try {
    return path
      .split("/")
      .filter((x) => x !== "")
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

export async function handle(req: IncomingMessage, res: ServerResponse, url: URL, s: ConsoleState): Promise<void> {
  const parts = segments(url.pathname) ?? ["?"];
  const method = req.method === "HEAD" ? "GET" : req.method;
  const found = ROUTES.filter((r) => matches(r.pattern, parts));
  const route = found.find((r) => r.method === method);
  if (route !== undefined) {
    await route.run(req, res, url, s, parts);
    return;
  }
  if (found.length > 0) {
    sendText(res, 405, "Method not allowed");
    return;
  }
  show(res, s, { status: 404, title: "Not found", nav: "sessions", body: html`<h1>Not found</h1><p><a href="/sessions">Sessions</a></p>` });
}
