/**
 * AdmissionReview v1 in and out (controller-runtime `pkg/webhook/admission/response.go` style).
 *
 * Contract: `decodeAdmissionReview(bytes)` never throws: it returns `{ok: true, request}` for a well-formed
 * `admission.k8s.io/v1` AdmissionReview request, or `{ok: false, error}` with a stable `code` (ADMISSION_*), a
 * sentence and, when there was one, the `cause` — the server answers those with HTTP 400. `podOf(request)` checks the
 * shape of a Pod object well enough for the injection code to read it without surprises. The builders `allowed`,
 * `denied`, `patched` and `errored` make responses; `reviewResponse(uid, response)` wraps one for the wire.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { AdmissionErrorCode } from "../errors.ts";
import type { PatchOp } from "./patch.ts";


export interface AdmissionError {
  code: AdmissionErrorCode;
  message: string;
  cause?: unknown;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource: string;
  /** The object's name; empty for pods created with generateName. */
  name: string;
  namespace: string;
  operation: Operation;
  dryRun: boolean;
  /** The object being admitted (absent for DELETE/CONNECT). */
  object: Record<string, unknown> | undefined;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: AdmissionError };

const API_VERSION = "admission.k8s.io/v1";
const OPERATIONS: readonly string[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
const UID = /^[A-Za-z0-9-]{1,128}$/;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const fail = <T>(code: AdmissionErrorCode, message: string, cause?: unknown): Decoded<T> => ({
  ok: false,
  error: cause === undefined ? { code, message } : { code, message, cause },
});
const strField = (o: Rec, k: string): string | undefined => (typeof o[k] === "string" ? o[k] : o[k] === undefined ? "" : undefined);

function gvk(v: unknown): GroupVersionKind | undefined {
  if (!isRec(v)) return undefined;
  const [group, version, kind] = [strField(v, "group"), strField(v, "version"), strField(v, "kind")];
  return group === undefined || version === undefined || kind === undefined || kind === "" ? undefined : { group, version, kind };
}

function gvr(v: unknown): GroupVersionResource | undefined {
  if (!isRec(v)) return undefined;
  const [group, version, resource] = [strField(v, "group"), strField(v, "version"), strField(v, "resource")];
  return group === undefined || version === undefined || resource === undefined || resource === "" ? undefined : { group, version, resource };
}

export function decodeAdmissionReview(bytes: Buffer | string): Decoded<AdmissionRequest> {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
  } catch (cause) {
    return fail("ADMISSION_BAD_JSON", "the body is not JSON", cause);
  }
  if (!isRec(doc) || doc["kind"] !== "AdmissionReview" || doc["apiVersion"] !== API_VERSION) {
    return fail("ADMISSION_BAD_REVIEW", `expected an AdmissionReview of ${API_VERSION}`);
  }
  return decodeRequest(doc["request"]);
}

function decodeRequest(r: unknown): Decoded<AdmissionRequest> {
  if (!isRec(r)) return fail("ADMISSION_BAD_REQUEST", "the AdmissionReview has no request");
  const uid = r["uid"];
  if (typeof uid !== "string" || !UID.test(uid)) return fail("ADMISSION_BAD_REQUEST", "request.uid is missing or malformed");
  const kind = gvk(r["kind"]);
  const resource = gvr(r["resource"]);
  if (kind === undefined || resource === undefined) return fail("ADMISSION_BAD_REQUEST", "request.kind and request.resource must name a group, version and kind/resource");
  const operation = r["operation"];
  if (typeof operation !== "string" || !OPERATIONS.includes(operation)) return fail("ADMISSION_BAD_REQUEST", "request.operation must be CREATE, UPDATE, DELETE or CONNECT");
  const rest = decodeRest(r);
  return rest.ok ? { ok: true, value: { uid, kind, resource, operation: operation as Operation, ...rest.value } } : rest;
}

function decodeRest(r: Rec): Decoded<Pick<AdmissionRequest, "subResource" | "name" | "namespace" | "dryRun" | "object">> {
  const [subResource, name, namespace] = [strField(r, "subResource"), strField(r, "name"), strField(r, "namespace")];
  if (subResource === undefined || name === undefined || namespace === undefined) return fail("ADMISSION_BAD_REQUEST", "request.subResource, name and namespace must be strings");
  const object = r["object"];
  if (object !== undefined && object !== null && !isRec(object)) return fail("ADMISSION_BAD_REQUEST", "request.object must be an object");
  if (r["dryRun"] !== undefined && typeof r["dryRun"] !== "boolean") return fail("ADMISSION_BAD_REQUEST", "request.dryRun must be a boolean");
  return { ok: true, value: { subResource, name, namespace, dryRun: r["dryRun"] === true, object: isRec(object) ? object : undefined } };
}

const isStringMap = (v: unknown): boolean => v === undefined || (isRec(v) && Object.values(v).every((x) => typeof x === "string"));
const isList = (v: unknown, item: (x: unknown) => boolean): boolean => v === undefined || (Array.isArray(v) && v.every(item));
const isPort = (p: unknown): boolean =>
  isRec(p) && Number.isInteger(p["containerPort"]) && ["string", "undefined"].includes(typeof p["name"]) && ["string", "undefined"].includes(typeof p["protocol"]);
const isContainer = (c: unknown): boolean => isRec(c) && typeof c["name"] === "string" && isList(c["ports"], isPort);
const isVolume = (v: unknown): boolean => isRec(v) && typeof v["name"] === "string";

/** The request's object as a Pod, when it has the shape the injection code reads. */
export function podOf(request: AdmissionRequest): Decoded<V1Pod> {
  const o = request.object;
  const bad = (what: string): Decoded<V1Pod> => fail("ADMISSION_BAD_OBJECT", `request.object is not a Pod: ${what}`);
  if (o === undefined) return bad("it is missing");
  const meta = o["metadata"] ?? {};
  const spec = o["spec"];
  if (!isRec(meta) || !isStringMap(meta["labels"]) || !isStringMap(meta["annotations"])) return bad("metadata, labels or annotations malformed");
  if (!isRec(spec) || !Array.isArray(spec["containers"])) return bad("spec.containers missing");
  if (!isList(spec["containers"], isContainer) || !isList(spec["initContainers"], isContainer)) return bad("a container is malformed");
  if (!isList(spec["volumes"], isVolume)) return bad("spec.volumes malformed");
  if (spec["hostNetwork"] !== undefined && typeof spec["hostNetwork"] !== "boolean") return bad("spec.hostNetwork must be a boolean");
  return { ok: true, value: o };
}

/** What the webhook answers (metav1.Status-like `status` on refusals and errors). */
export interface AdmissionResponse {
  allowed: boolean;
  patchType?: "JSONPatch";
  /** base64 of the JSON patch. */
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string; reason?: string };
}

export const allowed = (): AdmissionResponse => ({ allowed: true });

export const denied = (message: string, code = 403): AdmissionResponse => ({
  allowed: false,
  status: { code, message, reason: code === 403 ? "Forbidden" : "Invalid" },
});

export const errored = (code: number, message: string): AdmissionResponse => ({ allowed: false, status: { code, message } });

/** Allowed with a JSON patch (none when `patch` is empty) and optional warnings. */
export function patched(patch: readonly PatchOp[], warnings: readonly string[] = []): AdmissionResponse {
  const out: AdmissionResponse = { allowed: true };
  if (patch.length > 0) {
    out.patchType = "JSONPatch";
    out.patch = Buffer.from(JSON.stringify(patch), "utf8").toString("base64");
  }
  if (warnings.length > 0) out.warnings = [...warnings];
  return out;
}

export function reviewResponse(uid: string, response: AdmissionResponse): { apiVersion: string; kind: string; response: AdmissionResponse & { uid: string } } {
  return { apiVersion: API_VERSION, kind: "AdmissionReview", response: { uid, ...response } };
}
