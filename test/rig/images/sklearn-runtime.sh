#!/usr/bin/env bash
# Root filesystem of the scikit-learn serving runtime, built without any container engine.
# test/rig/images/sklearn-runtime.ts runs the two stages and packs each into one OCI layer:
#   sklearn-runtime.sh base   ROOTFS MIRROR           Debian bookworm minbase + python3 (layer 1)
#   sklearn-runtime.sh python ROOTFS PIP_WHEEL PKG... pip packages + the server (layer 2: /usr/local, /opt)
# Needs root (debootstrap, chroot). Network: the Debian mirror and PyPI only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stage="$1" rootfs="$2"
shift 2

# Commands inside the image's own root, with a clean environment (the host's PATH/PYTHON* must not leak).
in_root() {
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 "$@"
}

stage_base() {
  local mirror="$1"
  # minbase = Essential + apt; python3 pulls only the interpreter and its stdlib (~30 MB).
  debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$mirror" >"$rootfs.debootstrap.log" 2>&1 ||
    { tail -30 "$rootfs.debootstrap.log" >&2; exit 1; }
  # KServe runtimes run as uid 1000 (kserve/sklearnserver's Dockerfile: USER 1000). A passwd entry
  # gives the process a HOME: Python libraries call expanduser("~"), which needs one for non-root.
  echo 'kserve:x:1000:1000:kserve:/home/kserve:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
  echo 'kserve:x:1000:' >>"$rootfs/etc/group"
  install -d -o 1000 -g 1000 -m 0755 "$rootfs/home/kserve"
  # Weight we never need at run time. /dev is populated by the runtime (device nodes do not
  # belong in an image layer); apt lists and caches are re-fetched by `apt-get update` if ever needed.
  rm -rf "$rootfs"/dev/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian "$rootfs"/etc/resolv.conf
  : >"$rootfs/etc/resolv.conf" # the runtime bind-mounts the real one
  rm -f "$rootfs.debootstrap.log"
}

stage_python() {
  local wheel="$1"
  shift
  # pip runs from its own wheel (pip's documented bootstrap), so python3-pip, setuptools and wheel
  # never enter the image. Debian's python installs into /usr/local/lib/python3.11/dist-packages.
  cp "$wheel" "$rootfs/tmp/"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # The host's settings that make PyPI reachable from here (an index mirror, a proxy, the CA bundle
  # of a TLS-inspecting proxy: pip's bundled certifi would not trust it) go into the chroot.
  local pipenv=() v
  for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT \
    HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    if [ -n "${!v:-}" ]; then pipenv+=("$v=${!v}"); fi
  done
  local cert="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
  if [ -f "$cert" ]; then
    cp "$cert" "$rootfs/tmp/pip-ca.crt"
    pipenv+=(PIP_CERT=/tmp/pip-ca.crt)
  fi
  in_root "${pipenv[@]}" python3 "/tmp/$(basename "$wheel")/pip" install --quiet --no-cache-dir --no-warn-script-location \
    --root-user-action=ignore --break-system-packages --disable-pip-version-check "$@"
  rm -f "$rootfs/tmp/$(basename "$wheel")" "$rootfs/tmp/pip-ca.crt"
  : >"$rootfs/etc/resolv.conf"
  # Packages' own test suites (pandas alone ships ~30 MB of them) are never imported at run time.
  find "$rootfs/usr/local/lib" -depth -type d -name tests -path '*-packages/*' -exec rm -rf {} +
  install -d -m 0755 "$rootfs/opt/kiln-runtime"
  install -m 0644 "$here/sklearn_server.py" "$rootfs/opt/kiln-runtime/sklearn_server.py"
  # Byte-compile the server too: uid 1000 cannot write __pycache__ at run time.
  in_root python3 -m compileall -q /opt/kiln-runtime
  in_root python3 -m pip --version >/dev/null 2>&1 && { echo "pip leaked into the image" >&2; exit 1; }
  # What was installed, for the record (the versions resolved today).
  in_root python3 -c 'import importlib.metadata as m; print("\n".join(sorted(d.metadata["Name"] + "==" + d.version for d in m.distributions())))' \
    >"$rootfs/opt/kiln-runtime/installed.txt"
  # Smoke test: the server's imports resolve with the image's own python.
  in_root python3 -c 'import sklearn, kserve, joblib, cloudpickle; import importlib.metadata as m; print("sklearn", sklearn.__version__, "kserve", m.version("kserve"))'
}

case "$stage" in
  base) stage_base "$@" ;;
  python) stage_python "$@" ;;
  *) echo "usage: $0 base|python ROOTFS ..." >&2; exit 2 ;;
esac
