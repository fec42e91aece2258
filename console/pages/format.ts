/** Small display helpers shared by the pages. Pure. */
import { humanDuration } from "../../operator/sessions-api/core/human-duration.ts";

export const ago = (time: string | undefined, now: number): string => (time === undefined || time === "" ? "—" : humanDuration(now - Date.parse(time)));

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export const sessionHref = (namespace: string, id: string): string => `/sessions/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}`;
export const terminationHref = (namespace: string, name: string): string => `/terminations/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
