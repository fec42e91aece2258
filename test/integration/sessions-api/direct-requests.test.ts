/**
 * Requests that do NOT come through the aggregator, straight to the sessions API's port, with the harness's real
 * certificates: without a client certificate, with one the cluster CA signed (valid for kube-apiserver, not a
 * front proxy), with one the front-proxy CA signed for a name that is not allowed, with the real front-proxy
 * certificate but no user — every one 401, whatever X-Remote-User says. With the real front-proxy certificate
 * (what kube-apiserver presents), the user it names is authorized by a SubjectAccessReview of this server's own
 * (403 for a user RBAC does not allow). Bad input of every kind gets a Status and never stops the server.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { watchAuthConfig, type AuthConfigWatch } from "../../../operator/sessions-api/authn/config-source.ts";
import { AccessReviewer, subjectAccessReview } from "../../../operator/sessions-api/authz/access-review.ts";
import { SessionIndex } from "../../../operator/sessions-api/index/session-index.ts";
import { startSessionsServer, type SessionsServer } from "../../../operator/sessions-api/server.ts";
import { requestTermination } from "../../../operator/sessions-api/terminate.ts";
import { generateWebhookCerts } from "../../../operator/webhook/certs.ts";
import { clusterEnv, type ClusterEnv } from "../../cluster/env.ts";
import { kubectl, kubectlOk } from "../support/kubectl.ts";
import { newSessionId, seen } from "./rig.ts";

const id = randomBytes(3).toString("hex");
const NS = `direct-${id}`;
const JANE = `jane-direct-${id}`;

interface Answer {
  status: number;
  body: string;
  json: () => { kind?: string; code?: number; reason?: string; message?: string; items?: unknown[] };
}

interface Identity {
  cert?: string;
  key?: string;
}

describe("requests that bypass the aggregator", () => {
  let env: ClusterEnv;
  let server: SessionsServer;
  let auth: AuthConfigWatch;
  let caPem: string;
  const index = new SessionIndex();
  const session = newSessionId();

  const call = (path: string, who: Identity, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server.port,
          path,
          method,
          ca: caPem,
          servername: "localhost",
          headers: body === undefined ? headers : { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
          ...(who.cert === undefined ? {} : { cert: who.cert, key: who.key }),
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) as ReturnType<Answer["json"]> });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  const read = (path: string): string => readFileSync(path, "utf8");
  let frontProxy: Identity;
  let otherName: Identity;
  let clusterAdmin: Identity;
  const spoofed = { "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters" };
  const list = `/apis/sessions.vigil.dev/v1alpha1/namespaces/${NS}/vigilsessions`;

  beforeAll(async () => {
    env = clusterEnv();
    await kubectlOk(env, ["create", "namespace", NS]);
    const pki = env.frontProxy;
    if (pki === undefined) throw new Error("the harness started no front proxy");
    frontProxy = { cert: read(pki.clientCert), key: read(pki.clientKey) };
    otherName = { cert: read(pki.otherCert), key: read(pki.otherKey) };
    clusterAdmin = { cert: read(join(env.dir, "admin.crt")), key: read(join(env.dir, "admin.key")) };
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    const log = createLogger({ name: "vigil-operator", level: "silent" });
    const { ca, serving } = await generateWebhookCerts({ service: "sessions", namespace: NS, extraDnsNames: ["localhost"] });
    caPem = ca.certPem;
    auth = watchAuthConfig(kc, log, (config) => {
      server.setClientCa(config.caPem);
    });
    await auth.synced;
    const customObjects = kc.makeApiClient(CustomObjectsApi);
    server = await startSessionsServer({
      source: index,
      tls: { cert: serving.certPem, key: serving.keyPem },
      host: "127.0.0.1",
      authConfig: auth.current,
      reviewer: new AccessReviewer(subjectAccessReview(kc)),
      terminate: (ns, sid, user, dryRun) => requestTermination(customObjects, ns, sid, user, dryRun),
      log,
      registry: new Registry(),
    });
    index.upsertSession(seen(session, NS));
  });

  afterAll(async () => {
    await server.close();
    await auth.stop();
    await kubectl(env, ["delete", "namespace", NS, "--wait=false"]);
  });

  describe("refused with 401, whatever X-Remote-User says", () => {
    it.each([
      ["no client certificate", {}],
      ["a client certificate of the cluster CA (valid for kube-apiserver, not a front proxy)", "clusterAdmin"],
      ["a front-proxy CA certificate whose name is not in requestheader-allowed-names", "otherName"],
    ] as const)("%s", async (_what, who) => {
      const identity = who === "clusterAdmin" ? clusterAdmin : who === "otherName" ? otherName : {};
      for (const path of [list, `${list}/${session}`, "/apis/sessions.vigil.dev/v1alpha1", "/openapi/v3"]) {
        const answer = await call(path, identity, spoofed);
        expect(answer.status, path).toBe(401);
        expect(answer.json()).toMatchObject({ kind: "Status", code: 401, reason: "Unauthorized" });
        expect(answer.body).not.toContain(session);
      }
      const del = await call(`${list}/${session}`, identity, spoofed, "DELETE");
      expect(del.status).toBe(401);
      expect(index.get(NS, session)).toBeDefined();
    });

    it("the real front-proxy certificate without a user header", async () => {
      expect((await call(list, frontProxy, { "X-Remote-Group": "system:masters" })).status).toBe(401);
    });

    it("probes need no authentication and reveal nothing", async () => {
      const answer = await call("/healthz", {});
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("ok\n");
    });
  });

  describe("with the front proxy's certificate: this server's own SubjectAccessReview decides", () => {
    it("serves system:masters", async () => {
      const answer = await call(list, frontProxy, spoofed);
      expect(answer.status).toBe(200);
      expect(answer.json().items).toHaveLength(1);
    });

    it("serves metadata only to metadata clients (kube-controller-manager's garbage collector lists and watches every deletable resource)", async () => {
      const accept =
        "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
      const answer = await call(list, frontProxy, { ...spoofed, Accept: accept });
      expect(answer.json()).toMatchObject({
        kind: "PartialObjectMetadataList",
        apiVersion: "meta.k8s.io/v1",
        items: [{ kind: "PartialObjectMetadata", metadata: { name: session, namespace: NS } }],
      });
      expect(answer.body).not.toContain("identity");
    });

    it("refuses a user RBAC does not allow with 403 naming user, verb and namespace; allows them once bound", async () => {
      const jane = { "X-Remote-User": JANE, "X-Remote-Group": "system:authenticated" };
      const refused = await call(list, frontProxy, jane);
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({
        reason: "Forbidden",
        message: expect.stringContaining(
          `User "${JANE}" cannot list resource "vigilsessions" in API group "sessions.vigil.dev" in the namespace "${NS}"`,
        ) as unknown,
      });
      // (No APIService here, so kubectl cannot check the resource name: apply the Role as a manifest.)
      const role = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-sessions}
rules: [{apiGroups: [sessions.vigil.dev], resources: [vigilsessions], verbs: [get, list]}]
`;
      await kubectlOk(env, ["apply", "-f", "-"], { namespace: NS, input: role });
      await kubectlOk(env, ["create", "rolebinding", "jane-reads", "--role=read-sessions", `--user=${JANE}`], { namespace: NS });
      // Decisions are cached for 10 s: ask for the object (a different review) rather than the list again.
      const allowed = await vi.waitFor(
        async () => {
          const a = await call(`${list}/${session}`, frontProxy, jane);
          expect(a.status).toBe(200);
          return a;
        },
        { timeout: 15_000, interval: 250 },
      );
      expect(allowed.json()).toMatchObject({ kind: "VigilSession" });
      expect((await call(`${list}/${session}`, frontProxy, jane, "DELETE")).status).toBe(403);
      expect((await call(`/apis/sessions.vigil.dev/v1alpha1/vigilsessions`, frontProxy, jane)).json()).toMatchObject({
        code: 403,
        message: expect.stringContaining("at the cluster scope") as unknown,
      });
    });
  });

  describe("large watches", () => {
    it("streams the whole initial state of a watch-list (3,000 sessions, far beyond the socket's buffer) and then the end marker", async () => {
      const bulk = `bulk-${id}`;
      for (let i = 0; i < 3000; i++) index.upsertSession(seen(newSessionId(), bulk));
      const path = `/apis/sessions.vigil.dev/v1alpha1/namespaces/${bulk}/vigilsessions?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=2`;
      const accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
      const answer = await call(path, frontProxy, { ...spoofed, Accept: accept });
      const events = answer.body
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; object: { kind: string; metadata: { annotations?: Record<string, string> } } });
      expect(events.filter((e) => e.type === "ADDED")).toHaveLength(3000);
      expect(events[0]?.object.kind).toBe("PartialObjectMetadata");
      expect(events[3000]).toMatchObject({ type: "BOOKMARK", object: { metadata: { annotations: { "k8s.io/initial-events-end": "true" } } } });
      const plain = await call(`/apis/sessions.vigil.dev/v1alpha1/namespaces/${bulk}/vigilsessions?watch=true&timeoutSeconds=1`, frontProxy, spoofed);
      expect(plain.body.trim().split("\n")).toHaveLength(3000);
    });
  });

  describe("bad input never stops the server", () => {
    const masters = spoofed;
    it.each([
      ["PUT on an object", "PUT", `${list}/x`, 405, "MethodNotAllowed"],
      ["POST to the collection", "POST", list, 405, "MethodNotAllowed"],
      ["DELETE of the collection", "DELETE", list, 405, "MethodNotAllowed"],
      ["a subresource", "GET", `${list}/x/status`, 404, "NotFound"],
      ["another group", "GET", "/apis/apps/v1/deployments", 404, "NotFound"],
      ["a bad namespace", "GET", "/apis/sessions.vigil.dev/v1alpha1/namespaces/NOT_A_NAME/vigilsessions", 400, "BadRequest"],
      ["a bad limit", "GET", `${list}?limit=-1`, 400, "BadRequest"],
      ["a bad resourceVersion", "GET", `${list}?resourceVersion=abc`, 400, "BadRequest"],
      ["a bad escape in a field selector", "GET", `${list}?fieldSelector=user%3Da%5Cb`, 400, "BadRequest"],
      ["a field selector term without an operator", "GET", `${list}?fieldSelector=user`, 400, "BadRequest"],
      ["a broken percent-encoding", "GET", `${list}/%E0%A4%A`, 404, "NotFound"],
      ["a continue token from elsewhere", "GET", `${list}?continue=eyJ2IjoxfQ`, 400, "BadRequest"],
      ["resourceVersionMatch on a watch", "GET", `${list}?watch=1&resourceVersionMatch=Exact`, 400, "BadRequest"],
      ["a future resource version", "GET", `${list}?resourceVersion=99999999999999999`, 504, "Timeout"],
    ] as const)("%s", async (_what, method, path, code, reason) => {
      const answer = await call(path, frontProxy, masters, method);
      expect(answer.status).toBe(code);
      expect(answer.json()).toMatchObject({ kind: "Status", code, reason });
    });

    it("answers 406 to a client that accepts only protobuf, 400 to a DELETE body that is not DeleteOptions, and keeps serving", async () => {
      const proto = await call(list, frontProxy, { ...masters, Accept: "application/vnd.kubernetes.protobuf" });
      expect(proto.json()).toMatchObject({ code: 406, reason: "NotAcceptable" });
      const badBody = await call(`${list}/${session}`, frontProxy, { ...masters, "Content-Type": "application/json" }, "DELETE", "{not json");
      expect(badBody.json()).toMatchObject({ code: 400, message: "the request body is not a JSON DeleteOptions" });
      const uid = await call(
        `${list}/${session}`,
        frontProxy,
        { ...masters, "Content-Type": "application/json" },
        "DELETE",
        JSON.stringify({ preconditions: { uid: "other" } }),
      );
      expect(uid.json()).toMatchObject({ code: 409, reason: "Conflict" });
      const big = await call(`${list}/${session}`, frontProxy, masters, "DELETE", "x".repeat(70_000));
      expect(big.json()).toMatchObject({ code: 413 });
      expect((await call(list, frontProxy, masters)).status).toBe(200);
      expect(index.get(NS, session)).toBeDefined();
    });
  });
});
