#!/usr/bin/env bash
# Everything the test suite needs beyond node_modules, installed only when missing (so a
# second run costs a second): Debian's registry and skopeo for the pull-secret tests, helm,
# and the control-plane binaries (both built from Go modules into a cache outside the repo).
# As root on Linux (unless LICENSEGATE_E2E=0) also what the end-to-end suite's node needs:
# containerd, runc, CNI plugins, iptables, busybox-static (test images), buildah and debootstrap
# (the operator image), and kube-scheduler, kubelet and kube-proxy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
node=0
if [ "$(uname -s)" = Linux ] && [ "$(id -u)" -eq 0 ] && [ "${LICENSEGATE_E2E:-}" != "0" ] && [ "${LICENSEGATE_TEST_USE_KUBECONFIG:-}" != "1" ]; then
  node=1
  [ -x /usr/bin/containerd ] || missing+=(containerd)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)   # static: it is the whole test image
  [ -x /usr/bin/buildah ] || missing+=(buildah)
  [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test setup: please install ${missing[*]} (Debian packages), e.g. sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# helm renders and installs the chart in the tests (HELM_BIN skips the build).
if [ -z "${HELM_BIN:-}" ]; then
  bash test/controlplane/build-helm.sh >/dev/null
fi

if [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ "${LICENSEGATE_TEST_USE_KUBECONFIG:-}" != "1" ]; then
  if [ "$node" = 1 ]; then
    bash test/controlplane/build-binaries.sh --node >/dev/null
  else
    bash test/controlplane/build-binaries.sh >/dev/null
  fi
fi
