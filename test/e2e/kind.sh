#!/usr/bin/env bash
# The Vigil journey against real pods in a kind cluster, for machines with a Docker engine (it cannot run on the
# project's development machines: they have none). It follows the journey the integration tests run on the local
# control plane (test/integration/…): policy applied with kubectl, an allowed user passes and a denied one gets 403,
# a long-lived connection is held open, `kubectl create` a SessionTermination, the connection drops, the next
# request is refused (401) and the termination shows Completed.
#
#   test/e2e/kind.sh                 # create the cluster, run the journey, delete the cluster
#   KEEP_CLUSTER=1 test/e2e/kind.sh  # leave the cluster up afterwards (kind delete cluster --name vigil-e2e)
#
# Needs: docker, kind, kubectl, helm, and Node 24 (the repository's `npm ci` provides node_modules/.bin/node).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${VIGIL_KIND_CLUSTER:-vigil-e2e}"
IMAGE_REPO="vigil"
IMAGE_TAG="e2e"
APP_IMAGE="vigil-sample-app:e2e"
RELEASE="vigil"
VIGIL_NS="vigil-system"
APP_NS="shop"
LOCAL_PORT="${VIGIL_E2E_PORT:-18080}"
SIDECAR_PORT=15080
TCP_ECHO_PORT=7000
NODE="${REPO}/node_modules/.bin/node"
[[ -x "${NODE}" ]] || NODE="node"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vigil-kind-e2e.XXXXXX")"
PORT_FORWARD_PID=""
TUNNEL_PID=""

now_ms() { "${NODE}" -e 'process.stdout.write(String(Date.now()))'; }
log() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

stop_pid() {
  local pid="$1"
  if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  fi
}

cleanup() {
  local status=$?
  stop_pid "${TUNNEL_PID}"
  stop_pid "${PORT_FORWARD_PID}"
  if [[ "${status}" -ne 0 ]]; then
    printf '\n--- diagnostics ---\n' >&2
    kubectl get pods -A -o wide >&2 || true
    kubectl -n "${VIGIL_NS}" logs -l app.kubernetes.io/component=operator --tail=50 >&2 || true
    kubectl -n "${APP_NS}" logs -l app=shop --all-containers --tail=50 >&2 || true
  fi
  if [[ "${KEEP_CLUSTER:-0}" != "1" ]]; then
    kind delete cluster --name "${CLUSTER}" >/dev/null 2>&1 || true
  fi
  rm -rf "${WORK}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require() {
  local tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || fail "${tool} is required (see test/e2e/README.md)"
  done
}

# Polls "$@" once a second until it succeeds, at most $1 times.
retry() {
  local attempts="$1"
  shift
  local i
  for ((i = 0; i < attempts; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

# HTTP status of GET / through the sidecar, as the holder of token $1 (empty: no token).
status_of() {
  local token="$1"
  local auth=()
  [[ -n "${token}" ]] && auth=(-H "Authorization: Bearer ${token}")
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${auth[@]}" "http://127.0.0.1:${LOCAL_PORT}/"
}

expect_status() {
  local who="$1" token="$2" want="$3" got
  got="$(status_of "${token}")"
  [[ "${got}" == "${want}" ]] || fail "${who}: expected HTTP ${want}, got ${got}"
  printf '    %-34s HTTP %s (expected %s)\n' "${who}" "${got}" "${want}"
}

# Port-forward to the sidecar's port of the app's pod (re-started when a reset tunnel took it down). The pod, not
# the Service: kubectl resolves a Service's named targetPort only among regular containers, and the sidecar is a
# native sidecar (an init container); the Service itself is checked to select the sidecar port below.
port_forward() {
  stop_pid "${PORT_FORWARD_PID}"
  local pod
  pod="$(kubectl -n "${APP_NS}" get pod -l app=shop -o jsonpath='{.items[0].metadata.name}')"
  kubectl -n "${APP_NS}" port-forward "pod/${pod}" "${LOCAL_PORT}:${SIDECAR_PORT}" >"${WORK}/port-forward.log" 2>&1 &
  PORT_FORWARD_PID=$!
  retry 30 curl -s -o /dev/null --max-time 2 "http://127.0.0.1:${LOCAL_PORT}/" || fail "port-forward did not come up: $(cat "${WORK}/port-forward.log")"
}

require docker kind kubectl helm curl
"${NODE}" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' || fail "Node 24 is required (run npm ci)"

log "kind cluster ${CLUSTER}"
kind create cluster --name "${CLUSTER}" --wait 120s
kubectl config use-context "kind-${CLUSTER}" >/dev/null

log "images ${IMAGE_REPO}:${IMAGE_TAG} and ${APP_IMAGE} (docker build, kind load)"
docker build -t "${IMAGE_REPO}:${IMAGE_TAG}" "${REPO}"
# The sample app of the node journey (test/integration/node/journey.test.ts): HTTP + WebSocket echo on 8080, TCP echo
# on 127.0.0.1:7000.
docker build -t "${APP_IMAGE}" "${REPO}/test/cluster/images/sample-app"
kind load docker-image "${IMAGE_REPO}:${IMAGE_TAG}" "${APP_IMAGE}" --name "${CLUSTER}"

log "token issuer (inline JWKS) and the protected namespace ${APP_NS}"
"${NODE}" "${REPO}/test/e2e/identity.ts" init "${WORK}"
kubectl create namespace "${APP_NS}"
kubectl label namespace "${APP_NS}" vigil.dev/injection=enabled

log "helm install ${RELEASE} (bundled Redis)"
helm install "${RELEASE}" "${REPO}/charts/vigil" \
  --namespace "${VIGIL_NS}" --create-namespace \
  --values "${WORK}/issuer-values.json" \
  --set image.repository="${IMAGE_REPO}" \
  --set image.tag="${IMAGE_TAG}" \
  --set image.pullPolicy=Never \
  --set sidecar.image.pullPolicy=Never \
  --set "injection.namespaces={${APP_NS}}" \
  --wait --timeout 5m
# The operator fills in the webhook's caBundle once it generated its certificate; pods created before that would
# be refused (failurePolicy Fail), so wait for it.
webhook_ca() {
  local ca
  ca="$(kubectl get mutatingwebhookconfigurations -l "app.kubernetes.io/instance=${RELEASE}" -o jsonpath='{.items[0].webhooks[0].clientConfig.caBundle}')"
  [[ -n "${ca}" ]]
}
retry 60 webhook_ca || fail "the webhook's caBundle was never filled in"
operators_ready="$(kubectl -n "${VIGIL_NS}" get deployment "${RELEASE}-operator" -o jsonpath='{.status.readyReplicas}')"
[[ "${operators_ready}" == "2" ]] || fail "expected 2 operator replicas Ready, got ${operators_ready}"
leader() { kubectl -n "${VIGIL_NS}" get lease "${RELEASE}-operator" -o jsonpath='{.spec.holderIdentity}'; }
retry 30 test -n "$(leader)" || fail "no operator holds the lease"
echo "    2 operator replicas Ready; leader $(leader)"

log "sample app: HTTP + WebSocket echo on 8080 and a TCP echo on 127.0.0.1:${TCP_ECHO_PORT} (${APP_IMAGE})"
kubectl apply -n "${APP_NS}" -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
      annotations:
        vigil.dev/upstream-port: "8080"
    spec:
      containers:
        - name: app
          image: ${APP_IMAGE}
          imagePullPolicy: Never
          ports: [{name: http, containerPort: 8080}]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - name: http
      port: 80
      targetPort: vigil-proxy
YAML
kubectl -n "${APP_NS}" rollout status deployment/shop --timeout=180s
injected="$(kubectl -n "${APP_NS}" get pod -l app=shop -o jsonpath='{.items[0].metadata.annotations.vigil\.dev/injection-status}')"
[[ "${injected}" == "injected" ]] || fail "the app's pod was not injected: ${injected}"
ready_containers="$(kubectl -n "${APP_NS}" get pod -l app=shop --no-headers | awk '{print $2}')"
[[ "${ready_containers}" == "2/2" ]] || fail "the app's pod is ${ready_containers}, not 2/2"
# The app asks the sidecar's /readyz when it starts: the native sidecar was Ready before the app.
kubectl -n "${APP_NS}" logs deploy/shop -c app | grep -q '"sidecarReadyAtStart":true' || fail "the app started before the sidecar was ready"
endpoint_port="$(kubectl -n "${APP_NS}" get endpointslices -l kubernetes.io/service-name=shop -o jsonpath='{.items[0].ports[0].port}')"
[[ "${endpoint_port}" == "${SIDECAR_PORT}" ]] || fail "Service shop points at port ${endpoint_port}, not the sidecar's ${SIDECAR_PORT}"
echo "    pod injected; Service shop → sidecar port ${endpoint_port}"

log "AccessPolicy: group engineers may GET and tunnel to ${TCP_ECHO_PORT}"
kubectl apply -n "${APP_NS}" -f - <<YAML
apiVersion: vigil.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: shop-engineers
spec:
  selector:
    matchLabels: {app: shop}
  rules:
    - name: engineers-read
      action: Allow
      identities: [{group: engineers}]
      requests: [{methods: [GET], paths: ["/*"]}]
    - name: engineers-tunnel
      action: Allow
      identities: [{group: engineers}]
      requests: [{methods: [CONNECT], ports: [${TCP_ECHO_PORT}]}]
YAML
kubectl -n "${APP_NS}" wait --for=condition=Ready accesspolicy/shop-engineers --timeout=60s

log "tokens and requests through the sidecar"
ALICE="$("${NODE}" "${REPO}/test/e2e/identity.ts" token "${WORK}" alice engineers)"
BOB="$("${NODE}" "${REPO}/test/e2e/identity.ts" token "${WORK}" bob interns)"
port_forward
# The sidecar may need a moment to see the policy on the bus.
alice_admitted() { [[ "$(status_of "${ALICE}")" == "200" ]]; }
retry 30 alice_admitted || true
expect_status "alice (engineers)" "${ALICE}" 200
expect_status "bob (interns)" "${BOB}" 403
expect_status "no token" "" 401

log "a CONNECT tunnel held open as alice"
E2E_TOKEN="${ALICE}" "${NODE}" "${REPO}/test/e2e/hold-tunnel.ts" "${LOCAL_PORT}" "${TCP_ECHO_PORT}" >"${WORK}/tunnel.log" 2>&1 &
TUNNEL_PID=$!
retry 15 grep -q "tunnel open" "${WORK}/tunnel.log" || fail "tunnel did not open: $(cat "${WORK}/tunnel.log")"
echo "    $(cat "${WORK}/tunnel.log")"

log "kubectl create sessiontermination end-alice"
started_ms="$(now_ms)"
kubectl create -n "${APP_NS}" -f - <<YAML
apiVersion: vigil.dev/v1alpha1
kind: SessionTermination
metadata:
  name: end-alice
spec:
  target:
    subject: alice
  reason: kind journey
YAML
retry 10 grep -q "tunnel closed" "${WORK}/tunnel.log" || fail "alice's tunnel is still open 10 s after the termination"
echo "    $(tail -n 1 "${WORK}/tunnel.log") about $(($(now_ms) - started_ms)) ms after kubectl create was started (1 s polling)"
wait "${TUNNEL_PID}" || true
TUNNEL_PID=""

log "alice is refused from now on; the termination completed"
kill -0 "${PORT_FORWARD_PID}" 2>/dev/null || port_forward
expect_status "alice after the termination" "${ALICE}" 401
kubectl -n "${APP_NS}" wait --for=jsonpath='{.status.phase}'=Completed sessiontermination/end-alice --timeout=60s
kubectl -n "${APP_NS}" get sessionterminations

log "journey passed"
