export * from "./group.ts";
export type * from "./meta.ts";
export type * from "./access-policy.ts";
export * from "./session-termination.ts";
