#!/usr/bin/env bash
# `npm run test:compose`: the docker compose setup of docker/, proven on this machine.
#
# 1. A Docker engine: the running one, or — as root — a dockerd this script starts and stops
#    again (Debian's docker.io, docker-compose and debootstrap are installed with apt-get when
#    missing). No engine: the test FAILS and says why.
# 2. Local stand-ins for the official base images (test/compose/standins/build.sh; cached).
# 3. test/compose/scenario.ts: build, up, deploy, scale, kill, drain, restart, tear down, report.
#
# Environment: SHIPDECK_COMPOSE_TEST_PORT (HAProxy on 127.0.0.1, default 14516; not 4516, which
# local masters use), SHIPDECK_COMPOSE_PROJECT (default shipdeck-composetest),
# SHIPDECK_COMPOSE_PROMETHEUS_PORT (Prometheus on 127.0.0.1, default 19090), SHIPDECK_IMAGE_CACHE
# (stand-ins' cache, default /var/cache/shipdeck). The stack runs with the `monitoring` profile:
# the scenario reads its metrics back through Prometheus.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_NO_CLOUD=true NX_DAEMON=false

say() { printf 'compose-test: %s\n' "$*"; }
fail() {
  printf 'compose-test: FAILED: %s\n' "$*" >&2
  exit 1
}

# What this test needs from Debian, installed when missing and we are root: the engine and CLI
# (docker.io), Compose v1 (docker-compose 1.29, unless the CLI has `docker compose`), and
# debootstrap for the stand-ins' base image. policy-rc.d 101: the package must not start a
# service (this script starts dockerd itself, below).
missing=()
command -v docker >/dev/null && command -v dockerd >/dev/null || missing+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing ${missing[*]} (apt-get)"
  policy=/usr/sbin/policy-rc.d
  had_policy=1
  [ -e "$policy" ] || { had_policy=0; printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; }
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
  # Package lists may be missing or stale (a fresh machine): update them once and try again.
  apt_install || { apt-get update >/dev/null && apt_install; } || say "apt-get could not install ${missing[*]}"
  [ "$had_policy" = 1 ] || rm -f "$policy"
fi

command -v docker >/dev/null || fail "no docker CLI (Debian: apt-get install -y docker.io docker-compose)"
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null ||
  fail "neither 'docker compose' nor 'docker-compose' is installed (Debian: apt-get install -y docker-compose)"

# The compose file mounts the shipped broker configuration; without it Docker would mount an
# empty directory in its place and the broker would never start.
[ -f artemis-broker/broker.xml ] || fail "artemis-broker/broker.xml is missing: the Artemis service has no configuration"

cache="${SHIPDECK_IMAGE_CACHE:-/var/cache/shipdeck}"
started_engine=""
stop_engine() {
  [ -n "$started_engine" ] || return 0
  say "stopping the dockerd this test started (pid $started_engine)"
  kill -TERM "$started_engine" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$started_engine" 2>/dev/null || return 0
    sleep 0.2
  done
  say "dockerd $started_engine did not stop within 30 s"
}
trap stop_engine EXIT

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || fail "no Docker engine is reachable and dockerd is not installed: $(docker info 2>&1 | tail -n 1)"
  [ "$(id -u)" = 0 ] || fail "no Docker engine is reachable, and starting dockerd needs root: $(docker info 2>&1 | tail -n 1)"
  mkdir -p "$cache"
  engine_log="$cache/dockerd.log"
  say "no Docker engine running; starting dockerd (log: $engine_log)"
  dockerd >"$engine_log" 2>&1 &
  started_engine=$!
  deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$started_engine" 2>/dev/null; then
      started_engine=""
      tail -n 15 "$engine_log" >&2
      fail "dockerd exited during start-up (its last log lines are above)"
    fi
    ((SECONDS < deadline)) || { tail -n 15 "$engine_log" >&2; fail "dockerd did not answer within 60 s (log above)"; }
    sleep 0.2
  done
fi
say "Docker engine $(docker version -f '{{.Server.Version}}') ($(docker info -f '{{.Driver}}') storage)"

bash test/compose/standins/build.sh
node -r esbuild-register test/compose/scenario.ts
