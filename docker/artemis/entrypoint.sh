#!/bin/bash
# Entry point of the compose file's Artemis service (the apache/activemq-artemis image, or any
# image with the distribution in /opt/activemq-artemis and a writable /var/lib/artemis-instance).
#
# - creates the broker instance on its volume the first time;
# - writes the users and roles artemis-broker/broker.xml expects, from the environment, at every
#   start (a password changed in docker/.env takes effect at the next start):
#     shipdeck-admin   role shipdeck-admin   ARTEMIS_ADMIN_PASSWORD   (operators)
#     shipdeck-master  role shipdeck-master  ARTEMIS_MASTER_PASSWORD  (publishes task messages)
#     shipdeck-worker  role shipdeck-worker  ARTEMIS_WORKER_PASSWORD  (consumes them)
# - copies the shipped broker.xml, so an edit of it takes effect at the next start;
# - runs the broker in the foreground (it exits on SIGTERM after closing its journal).
set -euo pipefail
dist=/opt/activemq-artemis
instance=/var/lib/artemis-instance
for var in ARTEMIS_ADMIN_PASSWORD ARTEMIS_MASTER_PASSWORD ARTEMIS_WORKER_PASSWORD; do
  [ -n "${!var:-}" ] || { echo "artemis: $var must be set (docker/.env)" >&2; exit 1; }
done
if [ ! -x "$instance/bin/artemis" ]; then
  "$dist/bin/artemis" create --silent --force --require-login --no-web --nio --no-autotune \
    --user shipdeck-admin --password "$ARTEMIS_ADMIN_PASSWORD" --role shipdeck-admin \
    --java-memory "${ARTEMIS_JAVA_MEMORY:-512M}" "$instance"
fi
umask 077
cat >"$instance/etc/artemis-users.properties" <<USERS
shipdeck-admin = $ARTEMIS_ADMIN_PASSWORD
shipdeck-master = $ARTEMIS_MASTER_PASSWORD
shipdeck-worker = $ARTEMIS_WORKER_PASSWORD
USERS
# The roles file maps a role to its users; each user has the one role named after it.
cat >"$instance/etc/artemis-roles.properties" <<ROLES
shipdeck-admin = shipdeck-admin
shipdeck-master = shipdeck-master
shipdeck-worker = shipdeck-worker
ROLES
cp /opt/shipdeck-artemis/broker.xml "$instance/etc/broker.xml"
exec "$instance/bin/artemis" run
