/**
 * The only way kubectl-vigil and the console talk to the cluster: the user's kubeconfig (`--kubeconfig`, else
 * KUBECONFIG, else ~/.kube/config; `--context`), requests to the API server with that user's credentials, nothing
 * else. A thin shell over node:https: JSON in and out, the API server's Status turned into an `ApiError`, and
 * line-delimited watch streams.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiError, UsageError } from "./errors.ts";

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

export interface RequestSpec {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  accept?: string;
  contentType?: string;
  /** Abort the request (and a watch stream). */
  signal?: AbortSignal;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface Kube {
  /** Namespace of the current context (kubectl's default), `default` when it names none. */
  readonly namespace: string;
  readonly contextName: string;
  readonly server: string;
  json<T>(spec: RequestSpec): Promise<T>;
  text(spec: RequestSpec): Promise<string>;
  /** Streams watch events until the server ends the stream or `signal` aborts; resolves then. */
  watch<T>(spec: RequestSpec, onEvent: (e: WatchEvent<T>) => void): Promise<void>;
}

export function loadKubeConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig !== undefined) kc.loadFromFile(target.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new UsageError(
      `cannot read the kubeconfig${target.kubeconfig === undefined ? "" : ` ${target.kubeconfig}`}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (target.context !== undefined) {
    if (kc.getContextObject(target.context) === null)
      throw new UsageError(`context "${target.context}" is not in the kubeconfig (kubectl config get-contexts lists them)`);
    kc.setCurrentContext(target.context);
  }
  if (kc.getCurrentCluster() === null) throw new UsageError("the kubeconfig has no current cluster: pass --kubeconfig or --context, or set KUBECONFIG");
  return kc;
}

function queryString(query: RequestSpec["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") params.set(k, String(v));
  const s = params.toString();
  return s === "" ? "" : `?${s}`;
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function connect(target: KubeTarget): Kube {
  const kc = loadKubeConfig(target);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new UsageError("the kubeconfig has no current cluster");
  const server = cluster.server.replace(/\/+$/, "");
  const context = kc.getContextObject(kc.getCurrentContext());
  const base = new URL(server);
  const send = async (spec: RequestSpec): Promise<IncomingMessage> => {
    const url = new URL(`${base.pathname.replace(/\/$/, "")}${spec.path}${queryString(spec.query)}`, base);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const opts: RequestOptions = {
      method: spec.method ?? "GET",
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: {
        accept: spec.accept ?? "application/json",
        "user-agent": "kubectl-vigil/0.1",
        ...(body === undefined ? {} : { "content-type": spec.contentType ?? "application/json", "content-length": Buffer.byteLength(body) }),
      },
      ...(spec.signal === undefined ? {} : { signal: spec.signal }),
    };
    await kc.applyToHTTPSOptions(opts);
    const doRequest = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = doRequest(opts, resolve);
      req.on("error", (err) => {
        reject(spec.signal?.aborted === true ? err : ApiError.unreachable(server, err));
      });
      req.end(body);
    });
  };
  const checked = async (spec: RequestSpec): Promise<{ res: IncomingMessage; text?: string }> => {
    const res = await send(spec);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return { res };
    throw ApiError.fromResponse(status, await readAll(res), spec);
  };
  return {
    namespace: context?.namespace ?? "default",
    contextName: kc.getCurrentContext(),
    server,
    async json<T>(spec: RequestSpec): Promise<T> {
      const { res } = await checked(spec);
      return JSON.parse(await readAll(res)) as T;
    },
    async text(spec: RequestSpec): Promise<string> {
      const { res } = await checked(spec);
      return readAll(res);
    },
    async watch<T>(spec: RequestSpec, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
      const { res } = await checked({ ...spec, query: { ...spec.query, watch: "true" } });
      let buffer = "";
      try {
        for await (const chunk of res) {
          buffer += (chunk as Buffer).toString("utf8");
          let nl = buffer.indexOf("\n");
          while (nl >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line !== "") onEvent(JSON.parse(line) as WatchEvent<T>);
            nl = buffer.indexOf("\n");
          }
        }
      } catch (err) {
        if (spec.signal?.aborted !== true) throw err;
      }
    },
  };
}
