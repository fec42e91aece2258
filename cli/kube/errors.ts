/**
 * Errors that reach the user, each with what to do about it, and the exit code scripts can rely on
 * (cli/core/exit-codes.ts). Pure: no I/O.
 */
import { EXIT } from "../core/exit-codes.ts";

/** Bad flags or arguments: exit 2, with a pointer to the command's help. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

interface RequestLike {
  method?: string;
  path: string;
}

/** The API server refused or failed a request (its Status), or could not be reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly request: string;

  constructor(status: number, reason: string, message: string, request: string) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.request = request;
  }

  static fromResponse(status: number, body: string, spec: RequestLike): ApiError {
    let parsed: StatusBody;
    try {
      parsed = JSON.parse(body) as StatusBody;
    } catch {
      parsed = { message: body.trim().slice(0, 300) };
    }
    const message = parsed.message ?? `HTTP ${status}`;
    return new ApiError(status, parsed.reason ?? "", message, `${spec.method ?? "GET"} ${spec.path}`);
  }

  static unreachable(server: string, err: Error): ApiError {
    return new ApiError(0, "Unreachable", `cannot reach the API server at ${server}: ${err.message}`, "");
  }

  get exitCode(): number {
    if (this.status === 401 || this.status === 403) return EXIT.forbidden;
    if (this.status === 404) return EXIT.notFound;
    return EXIT.failure;
  }

  /** The sentence printed for the user: the server's words and what to do next. */
  explain(): string {
    switch (this.status) {
      case 0:
        return `${this.message}\n  check --context / --kubeconfig, or that the cluster is up (kubectl cluster-info)`;
      case 401:
        return `the API server did not accept your credentials (${this.message})\n  log in again or refresh the kubeconfig's token`;
      case 403:
        return `${this.message}\n  your RBAC does not allow this; ask a cluster administrator for a role that grants it (kubectl auth can-i … shows what you may do)`;
      case 503:
        if (this.request.includes("sessions.vigil.dev")) {
          return `${this.message}\n  the sessions API (vigil-operator) is not available: kubectl get apiservice v1alpha1.sessions.vigil.dev shows why`;
        }
        return this.message;
      default:
        return this.message;
    }
  }
}

/** Any thrown value as (sentence, exit code). */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ApiError) return { message: err.explain(), exitCode: err.exitCode };
  if (err instanceof UsageError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof Error && "exitCode" in err && typeof err.exitCode === "number") return { message: err.message, exitCode: err.exitCode };
  return { message: err instanceof Error ? err.message : String(err), exitCode: EXIT.failure };
}
