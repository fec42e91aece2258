/**
 * AdmissionReview v1 in and out (controller-runtime `pkg/webhook/admission/response.go` style).
 *
 * Contract: `decodeAdmissionReview(bytes)` never throws: it returns `{ok: true, request}` for a well-formed
 * `admission.k8s.io/v1` AdmissionReview request, or `{ok: false, error}` with a stable `code` (ADMISSION_*, see
 * operator/errors.ts), a sentence naming the bad field (`request.uid: is missing or malformed`) and, when there was
 * one, the `cause` — the server answers those with HTTP 400. `podOf(request)` checks the shape of a Pod object well
 * enough for the injection code to read it without surprises (`request.object is not a Pod: spec.containers[0].name:
 * must be a string`). Both are zod schemas. The builders `allowed`, `denied`, `patched` and `errored` make
 * responses; `reviewResponse(uid, response)` wraps one for the wire.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { firstProblem } from "../../lib/validation.ts";
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
const OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"] as const;
const UID = /^[A-Za-z0-9-]{1,128}$/;

const aString = { error: "must be a string" };
/** An optional string of the request: absent is "". */
const optionalString = z.string(aString).default("");

const RequestSchema = z.object(
  {
    uid: z.string({ error: "is missing or malformed" }).regex(UID, { error: "is missing or malformed" }),
    kind: z.object(
      { group: optionalString, version: optionalString, kind: z.string(aString).min(1, { error: "must not be empty" }) },
      { error: "must name a group, version and kind" },
    ),
    resource: z.object(
      { group: optionalString, version: optionalString, resource: z.string(aString).min(1, { error: "must not be empty" }) },
      { error: "must name a group, version and resource" },
    ),
    operation: z.enum(OPERATIONS, { error: `must be ${OPERATIONS.join(", ")}` }),
    subResource: optionalString,
    name: optionalString,
    namespace: optionalString,
    dryRun: z.boolean({ error: "must be a boolean" }).default(false),
    object: z
      .looseObject({}, { error: "must be an object" })
      .nullish()
      .transform((o) => o ?? undefined),
  },
  { error: "is missing or not an object" },
);

/** The review's envelope; its `request` is decoded by RequestSchema. */
const ReviewSchema = z.object(
  {
    apiVersion: z.literal(API_VERSION, { error: `must be ${API_VERSION}` }),
    kind: z.literal("AdmissionReview", { error: "must be AdmissionReview" }),
    request: RequestSchema,
  },
  { error: `expected an AdmissionReview of ${API_VERSION}` },
);

const fail = <T>(code: AdmissionErrorCode, message: string, cause?: unknown): Decoded<T> => ({
  ok: false,
  error: cause === undefined ? { code, message } : { code, message, cause },
});

export function decodeAdmissionReview(bytes: Buffer | string): Decoded<AdmissionRequest> {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
  } catch (cause) {
    return fail("ADMISSION_BAD_JSON", "the body is not JSON", cause);
  }
  const parsed = ReviewSchema.safeParse(doc);
  if (parsed.success) return { ok: true, value: parsed.data.request };
  const { path, message } = firstProblem(parsed.error);
  if (path === "") return fail("ADMISSION_BAD_REVIEW", message);
  return fail(path.startsWith("request") ? "ADMISSION_BAD_REQUEST" : "ADMISSION_BAD_REVIEW", `${path}: ${message}`);
}

/** Only what the injection code reads is checked; everything else passes through untouched. */
const stringMap = z.record(z.string(), z.string(aString), { error: "must be a mapping of strings" }).optional();
const containerPort = z.looseObject(
  { containerPort: z.int({ error: "must be an integer" }), name: z.string(aString).optional(), protocol: z.string(aString).optional() },
  { error: "must be an object" },
);
const container = z.looseObject(
  { name: z.string(aString), ports: z.array(containerPort, { error: "must be a list" }).optional() },
  { error: "must be an object" },
);
const PodSchema = z.looseObject({
  metadata: z
    .looseObject({ labels: stringMap, annotations: stringMap }, { error: "must be an object" })
    .nullish()
    .transform((m) => m ?? undefined),
  spec: z.looseObject(
    {
      containers: z.array(container, { error: "must be a list" }),
      initContainers: z.array(container, { error: "must be a list" }).optional(),
      volumes: z.array(z.looseObject({ name: z.string(aString) }, { error: "must be an object" }), { error: "must be a list" }).optional(),
      hostNetwork: z.boolean({ error: "must be a boolean" }).optional(),
    },
    { error: "is missing or not an object" },
  ),
});

/** The request's object as a Pod, when it has the shape the injection code reads. */
export function podOf(request: AdmissionRequest): Decoded<V1Pod> {
  if (request.object === undefined) return fail("ADMISSION_BAD_OBJECT", "request.object is not a Pod: it is missing");
  const parsed = PodSchema.safeParse(request.object);
  // Valid: the object itself (not zod's copy) is the pod, exactly as the API server will apply the patch to it.
  if (parsed.success) return { ok: true, value: request.object };
  const { path, message } = firstProblem(parsed.error);
  return fail("ADMISSION_BAD_OBJECT", `request.object is not a Pod: ${path}: ${message}`);
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
