/** Exit codes of kubectl-vigil, for scripts (documented in `kubectl vigil -h` and the README). */
export const EXIT = {
  ok: 0,
  /** The API server refused or failed the request, or something else went wrong. */
  failure: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** 401/403: your credentials or RBAC do not allow it. */
  forbidden: 3,
  /** The named object does not exist. */
  notFound: 4,
  /** `terminate --wait`: the termination ended Failed. */
  terminationFailed: 5,
  /** `terminate --wait`: it did not finish within --timeout. */
  timeout: 6,
} as const;
