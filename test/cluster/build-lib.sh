# Shared by build-control-plane.sh and build-node.sh (sourced, not run): the cache root, the Kubernetes version, the
# one build lock (two cores: one Go build at a time, whichever script runs), and the go.mod that builds commands of
# k8s.io/kubernetes from the Go module proxy.
CACHE_ROOT="${VIGIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}"
K8S_VERSION="${VIGIL_K8S_VERSION:-1.36.3}"

# Takes the build lock on fd 9 (released when the script exits).
build_lock() {
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/build.lock"
  flock 9
}

# k8s_module DIR PACKAGE...: a module in DIR requiring k8s.io/kubernetes at K8S_VERSION whose tools.go imports the
# given command packages. k8s.io/kubernetes points its staging modules at ./staging; they are replaced with their
# published tags.
k8s_module() {
  local dir="$1"; shift
  local staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
    cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
    kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
    mount-utils pod-security-admission streaming)
  mkdir -p "$dir"
  {
    echo "module vigil.dev/k8s-tools"
    echo "go 1.26.0"
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    for m in "${staging[@]}"; do echo "replace k8s.io/$m => k8s.io/$m v0.${K8S_VERSION#1.}"; done
  } > "$dir/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for p in "$@"; do printf '\t_ "%s"\n' "$p"; done
    printf ')\n'
  } > "$dir/tools.go"
}

# ldflags that stamp the Kubernetes version into the binaries (as the upstream release build does).
k8s_ldflags() {
  echo "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
}
