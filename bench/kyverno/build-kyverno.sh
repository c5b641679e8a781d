#!/usr/bin/env bash
# Builds Kyverno's admission controller (cmd/kyverno) from Go modules into a version-keyed
# cache outside the repository (beside helm and the control-plane binaries), and does nothing
# when it is already there. Only `npm run bench:admission -- --kyverno` needs it; CI does not.
# Usage: build-kyverno.sh   (prints the path of the binary on success)
# KYVERNO_BIN set to an executable skips the build and prints it.
# Cold: ~7 min on 2 cores, ~2.75 GB peak memory, a ~225 MiB binary.
set -euo pipefail
# v1.15.2 is the release whose k8s.io modules match the 1.33 control plane the tests run.
kyverno_version="v1.15.2"

if [ -n "${KYVERNO_BIN:-}" ] && [ -x "${KYVERNO_BIN}" ]; then echo "$KYVERNO_BIN"; exit 0; fi

cache_root="${LICENSEGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/licensegate}"
out="$cache_root/kyverno-${kyverno_version}"
if [ -x "$out/kyverno" ]; then echo "$out/kyverno"; exit 0; fi
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "building kyverno ${kyverno_version} into $out (minutes on a cold cache)" >&2
start=$SECONDS
# `go install pkg@version` refuses modules with replace directives, and Kyverno has one
# (k8s.io/pod-security-admission → its fork). So: a wrapper module that starts from Kyverno's
# own go.mod (its requirements and that replace) and go.sum (one module's checksum lookup
# fails without it), and requires Kyverno itself.
src="$(go mod download -json "github.com/kyverno/kyverno@${kyverno_version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
sed 's#^module .*#module licensegate.local/kyverno-build#' "$src/go.mod" > "$tmp/go.mod"
cp "$src/go.sum" "$tmp/go.sum"
chmod u+w "$tmp/go.mod" "$tmp/go.sum"
cat > "$tmp/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/kyverno/kyverno/cmd/kyverno"
GO
(cd "$tmp" && go mod edit -require "github.com/kyverno/kyverno@${kyverno_version}" \
  && go build -trimpath -ldflags "-s -w" -o "$tmp/kyverno" github.com/kyverno/kyverno/cmd/kyverno)
mv "$tmp/kyverno" "$out/kyverno"
echo "built kyverno ${kyverno_version} in $((SECONDS - start))s" >&2
echo "$out/kyverno"
