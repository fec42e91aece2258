/**
 * What one watcher sees of an index change (pure), with the API server's selector semantics: an object that
 * starts matching arrives as ADDED, one that stops matching as DELETED, changes of a matching one as MODIFIED;
 * changes outside the watcher's namespace (or name) are not sent. The object is rendered only for events sent.
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
  object: () => VigilSession;
  rv: number;
}

function transition(event: IndexEvent, selector: FieldSelector): WatchEventType | undefined {
  if (event.type === "DELETED") return matchesFields(selector, event.fields) ? "DELETED" : undefined;
  const now = matchesFields(selector, event.fields);
  const before = event.prev !== undefined && matchesFields(selector, event.prev);
  if (now && before) return event.type;
  if (now) return "ADDED";
  return before ? "DELETED" : undefined;
}

export function clientEvent(event: IndexEvent, scope: WatchScope): ClientEvent | undefined {
  if (scope.namespace !== "" && event.namespace !== scope.namespace) return undefined;
  if (scope.name !== undefined && event.name !== scope.name) return undefined;
  const type = transition(event, scope.selector);
  return type === undefined ? undefined : { type, object: event.object, rv: event.rv };
}
