/**
 * OpenAPI v3 of sessions.vigil.dev/v1alpha1 (pure): the root index (`/openapi/v3`) and the group-version document,
 * self-contained (the metadata schemas it refers to are included), so that `kubectl explain vigilsession` works
 * through the aggregator. Schema names follow the reversed-group convention of CRDs.
 */
import { createHash } from "node:crypto";
import { FLOW_KINDS, SESSION_STATES, SESSIONS_API_VERSION, SESSIONS_GROUP, SESSIONS_VERSION, VIGIL_SESSION } from "../../api/sessions/v1alpha1.ts";

type Schema = Record<string, unknown>;

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const PREFIX = "dev.vigil.sessions.v1alpha1";
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (description: string, extra: Schema = {}): Schema => ({ type: "string", description, ...extra });
const int = (description: string): Schema => ({ type: "integer", format: "int64", description });
const time = (description: string): Schema => str(description, { format: "date-time" });
const gvk = (kind: string): Schema => ({ "x-kubernetes-group-version-kind": [{ group: SESSIONS_GROUP, version: SESSIONS_VERSION, kind }] });
const obj = (description: string, properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: "object",
  description,
  properties,
  ...(required.length > 0 ? { required } : {}),
});
const list = (description: string, items: Schema): Schema => ({ type: "array", description, items });

const schemas: Record<string, Schema> = {
  [`${PREFIX}.VigilSession`]: {
    ...obj(
      "VigilSession is one login of one identity as seen from one namespace: the session-wide facts (identity, client, times, end) and this namespace's part (workloads, live flows, recent events, admitting rules). Read-only; deleting it asks for the session's termination (a SessionTermination in the namespace).",
      {
        apiVersion: str("APIVersion: sessions.vigil.dev/v1alpha1."),
        kind: str("Kind: VigilSession."),
        metadata: {
          ...ref(`${META}.ObjectMeta`),
          description:
            "name is the session id (s_…); namespace a namespace whose workloads the session touched; creationTimestamp when it was first seen there.",
        },
        identity: ref(`${PREFIX}.SessionIdentity`),
        state: str("Active (a flow is open or recent activity), Idle, or Ended.", { enum: [...SESSION_STATES] }),
        stale: { type: "boolean", description: "True when a sidecar that reported this session here stopped heartbeating: what is shown may be out of date." },
        firstIP: str("Client IP at the session's start."),
        lastIP: str("Client IP of the latest activity."),
        userAgent: str("The client's user agent."),
        location: obj("Where the last client address is, from the sidecars' geolocation databases (absent parts unknown).", {
          country: str("ISO 3166-1 alpha-2 country code."),
          city: str("City name (English)."),
          asn: int("Autonomous system number."),
          asOrganization: str("Autonomous system organisation."),
        }),
        startTime: time("When the session started."),
        lastActivityTime: time("Latest activity in this namespace."),
        endTime: time("When the session ended."),
        endReason: str("Why the session ended (IdleTimeout, AbsoluteTimeout, Terminated, PolicyChanged …), with details."),
        requests: int("Requests this namespace's workloads served for the session."),
        workloads: list("Workloads (pods) of this namespace the session reached.", ref(`${PREFIX}.SessionWorkload`)),
        flows: list("Long-lived flows open right now in this namespace.", ref(`${PREFIX}.SessionFlow`)),
        closedFlows: obj("Flows already closed in this namespace.", {
          count: int("How many."),
          bytesIn: int("Bytes received from clients."),
          bytesOut: int("Bytes sent to clients."),
        }),
        recentEvents: list("The session's most recent audit events in this namespace, oldest first.", ref(`${PREFIX}.SessionEvent`)),
        findings: list(
          "Session-protection findings on this namespace's workloads, oldest first: SESSION_NETWORK_CHANGED, SESSION_DEVICE_CHANGED, SESSION_IMPOSSIBLE_TRAVEL, SESSION_NEW_COUNTRY, SESSION_LIMIT_EXCEEDED.",
          obj("One finding with its evidence.", {
            time: time("When it was found."),
            code: str("Stable code."),
            mode: str("Audit (recorded, the request went through) or Enforce (refused, the session ended).", { enum: ["Audit", "Enforce"] }),
            outcome: str("recorded or refused.", { enum: ["recorded", "refused"] }),
            pod: str("The pod whose sidecar found it."),
            policy: str("The AccessPolicy (namespace/name) that asked for the mode."),
            evidence: {
              type: "object",
              description:
                "What was found: kind network (bound, observed), device (changed components), travel (from, to, distances in km, elapsed seconds, speed), newCountry, or limit.",
              "x-kubernetes-preserve-unknown-fields": true,
            },
          }),
        ),
        admittedBy: list(
          "Policies and rules that admitted the session here.",
          obj("An AccessPolicy rule.", { policy: str("AccessPolicy name."), rule: str("Rule name.") }),
        ),
        terminationRequested: obj("Set once the VigilSession was deleted: the SessionTermination that carries it out and who asked.", {
          sessionTermination: str("Name of the SessionTermination in this namespace."),
          user: str("The user who deleted the VigilSession."),
          time: time("When."),
        }),
      },
      ["apiVersion", "kind", "metadata", "identity", "state"],
    ),
    ...gvk(VIGIL_SESSION.kind),
  },
  [`${PREFIX}.VigilSessionList`]: {
    ...obj(
      "A list of VigilSessions.",
      {
        apiVersion: str("APIVersion."),
        kind: str("Kind: VigilSessionList."),
        metadata: ref(`${META}.ListMeta`),
        items: list("The sessions.", ref(`${PREFIX}.VigilSession`)),
      },
      ["items"],
    ),
    ...gvk(VIGIL_SESSION.listKind),
  },
  [`${PREFIX}.SessionIdentity`]: obj(
    "Who the session belongs to, as verified from the token.",
    {
      issuer: str("The token issuer (iss)."),
      subject: str("The subject (sub)."),
      email: str("The email claim."),
      groups: list("The groups claim.", { type: "string" }),
      claims: { type: "object", description: "Other claims the policies matched on.", additionalProperties: { "x-kubernetes-preserve-unknown-fields": true } },
    },
    ["issuer", "subject"],
  ),
  [`${PREFIX}.SessionWorkload`]: obj(
    "A pod of this namespace the session reached.",
    {
      kind: str("Kind of the owning workload (e.g. Deployment)."),
      name: str("Name of the owning workload."),
      pod: str("The pod."),
      firstSeen: time("First request through this pod."),
      lastSeen: time("Latest activity through this pod."),
      stale: { type: "boolean", description: "The pod's sidecar stopped heartbeating." },
    },
    ["pod"],
  ),
  [`${PREFIX}.SessionFlow`]: obj(
    "A long-lived flow open now.",
    {
      id: str("Flow id (unique per pod)."),
      kind: str("http (keep-alive), stream, websocket or tunnel (CONNECT).", { enum: [...FLOW_KINDS] }),
      pod: str("The pod whose sidecar carries it."),
      peer: str("Client address (ip:port)."),
      port: int("Target port."),
      bytesIn: int("Bytes received from the client so far."),
      bytesOut: int("Bytes sent to the client so far."),
      openedAt: time("When it opened."),
    },
    ["id", "kind", "pod"],
  ),
  [`${PREFIX}.SessionEvent`]: obj(
    "An audit event of the session.",
    {
      time: time("When."),
      type: str("Stable event type."),
      code: str("Stable event code."),
      outcome: str("Outcome."),
      reason: str("Reason or rule."),
      pod: str("Pod it happened on."),
    },
    ["time", "type", "code"],
  ),
  [`${META}.ObjectMeta`]: obj("Standard object metadata.", {
    name: str("Name, unique within a namespace."),
    namespace: str("Namespace."),
    uid: str("Unique id of this object."),
    resourceVersion: str("Opaque version of this object, for watches."),
    creationTimestamp: time("When the object came into existence."),
  }),
  [`${META}.ListMeta`]: obj("Standard list metadata.", {
    resourceVersion: str("Version of the list, to watch from."),
    continue: str("Token for the next page, when there is one."),
    remainingItemCount: int("Objects after this page, when known."),
  }),
  [`${META}.Status`]: obj("Result of an operation that returns no object.", {
    status: str("Success or Failure."),
    message: str("Human-readable description."),
    reason: str("Machine-readable reason."),
    code: int("HTTP status code."),
  }),
};

const GV_PATH = `/apis/${SESSIONS_API_VERSION}`;

function operation(action: string, kind: string, description: string): Schema {
  const schema = kind === "Status" ? ref(`${META}.Status`) : ref(`${PREFIX}.${kind}`);
  return {
    description,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": { group: SESSIONS_GROUP, version: SESSIONS_VERSION, kind: VIGIL_SESSION.kind },
    responses: { "200": { description: "OK", content: { "application/json": { schema } } } },
  };
}

const nsParam = { name: "namespace", in: "path", required: true, schema: { type: "string" } };
const nameParam = { name: "name", in: "path", required: true, schema: { type: "string" } };

const document: Schema = {
  openapi: "3.0.0",
  info: { title: "Vigil sessions", version: SESSIONS_API_VERSION },
  paths: {
    [`${GV_PATH}/${VIGIL_SESSION.plural}`]: { get: operation("list", VIGIL_SESSION.listKind, "List or watch VigilSessions of all namespaces.") },
    [`${GV_PATH}/namespaces/{namespace}/${VIGIL_SESSION.plural}`]: {
      parameters: [nsParam],
      get: operation("list", VIGIL_SESSION.listKind, "List or watch the VigilSessions of a namespace."),
    },
    [`${GV_PATH}/namespaces/{namespace}/${VIGIL_SESSION.plural}/{name}`]: {
      parameters: [nsParam, nameParam],
      get: operation("get", VIGIL_SESSION.kind, "Read a VigilSession."),
      delete: operation("delete", "Status", "Terminate the session in this namespace (creates a SessionTermination)."),
    },
  },
  components: { schemas },
};

const documentJson = JSON.stringify(document);
export const OPENAPI_HASH = createHash("sha512").update(documentJson).digest("hex").slice(0, 128).toUpperCase();

export function openApiRoot(): Record<string, unknown> {
  return { paths: { [`apis/${SESSIONS_API_VERSION}`]: { serverRelativeURL: `/openapi/v3${GV_PATH}?hash=${OPENAPI_HASH}` } } };
}

export function openApiDocumentJson(): string {
  return documentJson;
}
