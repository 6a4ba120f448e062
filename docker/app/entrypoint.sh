#!/bin/sh
# Entrypoint of the Tessera image (app replicas and the one-shot `migrate`).
# Each replica needs a distinct TESSERA_APP_ID (logs, metrics, the catalog's
# heartbeat table); under `docker compose up --scale app=N` the container's
# hostname (its short id) is the natural one, so it is the default.
set -eu
if [ -z "${TESSERA_APP_ID:-}" ]; then
  TESSERA_APP_ID="${HOSTNAME:-app}"
fi
export TESSERA_APP_ID
exec "$@"
