/**
 * The injection itself, pure: `inject(pod, cfg)` returns a NEW pod with the Vigil sidecar; the input is never
 * mutated. `recordSkip(pod, decision)` returns a new pod carrying only the recorded skip decision.
 *
 * What `inject` adds (docs/decisions/webhook-0001-native-sidecar-ordering.md):
 * - the sidecar as the FIRST `initContainers` entry with `restartPolicy: Always` (a native sidecar: it starts, and
 *   its startupProbe on the admin port's `/readyz` must pass, before any other init or application container
 *   starts; it is stopped after the application containers), with its named ports (`vigil-proxy`, `vigil-admin`),
 *   readiness (`/readyz`) and liveness (`/healthz`) probes, the configured resources, a non-root, read-only,
 *   capability-free security context, and the VIGIL_* environment of sidecar/config.ts;
 * - volumes: the pod's labels (downward API), the issuers ConfigMap, the session key-ring Secret, the bus
 *   verification keys ConfigMap (public keys only), an emptyDir for /tmp; when the configuration names GeoIP
 *   databases, their source (ConfigMap, Secret, PVC, image volume or host directory) mounted read-only, and the
 *   sidecar's VIGIL_GEOIP_* paths into it (the sidecar re-reads a database file when it changes); the device-binding
 *   headers of a trusted ingress (VIGIL_CLIENT_CERT_HEADER, VIGIL_JA4_HEADER) when configured;
 * - annotations `vigil.dev/injection-status: injected` and `vigil.dev/injected-revision: <config digest>`.
 * A pod that already has the sidecar is returned unchanged (idempotent). A pod whose upstream port cannot be
 * resolved throws an `OperatorError` (INJECTION_IMPOSSIBLE); callers ask `injectionDecision` first.
 */
import { createHash } from "node:crypto";
import type { V1Container, V1EnvVar, V1Pod, V1Probe, V1Volume } from "@kubernetes/client-node";
import { INJECTED_REVISION_ANNOTATION, INJECTION_STATUS_ANNOTATION, INJECTION_STATUS_INJECTED, injectionStatusSkipped } from "../api/annotations.ts";
import { envName } from "../api/settings.ts";
import { OperatorError } from "../errors.ts";
import type { SIDECAR_SETTINGS } from "../../sidecar/config.ts";
import type { GeoipConfig, InjectionConfig } from "./config.ts";
import { hasSidecar, resolveUpstreamPort, type InjectionDecision } from "./decision.ts";
import { ownerWorkload, type OwnerWorkload } from "./workload.ts";
import { ADMIN_PORT_NAME, POD_LABELS_FILE, PROXY_PORT_NAME, SIDECAR_CONTAINER_NAME, SIDECAR_UID, VOLUMES } from "./sidecar-names.ts";

/** A sidecar setting (key of sidecar/config.ts SIDECAR_SETTINGS): a typo here does not compile. */
type SidecarKey = keyof typeof SIDECAR_SETTINGS;

const env = (key: SidecarKey, value: string | number): V1EnvVar => ({ name: envName(key), value: String(value) });
const fieldEnv = (key: SidecarKey, fieldPath: string): V1EnvVar => ({ name: envName(key), valueFrom: { fieldRef: { fieldPath } } });

/** Short digest of the injection configuration (stable under key order), recorded on injected pods. */
export function configRevision(cfg: InjectionConfig): string {
  return createHash("sha256").update(stableJson(cfg)).digest("hex").slice(0, 16);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function sidecarEnv(cfg: InjectionConfig, upstreamPort: number, workload: OwnerWorkload | undefined): V1EnvVar[] {
  const redis: V1EnvVar =
    cfg.redis.url !== undefined
      ? env("redisUrl", cfg.redis.url)
      : { name: envName("redisUrl"), valueFrom: { secretKeyRef: { name: cfg.redis.secretName ?? "", key: cfg.redis.secretKey ?? "" } } };
  const all = [
    fieldEnv("podName", "metadata.name"),
    fieldEnv("podNamespace", "metadata.namespace"),
    env("workloadKind", workload?.kind ?? ""),
    env("workloadName", workload?.name ?? ""),
    env("podLabelsFile", `${VOLUMES.podInfo.mountPath}/${POD_LABELS_FILE}`),
    env("listenPort", cfg.listenPort),
    env("adminPort", cfg.adminPort),
    env("upstreamPort", upstreamPort),
    env("issuersFile", `${VOLUMES.issuers.mountPath}/${cfg.issuersKey}`),
    env("keyRingDir", VOLUMES.keyRing.mountPath),
    env("busKeysDir", VOLUMES.busKeys.mountPath),
    redis,
    ...(cfg.redis.sentinel === undefined
      ? []
      : [env("redisSentinelName", cfg.redis.sentinel.name), env("redisSentinels", cfg.redis.sentinel.sentinels.join(","))]),
    env("busPrefix", cfg.busPrefix),
    env("defaultAction", cfg.defaultAction),
    env("maxStalenessSeconds", cfg.maxStalenessSeconds),
    env("trustedProxies", cfg.trustedProxies.join(",")),
    env("tokenCookie", cfg.tokenCookie),
    env("tokenHeader", cfg.tokenHeader),
    env("forwardCredentials", cfg.forwardCredentials === true ? "true" : ""),
    env("headersTimeoutMs", cfg.timeouts.headersMs),
    env("requestTimeoutMs", cfg.timeouts.requestMs),
    env("keepAliveTimeoutMs", cfg.timeouts.keepAliveMs),
    env("upstreamTimeoutMs", cfg.timeouts.upstreamMs),
    env("logLevel", cfg.logLevel),
    env("geoipCityDatabase", geoipPath(cfg.geoip, "cityFile")),
    env("geoipAsnDatabase", geoipPath(cfg.geoip, "asnFile")),
    env("clientCertHeader", cfg.deviceBinding?.clientCertHeader ?? ""),
    env("ja4Header", cfg.deviceBinding?.ja4Header ?? ""),
  ];
  // An empty optional setting is the sidecar's default anyway; leaving it out keeps the pod spec readable.
  return all.filter((e) => e.value !== "");
}

/** Where the sidecar finds a database inside the mounted source; "" when not configured. */
function geoipPath(geoip: GeoipConfig | undefined, which: "cityFile" | "asnFile"): string {
  const file = geoip?.[which] ?? "";
  return file === "" ? "" : `${VOLUMES.geoip.mountPath}/${file}`;
}

/** The GeoIP source as a pod volume (read-only where the volume type has the setting; always mounted read-only). */
function geoipVolume(geoip: GeoipConfig): V1Volume {
  const { name } = VOLUMES.geoip;
  const s = geoip.source;
  if (s.configMap !== undefined) return { name, configMap: { name: s.configMap } };
  if (s.secret !== undefined) return { name, secret: { secretName: s.secret } };
  if (s.persistentVolumeClaim !== undefined) return { name, persistentVolumeClaim: { claimName: s.persistentVolumeClaim, readOnly: true } };
  if (s.image !== undefined) return { name, image: { reference: s.image } };
  return { name, hostPath: { path: s.hostPath ?? "", type: "Directory" } };
}

const probe = (path: string, periodSeconds: number, failureThreshold: number): V1Probe => ({
  httpGet: { path, port: ADMIN_PORT_NAME, scheme: "HTTP" },
  periodSeconds,
  timeoutSeconds: 1,
  failureThreshold,
});

/** The sidecar container (a native sidecar: an init container with restartPolicy Always). */
export function sidecarContainer(cfg: InjectionConfig, upstreamPort: number, workload?: OwnerWorkload): V1Container {
  return {
    name: SIDECAR_CONTAINER_NAME,
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    ...(cfg.command.length > 0 ? { command: [...cfg.command] } : {}),
    ...(cfg.args.length > 0 ? { args: [...cfg.args] } : {}),
    restartPolicy: "Always",
    ports: [
      { name: PROXY_PORT_NAME, containerPort: cfg.listenPort, protocol: "TCP" },
      { name: ADMIN_PORT_NAME, containerPort: cfg.adminPort, protocol: "TCP" },
    ],
    env: sidecarEnv(cfg, upstreamPort, workload),
    resources: { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    // Startup gates every later container: the application starts only once the sidecar is ready to serve.
    startupProbe: probe("/readyz", 1, 120),
    readinessProbe: probe("/readyz", 5, 3),
    livenessProbe: probe("/healthz", 10, 3),
    volumeMounts: [
      { name: VOLUMES.podInfo.name, mountPath: VOLUMES.podInfo.mountPath, readOnly: true },
      { name: VOLUMES.issuers.name, mountPath: VOLUMES.issuers.mountPath, readOnly: true },
      { name: VOLUMES.keyRing.name, mountPath: VOLUMES.keyRing.mountPath, readOnly: true },
      { name: VOLUMES.busKeys.name, mountPath: VOLUMES.busKeys.mountPath, readOnly: true },
      { name: VOLUMES.tmp.name, mountPath: VOLUMES.tmp.mountPath },
      ...(cfg.geoip === undefined ? [] : [{ name: VOLUMES.geoip.name, mountPath: VOLUMES.geoip.mountPath, readOnly: true }]),
    ],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

export function sidecarVolumes(cfg: InjectionConfig): V1Volume[] {
  return [
    { name: VOLUMES.podInfo.name, downwardAPI: { items: [{ path: POD_LABELS_FILE, fieldRef: { fieldPath: "metadata.labels" } }] } },
    { name: VOLUMES.issuers.name, configMap: { name: cfg.issuersConfigMap } },
    { name: VOLUMES.keyRing.name, secret: { secretName: cfg.keyRingSecret } },
    { name: VOLUMES.busKeys.name, configMap: { name: cfg.busKeysConfigMap } },
    { name: VOLUMES.tmp.name, emptyDir: { sizeLimit: "16Mi" } },
    ...(cfg.geoip === undefined ? [] : [geoipVolume(cfg.geoip)]),
  ];
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function withAnnotations(pod: V1Pod, extra: Record<string, string>): V1Pod {
  const out = clone(pod);
  const metadata = out.metadata ?? {};
  metadata.annotations = { ...(metadata.annotations ?? {}), ...extra };
  out.metadata = metadata;
  return out;
}

/** The pod with the Vigil sidecar; the input is not modified. Injecting an injected pod returns an equal copy. */
export function inject(pod: V1Pod, cfg: InjectionConfig): V1Pod {
  if (hasSidecar(pod)) return clone(pod);
  const upstream = resolveUpstreamPort(pod);
  if (!("port" in upstream)) throw new OperatorError("INJECTION_IMPOSSIBLE", `cannot inject: ${upstream.problem.reason}`);
  const out = withAnnotations(pod, {
    [INJECTION_STATUS_ANNOTATION]: INJECTION_STATUS_INJECTED,
    [INJECTED_REVISION_ANNOTATION]: configRevision(cfg),
  });
  // `out` is our own deep copy: filling it in place leaves the caller's pod untouched.
  const spec = out.spec ?? { containers: [] };
  spec.initContainers = [sidecarContainer(cfg, upstream.port, ownerWorkload(pod)), ...(spec.initContainers ?? [])];
  spec.volumes = [...(spec.volumes ?? []), ...sidecarVolumes(cfg)];
  out.spec = spec;
  return out;
}

/** The pod with the recorded skip decision (`vigil.dev/injection-status: skipped: <reasons, comma-separated>`). */
export function recordSkip(pod: V1Pod, decision: Pick<InjectionDecision, "reasons">): V1Pod {
  return withAnnotations(pod, { [INJECTION_STATUS_ANNOTATION]: injectionStatusSkipped(decision.reasons.join(", ")) });
}
