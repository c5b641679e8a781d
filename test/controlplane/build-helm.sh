#!/usr/bin/env bash
# Builds the helm v3 CLI from Go modules into a version-keyed cache outside the repository
# (a sibling of the control-plane binaries' cache), and does nothing when it is already there.
# Usage: build-helm.sh            (prints the path of the helm binary on success)
# HELM_BIN set to an executable skips the build and prints it (for machines that have helm).
# A cold build (module download + compile) takes minutes on 2 cores; run it in the background.
set -euo pipefail
helm_version="v3.21.4"

if [ -n "${HELM_BIN:-}" ] && [ -x "${HELM_BIN}" ]; then echo "$HELM_BIN"; exit 0; fi

cache_root="${LICENSEGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/licensegate}"
out="$cache_root/helm-${helm_version}"
if [ -x "$out/helm" ]; then echo "$out/helm"; exit 0; fi
mkdir -p "$out"

# No toolchain download is reachable here: build with the machine's go. Modules come from the
# module proxy and are verified against the checksum database as usual by `go install`.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

echo "building helm ${helm_version} into $out (this takes minutes on a cold cache)" >&2
start=$SECONDS
# The Kubernetes version helm assumes for `helm template`/`helm lint` without a cluster
# (.Capabilities.KubeVersion) is stamped from the client-go it is built with, as helm's
# Makefile does; unstamped it would claim v1.20.
modfile="$(go mod download -json "helm.sh/helm/v3@${helm_version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
client_go="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$modfile" | head -1)"
kube_major=1 kube_minor="${client_go:-33}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version} \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${kube_major} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${kube_minor} \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${kube_major} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${kube_minor}"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${helm_version}"
mv "$tmp/helm" "$out/helm"
echo "built helm ${helm_version} in $((SECONDS - start))s" >&2
echo "$out/helm"
