/**
 * watch: a stream of newline-delimited `{"type", "object"}` events (objects or one-row Tables), as the API server
 * streams them.
 *
 * Start: resourceVersion unset or "0" → ADDED for every matching object, then changes; N → the changes after N
 * from the index's window (ERROR 410 Expired when some already left it, or when N is not this server's: the
 * client lists again); sendInitialEvents=true (with allowWatchBookmarks and resourceVersionMatch=NotOlderThan)
 * → ADDED for every matching object, then a BOOKMARK annotated `k8s.io/initial-events-end`, then changes.
 * BOOKMARKs every `bookmarkMs` when allowed. The stream ends after timeoutSeconds (default: a random 30–60 min),
 * or when the client falls more than `maxQueue` events behind (it resumes from its last resource version).
 */
import { randomInt } from "node:crypto";
import type { ServerResponse } from "node:http";
import { SESSIONS_API_VERSION, VIGIL_SESSION, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { IndexEvent } from "../index/session-index.ts";
import { listPage, type ListSource } from "../core/list.ts";
import type { ListQuery } from "../core/request.ts";
import { badRequest, expired, type Status } from "../core/status.ts";
import { toTable, type TableVersion } from "../core/table.ts";
import { clientEvent, type ClientEvent, type WatchScope } from "../core/watch-filter.ts";
import { sendStatus } from "../http/respond.ts";
import { partialMetadata } from "./read.ts";

export interface WatchSource extends ListSource {
  readonly resourceVersion: number;
  subscribe(listener: (e: IndexEvent) => void): () => void;
  eventsSince(rv: number): IndexEvent[] | "expired" | "unknown";
}

export interface WatchSettings {
  bookmarkMs: number;
  maxQueue: number;
  now: () => number;
}

type Shown = { kind: "json" } | { kind: "table" | "metadata"; version: TableVersion };

export const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

export function watchProblem(query: ListQuery): Status | undefined {
  if (query.sendInitialEvents) {
    if (query.resourceVersionMatch !== "NotOlderThan") return badRequest("sendInitialEvents needs resourceVersionMatch=NotOlderThan");
    if (!query.allowWatchBookmarks) return badRequest("sendInitialEvents needs allowWatchBookmarks=true");
  } else if (query.resourceVersionMatch !== "") {
    return badRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
  }
  return undefined;
}

function encoder(rep: Shown, query: ListQuery, now: () => number): (type: string, object: VigilSession | undefined, rv: number, annotations?: Record<string, string>) => string {
  return (type, object, rv, annotations) => {
    if (object === undefined) {
      const metadata = { resourceVersion: String(rv), ...(annotations === undefined ? {} : { annotations }) };
      const bookmark =
        rep.kind === "table"
          ? { kind: "Table", apiVersion: `meta.k8s.io/${rep.version}`, metadata, columnDefinitions: [], rows: [] }
          : rep.kind === "metadata"
            ? { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${rep.version}`, metadata }
            : { kind: VIGIL_SESSION.kind, apiVersion: SESSIONS_API_VERSION, metadata };
      return `${JSON.stringify({ type, object: bookmark })}\n`;
    }
    const shown =
      rep.kind === "table"
        ? toTable([object], { resourceVersion: object.metadata.resourceVersion }, { version: rep.version, include: query.includeObject, now: now() })
        : rep.kind === "metadata"
          ? partialMetadata(object, rep.version)
          : object;
    return `${JSON.stringify({ type, object: shown })}\n`;
  };
}

/** The events that open the stream (or the Status to answer before it). */
function openingEvents(src: WatchSource, scope: WatchScope, query: ListQuery): ClientEvent[] | Status {
  const rv = query.resourceVersion;
  if (query.sendInitialEvents || rv === "" || rv === "0") {
    const page = listPage(src, { namespace: scope.namespace, selector: scope.selector, limit: 0 });
    return page.items.filter((o) => scope.name === undefined || o.metadata.name === scope.name).map((object) => ({ type: "ADDED" as const, object: () => object, rv: Number(object.metadata.resourceVersion) }));
  }
  const since = src.eventsSince(Number(rv));
  if (since === "expired" || since === "unknown") {
    return expired(`too old resource version: ${rv} (${src.resourceVersion})`);
  }
  return since.map((e) => clientEvent(e, scope)).filter((e): e is ClientEvent => e !== undefined);
}

export function handleWatch(src: WatchSource, res: ServerResponse, rep: Shown, scope: WatchScope, query: ListQuery, settings: WatchSettings): void {
  const problem = watchProblem(query);
  if (problem !== undefined) {
    sendStatus(res, problem);
    return;
  }
  const encode = encoder(rep, query, settings.now);
  const queue: string[] = [];
  let waiting = false;
  let ended = false;
  const write = (line: string): void => {
    if (ended) return;
    if (waiting) {
      queue.push(line);
      if (queue.length > settings.maxQueue) finish();
      return;
    }
    if (!res.write(line)) waiting = true;
  };
  res.on("drain", () => {
    waiting = false;
    while (!waiting && queue.length > 0) if (!res.write(queue.shift() ?? "")) waiting = true;
  });
  // Subscribe before reading the opening state: the index is synchronous, nothing can slip in between.
  const unsubscribe = src.subscribe((e) => {
    const shown = clientEvent(e, scope);
    if (shown !== undefined) write(encode(shown.type, shown.object(), shown.rv));
  });
  const timers: NodeJS.Timeout[] = [];
  const finish = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    queue.length = 0;
    res.end();
  };
  res.on("close", finish);
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private", "transfer-encoding": "chunked" });
  res.flushHeaders();

  const opening = openingEvents(src, scope, query);
  if (!Array.isArray(opening)) {
    write(`${JSON.stringify({ type: "ERROR", object: opening })}\n`);
    finish();
    return;
  }
  for (const e of opening) write(encode(e.type, e.object(), e.rv));
  if (query.sendInitialEvents) write(encode("BOOKMARK", undefined, src.resourceVersion, { [INITIAL_EVENTS_END]: "true" }));
  if (query.allowWatchBookmarks) {
    const tick = (): void => {
      write(encode("BOOKMARK", undefined, src.resourceVersion));
      timers[0] = setTimeout(tick, settings.bookmarkMs);
    };
    timers[0] = setTimeout(tick, settings.bookmarkMs);
  }
  const timeoutMs = query.timeoutSeconds !== undefined && query.timeoutSeconds > 0 ? query.timeoutSeconds * 1000 : randomInt(1800, 3600) * 1000;
  timers.push(setTimeout(finish, timeoutMs));
}
