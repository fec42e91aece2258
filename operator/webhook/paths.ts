/** HTTP paths the webhook server serves (shared by the server and the webhook configuration it is registered with). */
export const MUTATE_PODS_PATH = "/mutate-pods";
export const HEALTHZ_PATH = "/healthz";
export const READYZ_PATH = "/readyz";
