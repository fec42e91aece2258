import { describe, expect, it } from "vitest";
import { allowed, decodeAdmissionReview, denied, errored, patched, podOf, reviewResponse } from "../../../../operator/webhook/admission.ts";
import { handleAdmission } from "../../../../operator/webhook/handler.ts";
import { admissionReview, goldenConfig, patchOf, pod, responseOf, withPorts } from "./support.ts";

const review = (overrides: Record<string, unknown> = {}) => admissionReview(pod(withPorts(8080)), overrides);
const deps = { config: goldenConfig(), namespaceLabels: () => Promise.resolve({ "vigil.dev/injection": "enabled" }) };

/** Bodies that must be refused with a code, never crash anything. */
const GARBAGE: [string, string | Buffer, string][] = [
  ["empty body", "", "ADMISSION_BAD_JSON"],
  ["not JSON", "{not json", "ADMISSION_BAD_JSON"],
  ["binary", Buffer.from([0xff, 0xfe, 0x00, 0x01]), "ADMISSION_BAD_JSON"],
  ["JSON null", "null", "ADMISSION_BAD_REVIEW"],
  ["a number", "42", "ADMISSION_BAD_REVIEW"],
  ["an array", "[]", "ADMISSION_BAD_REVIEW"],
  ["wrong kind", JSON.stringify({ ...review(), kind: "Pod" }), "ADMISSION_BAD_REVIEW"],
  ["v1beta1 review", JSON.stringify({ ...review(), apiVersion: "admission.k8s.io/v1beta1" }), "ADMISSION_BAD_REVIEW"],
  ["no request", JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), "ADMISSION_BAD_REQUEST"],
  ["request is a string", JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: "x" }), "ADMISSION_BAD_REQUEST"],
  ["missing uid", JSON.stringify(review({ uid: undefined })), "ADMISSION_BAD_REQUEST"],
  ["uid with a slash", JSON.stringify(review({ uid: "../../etc" })), "ADMISSION_BAD_REQUEST"],
  ["huge uid", JSON.stringify(review({ uid: "a".repeat(500) })), "ADMISSION_BAD_REQUEST"],
  ["kind is a string", JSON.stringify(review({ kind: "Pod" })), "ADMISSION_BAD_REQUEST"],
  ["resource missing", JSON.stringify(review({ resource: undefined })), "ADMISSION_BAD_REQUEST"],
  ["unknown operation", JSON.stringify(review({ operation: "PATCH" })), "ADMISSION_BAD_REQUEST"],
  ["namespace is a number", JSON.stringify(review({ namespace: 7 })), "ADMISSION_BAD_REQUEST"],
  ["object is an array", JSON.stringify(review({ object: [] })), "ADMISSION_BAD_REQUEST"],
  ["dryRun is a string", JSON.stringify(review({ dryRun: "true" })), "ADMISSION_BAD_REQUEST"],
  ["__proto__ pollution attempt", '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"__proto__":{"uid":"x"}}}', "ADMISSION_BAD_REQUEST"],
];

/** Pods whose shape the injection code could not read safely. */
const BAD_PODS: [string, unknown][] = [
  ["no object", undefined],
  ["spec missing", { metadata: {} }],
  ["containers not a list", { spec: { containers: {} } }],
  ["container without a name", { spec: { containers: [{ image: "x" }] } }],
  ["ports not a list", { spec: { containers: [{ name: "a", ports: 8080 }] } }],
  ["containerPort a string", { spec: { containers: [{ name: "a", ports: [{ containerPort: "8080" }] }] } }],
  ["labels with a number", { metadata: { labels: { a: 1 } }, spec: { containers: [] } }],
  ["annotations a list", { metadata: { annotations: ["x"] }, spec: { containers: [] } }],
  ["volumes without names", { spec: { containers: [], volumes: [{}] } }],
  ["initContainers malformed", { spec: { containers: [], initContainers: [null] } }],
  ["hostNetwork a string", { spec: { containers: [], hostNetwork: "true" } }],
];

describe("decodeAdmissionReview", () => {
  it("decodes a well-formed Pod CREATE review", () => {
    const r = decodeAdmissionReview(JSON.stringify(review({ uid: "705ab4f5-6393-11e8-b7cc-42010a800002", dryRun: true })));
    expect(r).toMatchObject({
      ok: true,
      value: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", operation: "CREATE", namespace: "team-a", dryRun: true, subResource: "", name: "" },
    });
  });

  it.each(GARBAGE)("refuses %s with a coded error", (_, body, code) => {
    const r = decodeAdmissionReview(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });

  it("names the bad field", () => {
    expect(decodeAdmissionReview(JSON.stringify(review({ uid: "../../etc" })))).toMatchObject({
      ok: false,
      error: { message: "request.uid: is missing or malformed" },
    });
    expect(decodeAdmissionReview(JSON.stringify(review({ operation: "PATCH" })))).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining("request.operation: must be CREATE") as string },
    });
    expect(decodeAdmissionReview("[]")).toMatchObject({ ok: false, error: { message: "expected an AdmissionReview of admission.k8s.io/v1" } });
    const r = decodeAdmissionReview(JSON.stringify(review({ object: { spec: { containers: [{ image: "x" }] } } })));
    if (r.ok) expect(podOf(r.value)).toMatchObject({ ok: false, error: { message: "request.object is not a Pod: spec.containers[0].name: must be a string" } });
    expect(r.ok).toBe(true);
  });

  it("passes the pod object through untouched when it is valid", () => {
    const r = decodeAdmissionReview(JSON.stringify(review()));
    if (!r.ok) throw new Error("expected a valid review");
    const p = podOf(r.value);
    expect(p).toMatchObject({ ok: true });
    if (p.ok) expect(p.value).toBe(r.value.object);
  });

  it.each(BAD_PODS)("podOf refuses a pod with %s", (_, object) => {
    const r = decodeAdmissionReview(JSON.stringify(review({ object })));
    expect(r.ok).toBe(true);
    if (r.ok) expect(podOf(r.value)).toMatchObject({ ok: false, error: { code: "ADMISSION_BAD_OBJECT" } });
  });
});

describe("handleAdmission with bad input", () => {
  it.each(GARBAGE)("answers 400 with the code for %s", async (_, body, code) => {
    const answer = await handleAdmission(body, deps);
    expect(answer).toMatchObject({ status: 400, body: { code } });
    expect(answer.outcome).toBeUndefined();
  });

  it.each(BAD_PODS.slice(1))("answers 400 for a pod with %s", async (_, object) => {
    const answer = await handleAdmission(JSON.stringify(review({ object })), deps);
    expect(answer).toMatchObject({ status: 400, body: { code: "ADMISSION_BAD_OBJECT" } });
  });

  it("allows anything that is not a Pod CREATE without looking at it", async () => {
    for (const overrides of [
      { operation: "UPDATE" },
      { operation: "DELETE", object: null },
      { resource: { group: "apps", version: "v1", resource: "deployments" } },
      { subResource: "status" },
    ]) {
      const answer = await handleAdmission(JSON.stringify(review(overrides)), deps);
      expect(answer.status).toBe(200);
      expect(responseOf(answer.body)).toMatchObject({ allowed: true });
      expect(responseOf(answer.body).patch).toBeUndefined();
    }
  });

  it("refuses (retryably) rather than admitting unprotected when the namespace cannot be read", async () => {
    const refused = new Error("connection refused");
    const failing = { ...deps, namespaceLabels: () => Promise.reject(refused) };
    const answer = await handleAdmission(JSON.stringify(review()), failing);
    expect(responseOf(answer.body)).toMatchObject({ allowed: false, status: { code: 500 } });
    expect(responseOf(answer.body).status?.message).toContain("cannot read the labels of namespace team-a");
    expect(answer.outcome).toMatchObject({ result: "error", reason: "namespace_lookup_failed" });
    expect(answer.outcome?.cause).toBe(refused);
  });

  it("refuses with a 500-coded answer on an internal error and keeps the exception as the cause", async () => {
    const broken = { ...deps, config: null as unknown as typeof deps.config };
    const answer = await handleAdmission(JSON.stringify(review()), broken);
    expect(responseOf(answer.body)).toMatchObject({ allowed: false, status: { code: 500, message: "vigil: internal error while injecting the sidecar" } });
    expect(answer.outcome).toMatchObject({ result: "error", reason: "internal_error" });
    expect(answer.outcome?.cause).toBeInstanceOf(TypeError);
    expect(JSON.stringify(answer.body)).not.toContain("TypeError");
  });

  it("echoes the request uid and reports the outcome for logs and metrics", async () => {
    const body = review({ uid: "abc-123" });
    const answer = await handleAdmission(JSON.stringify(body), deps);
    expect(answer.body).toMatchObject({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "abc-123", allowed: true, patchType: "JSONPatch" },
    });
    expect(answer.outcome).toMatchObject({ result: "injected", reason: "namespace_enabled", namespace: "team-a", pod: "web" });
  });

  it("warns when a pod in an opted-in namespace runs without the sidecar", async () => {
    const p = pod(withPorts(8080));
    p.spec!.hostNetwork = true;
    const answer = await handleAdmission(JSON.stringify(admissionReview(p)), deps);
    const response = responseOf(answer.body);
    expect(response.warnings?.[0]).toContain("WITHOUT the Vigil sidecar");
    expect(patchOf(response)).toEqual([{ op: "add", path: "/metadata/annotations", value: { "vigil.dev/injection-status": "skipped: host_network" } }]);
  });
});

describe("response builders", () => {
  it("allowed, denied and errored say what the API server needs", () => {
    expect(allowed()).toEqual({ allowed: true });
    expect(denied("no")).toEqual({ allowed: false, status: { code: 403, message: "no", reason: "Forbidden" } });
    expect(errored(500, "boom")).toEqual({ allowed: false, status: { code: 500, message: "boom" } });
  });

  it("patched encodes the patch as base64 JSON, and an empty patch is a plain allow", () => {
    const r = patched([{ op: "add", path: "/metadata/labels", value: { a: "b" } }], ["careful"]);
    expect(r.patchType).toBe("JSONPatch");
    expect(JSON.parse(Buffer.from(r.patch ?? "", "base64").toString("utf8"))).toEqual([{ op: "add", path: "/metadata/labels", value: { a: "b" } }]);
    expect(r.warnings).toEqual(["careful"]);
    expect(patched([])).toEqual({ allowed: true });
  });

  it("reviewResponse wraps the response with the uid", () => {
    expect(reviewResponse("u1", allowed())).toEqual({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u1", allowed: true } });
  });
});
