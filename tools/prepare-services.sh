#!/usr/bin/env bash
# Makes the local services the integration tests use reachable, where this machine allows it.
# Tests take their URLs from SHIPDECK_TEST_DATABASE_URL / SHIPDECK_TEST_AMQP_URL (and the Artemis ones below); when those are
# set, nothing is started here. Nothing here is fatal: a test that cannot reach a service fails
# with a message saying what to start or set.
set -uo pipefail

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -z "${SHIPDECK_TEST_DATABASE_URL:-}" ]; then
  if reachable 127.0.0.1 5432; then
    echo "PostgreSQL: reachable on 127.0.0.1:5432"
  elif command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL: starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  else
    echo "PostgreSQL: not reachable on 127.0.0.1:5432; start it or set SHIPDECK_TEST_DATABASE_URL"
  fi
fi

if [ -z "${SHIPDECK_TEST_AMQP_URL:-}" ]; then
  if reachable 127.0.0.1 5672; then
    echo "RabbitMQ: reachable on 127.0.0.1:5672"
  elif command -v rabbitmq-server >/dev/null 2>&1; then
    echo "RabbitMQ: not running; starting it (rabbitmq-server -detached) and waiting up to 60 s"
    rabbitmq-server -detached || true
    if timeout 60 rabbitmqctl await_startup >/dev/null 2>&1; then
      echo "RabbitMQ: started"
    else
      echo "RabbitMQ: did not come up within 60 s"
    fi
  fi
  if command -v rabbitmq-plugins >/dev/null 2>&1; then
    if rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_amqp1_0; then
      echo "RabbitMQ: AMQP 1.0 plugin enabled"
    else
      echo "RabbitMQ: enabling the AMQP 1.0 plugin"
      rabbitmq-plugins enable rabbitmq_amqp1_0 || echo "RabbitMQ: could not enable rabbitmq_amqp1_0; enable it or set SHIPDECK_TEST_AMQP_URL"
    fi
  elif ! reachable 127.0.0.1 5672; then
    echo "RabbitMQ: not reachable on 127.0.0.1:5672; start RabbitMQ 3.10+ with the AMQP 1.0 plugin or set SHIPDECK_TEST_AMQP_URL"
  fi
fi
bash "$(dirname "$0")/ssh-test-server.sh" || echo "SSH test server: setup failed; see tools/ssh-test-server.sh"

# ActiveMQ Artemis for the Artemis transports (AMQP 1.0 and STOMP). Tests take its URLs from
# SHIPDECK_TEST_ARTEMIS_AMQP_URL / SHIPDECK_TEST_ARTEMIS_STOMP_URL; without them, from the
# instance start-local creates (fetched through Maven once, then reused). Left running afterwards,
# like the other services: concurrent test runs on this machine share it.
if [ -z "${SHIPDECK_TEST_ARTEMIS_AMQP_URL:-}" ] || [ -z "${SHIPDECK_TEST_ARTEMIS_STOMP_URL:-}" ]; then
  if command -v java >/dev/null 2>&1; then
    bash "$(dirname "$0")/../artemis-broker/start-local" start || echo "Artemis: could not start it (see above); set SHIPDECK_TEST_ARTEMIS_AMQP_URL and SHIPDECK_TEST_ARTEMIS_STOMP_URL"
  else
    echo "Artemis: no Java here to run it; set SHIPDECK_TEST_ARTEMIS_AMQP_URL and SHIPDECK_TEST_ARTEMIS_STOMP_URL"
  fi
fi

# Prometheus for the metrics proof (test/observability/prometheus.test.ts), which runs the binary
# itself on a loopback port with its own configuration; the Debian service is not started.
if [ -z "${SHIPDECK_TEST_PROMETHEUS_BIN:-}" ]; then
  if command -v prometheus >/dev/null 2>&1; then
    echo "Prometheus: installed"
  elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Prometheus: installing Debian's prometheus package"
    # policy-rc.d 101: the package's service must not start (the test runs its own instance).
    policy=/usr/sbin/policy-rc.d
    if [ -e "$policy" ]; then had_policy=1; else had_policy=0; printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; fi
    # Package lists may be missing or stale (a fresh machine): update them once and try again.
    install_prometheus() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
    install_prometheus || { apt-get update >/dev/null && install_prometheus; } ||
      echo "Prometheus: could not install it; install the prometheus package or set SHIPDECK_TEST_PROMETHEUS_BIN"
    [ "$had_policy" -eq 0 ] && rm -f "$policy"
  else
    echo "Prometheus: not installed; install Debian's prometheus package (as root) or set SHIPDECK_TEST_PROMETHEUS_BIN"
  fi
fi
