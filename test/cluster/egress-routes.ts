import { join } from "node:path";

/** The file in the egress proxy's routes directory that maps `authority` (`host:port`) to a local port. */
export function routeFile(dir: string, authority: string): string {
  return join(dir, encodeURIComponent(authority.toLowerCase()));
}
