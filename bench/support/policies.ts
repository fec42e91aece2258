/**
 * Ten AccessPolicies that all select the benchmarked workload (namespace `shop`, `app=shop`), compiled with the
 * operator's compiler. Only `shop-web` admits the benchmark user (group `engineers`: GET anywhere, CONNECT to the
 * echo port); the others are the kind of rules a real team stacks on one workload (deny rules for contractors
 * and a change freeze, partner and on-call access, tunnels for DBAs and SREs, office networks, scraping). None of
 * the deny rules covers the benchmark user, so every request walks all selected policies before being allowed.
 */
import type { CompiledPolicy } from "../../operator/api/compiled-policy.ts";
import type { SessionSettings } from "../../operator/api/v1alpha1/access-policy.ts";
import { compileAccessPolicy } from "../../operator/policy/compile.ts";
import { accessPolicy, allow, deny, inNamespace, withFailureMode, withRule, withSelector, withSession } from "../../test/builders/access-policy.ts";

export const WORKLOAD = { namespace: "shop", labels: { app: "shop", tier: "web", track: "stable" } };

const TIMEOUTS: SessionSettings = { idleTimeout: "30m", absoluteTimeout: "8h" };

/**
 * The all-protections variant: the same ten policies in their own namespace, `shop-web`'s session with every
 * protection in Enforce — network bound to the autonomous system (ASN database), device (the default components:
 * browser, OS, platform, Accept-Language), impossible travel (City database; a first new country is reported), and a
 * concurrent-session limit far above the benchmark's one session per identity.
 */
export const GUARDED = {
  namespace: "shop-guarded",
  session: {
    ...TIMEOUTS,
    networkBinding: { mode: "Enforce", granularity: "ASN" },
    deviceBinding: { mode: "Enforce" },
    impossibleTravel: { mode: "Enforce" },
    concurrentSessions: { mode: "Enforce", maxConcurrentSessions: 1000, onExceed: "RefuseNew" },
  } satisfies SessionSettings,
};

export function benchPolicies(tunnelPort: number, namespace = WORKLOAD.namespace, session: SessionSettings = TIMEOUTS): CompiledPolicy[] {
  const shop = [inNamespace(namespace), withSelector({ matchLabels: { app: "shop" } })];
  const policies = [
    accessPolicy(
      "shop-web",
      ...shop,
      withFailureMode("BestEffort"),
      withSession(session),
      withRule(
        allow("engineers-read", { identities: [{ group: "engineers" }], requests: [{ methods: ["GET", "HEAD"], paths: ["*"] }] }),
        allow("engineers-tunnel", { identities: [{ group: "engineers" }], requests: [{ methods: ["CONNECT"], ports: [tunnelPort] }] }),
      ),
    ),
    accessPolicy(
      "shop-admin-lockdown",
      ...shop,
      withRule(
        deny("no-contractors-admin", { identities: [{ group: "contractors" }], requests: [{ paths: ["/admin/*"] }] }),
        deny("no-partner-internal", { identities: [{ emailDomain: "partner.example" }], requests: [{ paths: ["/internal/*", "/admin/*"] }] }),
      ),
    ),
    accessPolicy(
      "shop-oncall",
      ...shop,
      withRule(
        allow("oncall-office-hours", {
          identities: [{ group: "oncall" }],
          schedule: { timeZone: "Europe/Berlin", windows: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "08:00", end: "18:00" }] },
        }),
      ),
    ),
    accessPolicy(
      "shop-api-readonly",
      ...shop,
      withRule(
        allow("scoped-readers", {
          identities: [{ claim: { name: "scope", values: ["shop.read", "shop.admin"] } }],
          requests: [{ methods: ["GET"], paths: ["/api/v1/*"], hosts: ["shop.example.com", "*.shop.example.com"] }],
        }),
      ),
    ),
    accessPolicy(
      "shop-office-network",
      ...shop,
      withRule(
        allow("office-reports", {
          identities: [{ emailDomain: "example.com" }],
          requests: [{ paths: ["/reports/*"] }],
          sourceCIDRs: ["10.0.0.0/8", "192.168.0.0/16"],
        }),
      ),
    ),
    accessPolicy(
      "shop-db-tunnel",
      ...shop,
      withSession({ idleTimeout: "1h", absoluteTimeout: "12h" }),
      withRule(allow("dba-postgres", { identities: [{ group: "dba" }], requests: [{ methods: ["CONNECT"], ports: [5432] }] })),
    ),
    accessPolicy(
      "shop-ssh",
      ...shop,
      withRule(
        deny("former-staff", { identities: [{ subject: "former-employee" }, { email: "mallory@example.com" }] }),
        allow("sre-ssh", { identities: [{ group: "sre" }], requests: [{ methods: ["CONNECT"], ports: [22] }] }),
      ),
    ),
    accessPolicy(
      "shop-partners",
      ...shop,
      withFailureMode("BestEffort"),
      withRule(
        allow("partner-api", {
          identities: [{ emailDomain: "partner.example" }],
          requests: [{ methods: ["GET", "POST"], paths: ["/partner/*", "/webhooks/*"] }],
        }),
      ),
    ),
    accessPolicy(
      "shop-change-freeze",
      ...shop,
      withRule(
        deny("weekend-freeze", {
          identities: [{ group: "deployers" }],
          requests: [{ methods: ["POST", "PUT", "PATCH", "DELETE"] }],
          schedule: { windows: [{ days: ["Sat", "Sun"], start: "00:00", end: "24:00" }] },
        }),
      ),
    ),
    accessPolicy(
      "shop-metrics",
      ...shop,
      withRule(
        allow("prometheus-scrape", {
          identities: [{ subject: "system:serviceaccount:monitoring:prometheus" }],
          requests: [{ methods: ["GET"], paths: ["/metrics"] }],
        }),
      ),
    ),
  ];
  return policies.map((p) => {
    const result = compileAccessPolicy(p);
    if (!result.ok) throw new Error(`bench policy ${p.metadata.name ?? "?"} does not compile: ${JSON.stringify(result.problems)}`);
    return result.policy;
  });
}
