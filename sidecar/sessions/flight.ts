/**
 * The connection table's small parts (connections.ts): one in-flight HTTP request's handle, and how a socket is reset.
 */
import type { Socket } from "node:net";
import type { FlowBinding } from "./connections.ts";

/** Handle of one in-flight HTTP request. */
export interface RequestHandle {
  /** The pooled upstream socket serving this request (reset with the flow while it is in flight). */
  attachUpstream(socket: Socket): void;
  /** The request finished (or failed); idempotent. */
  end(): void;
}

export interface InFlight {
  binding: FlowBinding;
  upstream: Socket | null;
  startedAt: number;
}

/** What a request updates on its client socket's entry. */
interface FlightEntry {
  requests: Set<InFlight>;
  lastActivityAt: number;
}

/** Reset a socket (RST) and destroy it; falls back to a plain destroy when no TCP handle is left. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** One in-flight HTTP request: its own handle (one object per request, O(1) bookkeeping). */
export class Flight implements InFlight, RequestHandle {
  readonly binding: FlowBinding;
  upstream: Socket | null = null;
  readonly startedAt: number;
  readonly #entry: FlightEntry;
  readonly #owners: WeakMap<Socket, InFlight>;
  readonly #now: () => number;
  #ended = false;

  constructor(binding: FlowBinding, entry: FlightEntry, owners: WeakMap<Socket, InFlight>, now: () => number) {
    this.binding = binding;
    this.#entry = entry;
    this.#owners = owners;
    this.#now = now;
    this.startedAt = entry.lastActivityAt;
  }

  attachUpstream(socket: Socket): void {
    if (this.#ended) return;
    // No listener added here: pooled sockets are reused, and Node's HTTP client handles their errors.
    this.upstream = socket;
    this.#owners.set(socket, this);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#entry.requests.delete(this);
    this.#entry.lastActivityAt = this.#now();
    if (this.upstream !== null && this.#owners.get(this.upstream) === this) this.#owners.delete(this.upstream);
    this.upstream = null;
  }
}
