#!/bin/bash
# Entry point of the Shipdeck image (run under tini).
#
#   master            a master (REST API on server.port, command channel on server.workerPort)
#   worker ARGS...    a worker; ARGS go to `shipdeck worker` (-master, -api, ...)
#   anything else     the shipdeck CLI, e.g. `workers list --server http://haproxy:4516`
#
# A worker takes the first free slot work/worker-N of the work volume (an flock held for its
# whole life, so containers sharing the volume never pick the same one) and is named after it.
# A container that replaces a dead one therefore takes over its work directory, worker id and
# recovery files, wherever the new container runs.
set -euo pipefail
home=/opt/shipdeck
health_url_file=/tmp/shipdeck-health-url

case "${1:-master}" in
  master)
    shift || true
    echo "http://127.0.0.1:${SHIPDECK_SERVER_PORT:-4516}/health/ready" >"$health_url_file"
    exec node "$home/bin/shipdeck.js" master "$@"
    ;;
  worker)
    shift
    port="${SHIPDECK_WORKER_HEALTH_PORT:-4517}"
    n=1
    # The worker inherits descriptor 9 and with it the lock of its slot.
    while :; do
      exec 9>"$home/work/worker-$n.lock"
      if flock -n 9; then break; fi
      exec 9>&-
      n=$((n + 1))
    done
    echo "http://127.0.0.1:$port/health/ready" >"$health_url_file"
    # The address masters list for this worker: its container's IP (from /etc/hosts).
    read -r ip _ < <(getent hosts "$HOSTNAME") || ip="$HOSTNAME"
    exec node "$home/bin/shipdeck.js" worker -name "${SHIPDECK_WORKER_NAME_PREFIX:-worker}-$n" \
      -work-dir "$home/work/worker-$n" -port "$port" -hostname "$ip" "$@"
    ;;
  *)
    exec node "$home/bin/shipdeck.js" "$@"
    ;;
esac
