export const GROUP = "vigil.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export const ACCESS_POLICY = { kind: "AccessPolicy", plural: "accesspolicies", singular: "accesspolicy" } as const;
export const SESSION_TERMINATION = {
  kind: "SessionTermination",
  plural: "sessionterminations",
  singular: "sessiontermination",
} as const;
