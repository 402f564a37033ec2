#!/bin/bash
# The entry point of the stand-in Artemis image, with the official image's behaviour: create the
# broker instance in the working directory on first start (ARTEMIS_USER, ARTEMIS_PASSWORD,
# ANONYMOUS_LOGIN, EXTRA_ARGS), copy etc-override/ into etc/, then run `bin/artemis "$@"`.
set -e
if [ "${ANONYMOUS_LOGIN,,}" = true ]; then login=--allow-anonymous; else login=--require-login; fi
if ! [ -f ./etc/broker.xml ]; then
  # shellcheck disable=SC2086 # EXTRA_ARGS is a list of options
  /opt/activemq-artemis/bin/artemis create --user "$ARTEMIS_USER" --password "$ARTEMIS_PASSWORD" \
    --silent "$login" $EXTRA_ARGS .
  if [ -d ./etc-override ]; then cp ./etc-override/* ./etc/; fi
else
  echo "broker already created, ignoring creation"
fi
exec ./bin/artemis "$@"
