#!/usr/bin/env bash
# Builds local stand-ins for the official images docker/compose.yaml names, for machines that
# reach Debian's package archive but no image registry. Each stand-in keeps the interface of the
# image it replaces (paths, users, environment variables, entry points) so that the shipped
# compose file runs unchanged; test/compose/compose.override.yaml points the services at them.
#
#   shipdeck-local/debian:bookworm-slim     debootstrap (minbase) of Debian 12, imported
#   shipdeck-local/node:20-bookworm-slim    + this machine's Node 20 (Debian 12 ships Node 18)
#   shipdeck-local/node:20-bookworm         + compilers and CA certificates (npm ci, node-gyp)
#   shipdeck-local/postgres:15-bookworm     Debian's PostgreSQL 15, postgres image's entry point
#   shipdeck-local/haproxy:2.6-bookworm     Debian's HAProxy 2.6, haproxy image's layout
#   shipdeck-local/activemq-artemis:2.40.0  Debian's JRE 17 + the Artemis distribution from Maven
#   shipdeck-local/prometheus:2.42-bookworm Debian's Prometheus, prom/prometheus's layout
#
# Everything is cached: the root file system under $SHIPDECK_IMAGE_CACHE (default
# /var/cache/shipdeck), the images in the engine. An image that exists is not rebuilt unless
# SHIPDECK_STANDINS_REBUILD=1; delete the cache directory to start over.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SHIPDECK_IMAGE_CACHE:-/var/cache/shipdeck}"
ROOTFS_TAR="$CACHE/debian-bookworm-minbase.tar"
ARTEMIS_VERSION=2.40.0
REBUILD="${SHIPDECK_STANDINS_REBUILD:-0}"

say() { printf 'standins: %s\n' "$*"; }
die() { printf 'standins: %s\n' "$*" >&2; exit 1; }
have_image() { [ "$REBUILD" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# Builds TAG from test/compose/standins/FILE with CONTEXT as its build context. Host networking:
# the build only needs Debian's archive, and it must not depend on a bridge being configured.
build() {
  local tag=$1 file=$2 context=$3 started=$SECONDS
  if have_image "$tag"; then
    say "$tag (cached)"
    return 0
  fi
  say "building $tag"
  local output
  # The output only matters when the build fails (the engine's own notices are noise otherwise).
  output="$(docker build --network host -t "$tag" -f "$HERE/$file" "$context" 2>&1)" \
    || { printf '%s\n' "$output" | tail -n 30 >&2; die "building $tag failed"; }
  say "$tag built in $((SECONDS - started)) s"
}

mkdir -p "$CACHE"

if ! have_image shipdeck-local/debian:bookworm-slim; then
  if [ ! -s "$ROOTFS_TAR" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install -y debootstrap)"
    started=$SECONDS
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    say "debootstrap Debian bookworm into $rootfs (once)"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    # What the official -slim images also leave out: package caches, documentation, locales.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    # Written to a temporary name and renamed: an interrupted run never leaves a half archive.
    tar -C "$rootfs" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$rootfs"
    say "root file system archived in $ROOTFS_TAR ($((SECONDS - started)) s)"
  fi
  docker import "$ROOTFS_TAR" shipdeck-local/debian:bookworm-slim >/dev/null
  say "shipdeck-local/debian:bookworm-slim imported"
else
  say "shipdeck-local/debian:bookworm-slim (cached)"
fi

# Node: the machine's own Node 20 installation (binary and npm), laid out as the official image has it.
if ! have_image shipdeck-local/node:20-bookworm-slim; then
  node_bin="$(readlink -f "$(command -v node)")"
  node_prefix="$(cd "$(dirname "$node_bin")/.." && pwd)"
  [ "$("$node_bin" -p 'process.versions.node.split(".")[0]')" = 20 ] || die "this machine's node is not Node 20"
  [ -d "$node_prefix/lib/node_modules/npm" ] || die "npm not found under $node_prefix/lib/node_modules"
  ctx="$(mktemp -d "$CACHE/node-context.XXXXXX")"
  cp "$node_bin" "$ctx/node"
  cp -a "$node_prefix/lib/node_modules/npm" "$ctx/npm"
  build shipdeck-local/node:20-bookworm-slim node-slim.Dockerfile "$ctx"
  rm -rf "$ctx"
else
  say "shipdeck-local/node:20-bookworm-slim (cached)"
fi
if ! have_image shipdeck-local/node:20-bookworm; then
  ctx="$(mktemp -d "$CACHE/node-build-context.XXXXXX")"
  # The machine's own extra CA certificates, if any (an egress proxy that re-signs TLS); an empty
  # placeholder keeps the Dockerfile's COPY valid without them.
  cp /usr/local/share/ca-certificates/*.crt "$ctx/" 2>/dev/null || true
  [ -n "$(ls "$ctx")" ] || : >"$ctx/none.crt"
  node_prefix="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
  [ -f "$node_prefix/include/node/common.gypi" ] || die "Node's C headers are missing under $node_prefix/include/node"
  cp -a "$node_prefix/include/node" "$ctx/include-node"
  build shipdeck-local/node:20-bookworm node-build.Dockerfile "$ctx"
  rm -rf "$ctx"
else
  say "shipdeck-local/node:20-bookworm (cached)"
fi
build shipdeck-local/postgres:15-bookworm postgres.Dockerfile "$HERE"
build shipdeck-local/haproxy:2.6-bookworm haproxy.Dockerfile "$HERE"

if ! have_image "shipdeck-local/activemq-artemis:$ARTEMIS_VERSION"; then
  tarball="$HOME/.m2/repository/org/apache/activemq/apache-artemis/$ARTEMIS_VERSION/apache-artemis-$ARTEMIS_VERSION-bin.tar.gz"
  if [ ! -s "$tarball" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed once, to fetch apache-artemis $ARTEMIS_VERSION"
    say "fetching org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin through Maven (once)"
    mvn -B -q --strict-checksums org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get \
      -Dartifact="org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin" \
      || die "mvn could not fetch apache-artemis $ARTEMIS_VERSION"
  fi
  ctx="$(mktemp -d "$CACHE/artemis-context.XXXXXX")"
  tar -xzf "$tarball" -C "$ctx"
  mv "$ctx/apache-artemis-$ARTEMIS_VERSION" "$ctx/dist"
  cp "$HERE/artemis-docker-run.sh" "$ctx/docker-run.sh"
  build "shipdeck-local/activemq-artemis:$ARTEMIS_VERSION" artemis.Dockerfile "$ctx"
  rm -rf "$ctx"
else
  say "shipdeck-local/activemq-artemis:$ARTEMIS_VERSION (cached)"
fi

# The monitoring profile's Prometheus: the compose test runs the stack with that profile.
build shipdeck-local/prometheus:2.42-bookworm prometheus.Dockerfile "$HERE"
