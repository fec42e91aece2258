/**
 * Every Kubernetes label, annotation and finalizer key Vigil reads or writes, declared once (linkerd
 * `pkg/k8s/labels.go`). No I/O. Code elsewhere never spells a `vigil.dev/...` key inline.
 *
 * Injection keys (see docs/decisions/webhook-0003-pod-opt-in-selectors.md):
 * - namespace label `vigil.dev/injection=enabled` opts every pod of the namespace in;
 * - pod label `vigil.dev/inject="true"` opts one pod in from a namespace that is not labelled (selectors see labels
 *   only, so this is what makes the API server call the webhook); `"false"` (label or annotation) opts a pod out;
 *   the annotation of the same key is honoured whenever the webhook is called (the label wins when both are set);
 * - pod annotation `vigil.dev/upstream-port`: the application's port (number or a declared port name);
 * - pod annotations written by the webhook: `vigil.dev/injection-status` (`injected` or `skipped: <reason>[, <reason>…]`) and
 *   `vigil.dev/injected-revision` (digest of the injection configuration that produced the sidecar).
 */

const PREFIX = "vigil.dev";

/** Namespace label that opts every pod of the namespace into sidecar injection. */
export const INJECTION_NAMESPACE_LABEL = `${PREFIX}/injection`;
/** The only value of INJECTION_NAMESPACE_LABEL that enables injection. */
export const INJECTION_ENABLED = "enabled";

/** Pod label or annotation: `"true"` opts the pod in, `"false"` opts it out. */
export const INJECT_POD_KEY = `${PREFIX}/inject`;
export const INJECT_TRUE = "true";
export const INJECT_FALSE = "false";

/** Pod annotation: the application's port behind the sidecar (a number, or the name of a declared container port). */
export const UPSTREAM_PORT_ANNOTATION = `${PREFIX}/upstream-port`;

/** Pod annotation written by the webhook: the recorded decision. */
export const INJECTION_STATUS_ANNOTATION = `${PREFIX}/injection-status`;
export const INJECTION_STATUS_INJECTED = "injected";
/** `skipped: <reasons>` (snake_case codes from operator/webhook/decision.ts, comma-separated). */
export const injectionStatusSkipped = (reason: string): string => `skipped: ${reason}`;

/** Pod annotation written by the webhook: which injection configuration produced the sidecar. */
export const INJECTED_REVISION_ANNOTATION = `${PREFIX}/injected-revision`;

/** Finalizer on Vigil's custom resources (bus records are cleaned up before the object goes). */
export const VIGIL_FINALIZER = `${PREFIX}/finalizer`;

/**
 * SessionTermination annotation written by the operator before it publishes: the publish plan as JSON
 * (`{"v":1,"startedAt":ms,"expiresAt":ms,"expected":["pod",…]}`), so a restarted operator (or a new leader)
 * finishes the same termination with the same expected sidecars and the same revocation expiry.
 */
export const TERMINATION_PLAN_ANNOTATION = `${PREFIX}/termination-plan`;

/** Well-known label the API server sets on every namespace (its name); used by webhook namespace selectors. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * SessionTermination annotation written by the sessions API when it creates one for `kubectl delete vigilsession`:
 * the user (as the aggregator authenticated them) who asked.
 */
export const REQUESTED_BY_ANNOTATION = `${PREFIX}/requested-by`;

/** On SessionTerminations created from a signal: what sent it (`backchannel-logout`, `ssf`, `session-protection`). */
export const SIGNAL_SOURCE_LABEL = `${PREFIX}/signal-source`;
/** On SessionTerminations created from a signal: which signal (`logout`, `session-revoked`, `SESSION_NETWORK_CHANGED` …). */
export const SIGNAL_LABEL = `${PREFIX}/signal`;
/** On SessionTerminations created from a signal: its identifier (the token's `jti`, or the session finding). */
export const SIGNAL_ID_ANNOTATION = `${PREFIX}/signal-id`;
