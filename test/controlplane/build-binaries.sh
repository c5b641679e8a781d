#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from Go modules into a
# version-keyed cache outside the repository, and does nothing when they are already there.
# Usage: build-binaries.sh [--node]   (prints the cache directory on success)
#   --node also builds kube-scheduler, kubelet and kube-proxy (the harness's optional node).
# A cold build takes many minutes on 2 cores; run it in the background and poll.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kube_version="$(sed -n 's/^require k8s.io\/kubernetes v//p' "$here/go/kube/go.mod")"
etcd_version="$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 v//p' "$here/go/etcd/go.mod")"
cache_root="${LICENSEGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/licensegate}"
out="$cache_root/k8s-v${kube_version}-etcd-v${etcd_version}"
mkdir -p "$out"

# No toolchain download is reachable here; go.sum is committed, so modules verify against it.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

build() { # $1 = module dir, $2 = package, $3 = output name, $4 = extra ldflags
  if [ -x "$out/$3" ]; then return 0; fi
  echo "building $3 into $out (this takes minutes on a cold cache)" >&2
  local start=$SECONDS
  (cd "$here/go/$1" && go build -trimpath -ldflags "-s -w $4" -o "$out/$3.partial" "$2")
  mv "$out/$3.partial" "$out/$3"
  echo "built $3 in $((SECONDS - start))s" >&2
}

minor="$(echo "$kube_version" | cut -d. -f2)"
stamp="-X k8s.io/component-base/version.gitVersion=v${kube_version} \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

build etcd go.etcd.io/etcd/server/v3 etcd ""
build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$stamp"
build kube k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager "$stamp"
# kubectl of the same version, so tests and `npm start` need no kubectl on the machine.
build kube k8s.io/kubernetes/cmd/kubectl kubectl "$stamp"
if [ "${1:-}" = "--node" ]; then
  build kube k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler "$stamp"
  build kube k8s.io/kubernetes/cmd/kubelet kubelet "$stamp"
  build kube k8s.io/kubernetes/cmd/kube-proxy kube-proxy "$stamp"
fi
echo "$out"
