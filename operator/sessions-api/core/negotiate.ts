/**
 * Content negotiation (pure): which representation an `Accept` header asks for. The first acceptable entry wins,
 * as in the API server: `application/json;as=Table;v=v1|v1beta1;g=meta.k8s.io` → a Table;
 * `…;as=PartialObjectMetadata(List)` → metadata only (the garbage collector's metadata informers); `application/json`,
 * `application/*`, `*\/*` or no header → JSON; the aggregated discovery type (`…;g=apidiscovery.k8s.io;v=v2;
 * as=APIGroupDiscoveryList`) for /apis; anything else (protobuf only, YAML) → not acceptable.
 */
import type { TableVersion } from "./table.ts";

export type Representation =
  { kind: "json" } | { kind: "table"; version: TableVersion } | { kind: "metadata"; version: TableVersion } | { kind: "discovery-v2" } | { kind: "none" };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(",")
    .slice(0, 32)
    .map((entry) => {
      const [type = "", ...params] = entry.split(";").map((p) => p.trim());
      const out: Record<string, string> = {};
      for (const p of params) {
        const eq = p.indexOf("=");
        if (eq > 0)
          out[p.slice(0, eq).trim().toLowerCase()] = p
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, "");
      }
      return { type: type.toLowerCase(), params: out };
    })
    .filter((m) => m.type !== "");
}

const jsonLike = (type: string): boolean => type === "application/json" || type === "application/*" || type === "*/*";

/** What one acceptable JSON media range asks for; undefined when it names something this server does not offer. */
function representationOf(m: MediaRange, allowDiscoveryV2: boolean): Representation | undefined {
  const as = m.params["as"];
  if (as === undefined) return { kind: "json" };
  const v = m.params["v"];
  const metaVersion = m.params["g"] === "meta.k8s.io" && (v === "v1" || v === "v1beta1") ? v : undefined;
  if (as === "Table" && metaVersion !== undefined) return { kind: "table", version: metaVersion };
  if ((as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") && metaVersion !== undefined) return { kind: "metadata", version: metaVersion };
  if (allowDiscoveryV2 && as === "APIGroupDiscoveryList" && m.params["g"] === "apidiscovery.k8s.io" && v === "v2") return { kind: "discovery-v2" };
  return undefined;
}

export function negotiate(accept: string | undefined, allowDiscoveryV2 = false): Representation {
  if (accept === undefined || accept.trim() === "") return { kind: "json" };
  for (const m of parseAccept(accept)) {
    const rep = jsonLike(m.type) ? representationOf(m, allowDiscoveryV2) : undefined;
    if (rep !== undefined) return rep;
  }
  return { kind: "none" };
}
