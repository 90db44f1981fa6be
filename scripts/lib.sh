# Shared by every script: where kiln's tools live and which node runs.
# Sourced, not executed. Tools are cached OUTSIDE the clone so CI on the same machine reuses them.
# shellcheck shell=bash
KILN_TOOLS="${KILN_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}"
export KILN_TOOLS
# Pinned versions: bump here, nowhere else.
KILN_NODE_VERSION=24.21.0
# An older Node, only for the test that kiln's launcher refuses it with a clear message.
KILN_OLD_NODE_VERSION=20.19.5
KILN_MLFLOW_VERSION=3.17.2
KILN_SKLEARN_VERSION=1.9.1
# kserve SDK in the scikit-learn runtime test image (test/rig/images); 0.20 matches the CRD fixture.
KILN_KSERVE_VERSION=0.20.0
KILN_COSIGN_VERSION=v2.6.5
# cosign v3 (Sigstore bundles as OCI referrers), installed as `cosign3` next to v2's `cosign`.
KILN_COSIGN3_VERSION=v3.1.2
KILN_CRANE_VERSION=v0.22.1
KILN_APIEXT_VERSION=v0.36.3
# Scan venv (issue 9): the libraries the allowlist packs are generated from, the benign/malicious
# test corpus is built with, and the peer scanners bench/scan.ts compares against. Never torch.
KILN_SCAN_PINS="numpy==2.4.6 pandas==3.1.1 scipy==1.17.1 scikit-learn==1.9.1 xgboost-cpu==3.2.0 lightgbm==4.7.0 joblib==1.6.0 cloudpickle==3.1.3 skops==0.16.0 picklescan==1.0.5 modelscan==0.8.8 fickling==0.1.12 typing_extensions==4.16.0"
export KILN_SCAN_PYTHON="$KILN_TOOLS/venv-scan/bin/python"
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
