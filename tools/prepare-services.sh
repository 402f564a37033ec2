#!/usr/bin/env bash
# Makes the local services the integration tests use reachable, where this machine allows it.
# Tests take their URLs from SHIPDECK_TEST_DATABASE_URL / SHIPDECK_TEST_AMQP_URL; when those are
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
