/**
 * The objects `npm run bench:operator` creates in the real API server: AccessPolicies, SessionTerminations and Pods of
 * one watched namespace. Pods look like real workload pods (two containers with environment, probes, volumes and
 * resources, an injected-sidecar-sized spec: about 4 KB of JSON each), since the operator caches what it watches.
 */

export const NS = "bench";

export function policyBody(name: string, extraRule = false): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [
    { name: "staff", action: "Allow", identities: [{ group: "staff" }], requests: [{ methods: ["GET"], paths: ["/docs/*"] }] },
  ];
  if (extraRule) rules.push({ name: "ops", action: "Allow", identities: [{ group: "ops" }] });
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name, namespace: NS },
    spec: { selector: { matchLabels: { app: name } }, rules },
  };
}

export function terminationBody(name: string): Record<string, unknown> {
  return {
    apiVersion: "vigil.dev/v1alpha1",
    kind: "SessionTermination",
    metadata: { name, namespace: NS },
    spec: { target: { email: `${name}@example.com` }, reason: "bench" },
  };
}

/** A Pod of workload `app-<i % 50>` (the policies select `app: p-<n>`, so a pod change wakes the namespace's policies). */
export function podBody(i: number): Record<string, unknown> {
  const app = `p-${i % 50}`;
  const env = Array.from({ length: 12 }, (_, k) => ({ name: `SETTING_${k}`, value: `value-${k}-${"x".repeat(24)}` }));
  const container = (name: string, port: number): Record<string, unknown> => ({
    name,
    image: `registry.example.com/shop/${name}:1.${i % 7}.${i % 13}`,
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    env,
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    readinessProbe: { httpGet: { path: "/readyz", port }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: "/healthz", port }, periodSeconds: 10 },
    volumeMounts: [
      { name: "config", mountPath: "/etc/app" },
      { name: "cache", mountPath: "/var/cache/app" },
    ],
    securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `web-${i}`,
      namespace: NS,
      labels: { app, tier: "web", track: i % 10 === 0 ? "canary" : "stable", "pod-template-hash": `h${i % 97}` },
      annotations: { "example.com/owner": "team-shop", "example.com/build": `build-${i}`, "prometheus.io/scrape": "true", "prometheus.io/port": "9100" },
    },
    spec: {
      containers: [container("app", 8080), container("metrics", 9100)],
      volumes: [
        { name: "config", configMap: { name: `${app}-config` } },
        { name: "cache", emptyDir: { sizeLimit: "64Mi" } },
      ],
      terminationGracePeriodSeconds: 30,
      tolerations: [{ key: "example.com/dedicated", operator: "Equal", value: "shop", effect: "NoSchedule" }],
    },
  };
}

/** Runs `fn` over `items` with `concurrency` in flight, logging progress every tenth. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<void>,
  progress: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.floor(items.length / 10));
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
      done++;
      if (done % step === 0) progress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
