/**
 * What one watcher sees of an index change (pure), with the API server's selector semantics: an object that
 * starts matching arrives as ADDED, one that stops matching as DELETED, changes of a matching one as MODIFIED;
 * changes outside the watcher's namespace (or name) are not sent.
 */
import type { VigilSession } from "../../api/sessions/v1alpha1.ts";
import type { IndexEvent, WatchEventType } from "../index/session-index.ts";
import { matchesFields, type FieldSelector } from "./field-selector.ts";

export interface WatchScope {
  /** "" = all namespaces. */
  namespace: string;
  /** Watch of one object (a named path). */
  name: string | undefined;
  selector: FieldSelector;
}

export interface ClientEvent {
  type: WatchEventType;
  object: VigilSession;
  rv: number;
}

export function clientEvent(event: IndexEvent, scope: WatchScope): ClientEvent | undefined {
  const { object } = event;
  if (scope.namespace !== "" && object.metadata.namespace !== scope.namespace) return undefined;
  if (scope.name !== undefined && object.metadata.name !== scope.name) return undefined;
  const now = event.type !== "DELETED" && matchesFields(scope.selector, event.fields);
  if (event.type === "DELETED") return matchesFields(scope.selector, event.fields) ? { type: "DELETED", object, rv: event.rv } : undefined;
  const before = event.prev !== undefined && matchesFields(scope.selector, event.prev);
  if (now && before) return { type: event.type === "ADDED" ? "ADDED" : "MODIFIED", object, rv: event.rv };
  if (now) return { type: "ADDED", object, rv: event.rv };
  if (before) return { type: "DELETED", object, rv: event.rv };
  return undefined;
}
