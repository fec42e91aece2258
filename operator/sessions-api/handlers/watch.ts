/**
 * watch: a stream of newline-delimited `{"type", "object"}` events (objects, one-row Tables or
 * PartialObjectMetadata), as the API server streams them.
 *
 * Start: resourceVersion unset or "0" → ADDED for every matching object, then changes; N → the changes after N
 * from the index's window (ERROR 410 Expired when some already left it, or when N is not this server's: the
 * client lists again); sendInitialEvents=true (with allowWatchBookmarks and resourceVersionMatch=NotOlderThan)
 * → ADDED for every matching object, then a BOOKMARK annotated `k8s.io/initial-events-end`, then changes.
 * BOOKMARKs every `bookmarkMs` when allowed. The stream ends after timeoutSeconds (default: a random 30–60 min).
 *
 * Flow control: the opening is written as the socket drains, one object rendered at a time (a watch-list of
 * 10,000 sessions holds neither 10,000 objects nor their text in memory); changes arriving meanwhile wait in a
 * queue, and a client more than `maxQueue` changes behind is disconnected (it resumes from its last version).
 */
import { randomInt } from "node:crypto";
import type { ServerResponse } from "node:http";
import { SESSIONS_API_VERSION, VIGIL_SESSION, type VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { IndexEvent } from "../index/session-index.ts";
import { matchingKeys, type ListSource } from "../core/list.ts";
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

/** One watch: the representation asked for, what it covers, and its query. */
export interface WatchCall {
  rep: Shown;
  scope: WatchScope;
  query: ListQuery;
}

type Encode = (type: string, object: VigilSession | undefined, rv: number, annotations?: Record<string, string>) => string;

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

function bookmarkObject(rep: Shown, metadata: Record<string, unknown>): Record<string, unknown> {
  if (rep.kind === "table") return { kind: "Table", apiVersion: `meta.k8s.io/${rep.version}`, metadata, columnDefinitions: [], rows: [] };
  if (rep.kind === "metadata") return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${rep.version}`, metadata };
  return { kind: VIGIL_SESSION.kind, apiVersion: SESSIONS_API_VERSION, metadata };
}

function encoder(rep: Shown, query: ListQuery, now: () => number): Encode {
  return (type, object, rv, annotations) => {
    if (object === undefined) {
      const metadata = { resourceVersion: String(rv), ...(annotations === undefined ? {} : { annotations }) };
      return `${JSON.stringify({ type, object: bookmarkObject(rep, metadata) })}\n`;
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

/** The lines that open the stream, produced one at a time (or the Status to answer instead). */
function opening(src: WatchSource, scope: WatchScope, query: ListQuery, encode: Encode): Iterator<string> | Status {
  const rv = query.resourceVersion;
  if (query.sendInitialEvents || rv === "" || rv === "0") {
    const keys = matchingKeys(src, scope.namespace, scope.selector).filter((k) => scope.name === undefined || k.name === scope.name);
    return (function* initialState(): Generator<string> {
      for (const k of keys) {
        const object = src.get(k.namespace, k.name);
        if (object !== undefined) yield encode("ADDED", object, Number(object.metadata.resourceVersion));
      }
      if (query.sendInitialEvents) yield encode("BOOKMARK", undefined, src.resourceVersion, { [INITIAL_EVENTS_END]: "true" });
    })();
  }
  const since = src.eventsSince(Number(rv));
  if (since === "expired" || since === "unknown") return expired(`too old resource version: ${rv} (${src.resourceVersion})`);
  const events = since.map((e) => clientEvent(e, scope)).filter((e): e is ClientEvent => e !== undefined);
  return (function* replay(): Generator<string> {
    for (const e of events) yield encode(e.type, e.object(), e.rv);
  })();
}

export function handleWatch(src: WatchSource, res: ServerResponse, { rep, scope, query }: WatchCall, settings: WatchSettings): void {
  const problem = watchProblem(query);
  if (problem !== undefined) {
    sendStatus(res, problem);
    return;
  }
  const encode = encoder(rep, query, settings.now);
  const queue: string[] = [];
  let pending: Iterator<string> | undefined;
  let waiting = false;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];

  const finish = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    queue.length = 0;
    pending = undefined;
    res.end();
  };
  const next = (): string | undefined => {
    while (pending !== undefined) {
      const step = pending.next();
      if (step.done !== true) return step.value;
      pending = undefined;
    }
    return queue.shift();
  };
  const pump = (): void => {
    while (!waiting && !ended) {
      const line = next();
      if (line === undefined) return;
      if (!res.write(line)) waiting = true;
    }
  };
  const push = (line: string): void => {
    if (ended) return;
    queue.push(line);
    if (queue.length > settings.maxQueue) finish();
    else pump();
  };
  res.on("drain", () => {
    waiting = false;
    pump();
  });
  // Subscribe before taking the opening state: the index is synchronous, nothing can slip in between.
  const unsubscribe = src.subscribe((e) => {
    const shown = clientEvent(e, scope);
    if (shown !== undefined) push(encode(shown.type, shown.object(), shown.rv));
  });
  res.on("close", finish);
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private", "transfer-encoding": "chunked" });
  res.flushHeaders();

  const first = opening(src, scope, query, encode);
  if ("kind" in first) {
    push(`${JSON.stringify({ type: "ERROR", object: first })}\n`);
    finish();
    return;
  }
  pending = first;
  pump();
  if (query.allowWatchBookmarks) {
    const tick = (): void => {
      if (pending === undefined) push(encode("BOOKMARK", undefined, src.resourceVersion));
      timers[0] = setTimeout(tick, settings.bookmarkMs);
    };
    timers[0] = setTimeout(tick, settings.bookmarkMs);
  }
  const timeoutMs = query.timeoutSeconds !== undefined && query.timeoutSeconds > 0 ? query.timeoutSeconds * 1000 : randomInt(1800, 3600) * 1000;
  timers.push(setTimeout(finish, timeoutMs));
}
