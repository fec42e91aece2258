/** Small HTTP helpers of the console server: answers with the security headers, SSE streams, form bodies. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Html } from "./html.ts";
import { SECURITY_HEADERS } from "./security.ts";

export function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-store", ...extra });
  res.end(body);
}

export function sendHtml(res: ServerResponse, status: number, page: Html, extra: Record<string, string> = {}): void {
  send(res, status, page.value, "text/html; charset=utf-8", extra);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, `${text}\n`, "text/plain; charset=utf-8");
}

export function redirect(res: ServerResponse, location: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, "cache-control": "no-store", ...extra });
  res.end();
}

export interface SseStream {
  event(name: string, data: string): void;
  closed: AbortSignal;
}

/** A server-sent-events stream; `closed` aborts when the browser goes away. A comment every 15 s keeps it open. */
export function openSse(req: IncomingMessage, res: ServerResponse): SseStream {
  res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
  res.write(": open\n\n");
  const closed = new AbortController();
  const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
  const close = (): void => {
    clearInterval(ping);
    closed.abort();
  };
  req.on("close", close);
  res.on("close", close);
  return {
    event(name, data) {
      if (closed.signal.aborted) return;
      res.write(
        `event: ${name}\n${data
          .split("\n")
          .map((l) => `data: ${l}`)
          .join("\n")}\n\n`,
      );
    },
    closed: closed.signal,
  };
}

/** An urlencoded form body of at most `limit` bytes. */
export async function readForm(req: IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams | undefined> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return undefined;
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** Calls `fn` at most once per `ms` (trailing call guaranteed). */
export function throttle(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  return () => {
    if (timer !== undefined) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      fn();
    }, wait);
  };
}
