# Shared by every script: where kiln's tools live and which node runs.
# Sourced, not executed. Tools are cached OUTSIDE the clone so CI on the same machine reuses them.
# shellcheck shell=bash
KILN_TOOLS="${KILN_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}"
export KILN_TOOLS
# Pinned versions: bump here, nowhere else.
KILN_NODE_VERSION=24.21.0
KILN_MLFLOW_VERSION=3.17.2
KILN_SKLEARN_VERSION=1.9.1
# kserve SDK in the scikit-learn runtime test image (test/rig/images); 0.20 matches the CRD fixture.
KILN_KSERVE_VERSION=0.20.0
KILN_COSIGN_VERSION=v2.6.5
KILN_CRANE_VERSION=v0.22.1
KILN_APIEXT_VERSION=v0.36.3
# Kubernetes control plane for the cluster rig; must match test/rig/go/kube/go.mod (KServe's
# controller is pinned in test/rig/go/kserve/go.mod, at KILN_KSERVE_VERSION).
KILN_KUBE_VERSION=v1.36.3
# What kiln's own image (scripts/image) takes from Debian bookworm: the libraries node links against.
KILN_IMAGE_DEBS="libc6=2.36-9+deb12u14 libgcc-s1=12.2.0-14+deb12u1 libstdc++6=12.2.0-14+deb12u1"
# Built from the Go module proxy for the deploy/ manifests' tests (scripts/setup kube).
KILN_HELM_VERSION=v4.3.2
KILN_KUSTOMIZE_VERSION=v5.8.1
KILN_PROMOP_VERSION=v0.85.0
export PATH="$KILN_TOOLS/bin:$PATH"
export KILN_PYTHON="$KILN_TOOLS/venv/bin/python"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
log() { printf '[kiln setup] %s\n' "$*" >&2; }
