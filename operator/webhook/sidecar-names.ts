/**
 * Names and paths of what the injection adds to a pod, declared once: the container, its ports, its volumes and
 * where they are mounted. The sidecar reads these paths through the VIGIL_* variables the injection sets
 * (sidecar/config.ts), so only this file fixes them.
 */

export const SIDECAR_CONTAINER_NAME = "vigil-sidecar";
/** The port Services must target (the only way into a protected pod). */
export const PROXY_PORT_NAME = "vigil-proxy";
export const ADMIN_PORT_NAME = "vigil-admin";

export const VOLUMES = {
  podInfo: { name: "vigil-podinfo", mountPath: "/etc/vigil/podinfo" },
  issuers: { name: "vigil-issuers", mountPath: "/etc/vigil/issuers" },
  keyRing: { name: "vigil-key-ring", mountPath: "/etc/vigil/key-ring" },
  busKeys: { name: "vigil-bus-keys", mountPath: "/etc/vigil/bus-keys" },
  tmp: { name: "vigil-tmp", mountPath: "/tmp" },
  /** Only when the injection configuration names GeoIP databases. */
  geoip: { name: "vigil-geoip", mountPath: "/etc/vigil/geoip" },
} as const;

export const SIDECAR_VOLUME_NAMES = Object.values(VOLUMES).map((v) => v.name);

/** File (inside VOLUMES.podInfo) where the downward API writes the pod's labels. */
export const POD_LABELS_FILE = "labels";

/** The sidecar's user and group (distroless "nonroot"). */
export const SIDECAR_UID = 65532;
