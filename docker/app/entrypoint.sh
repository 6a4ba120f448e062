#!/bin/sh
# Entrypoint of the Tessera app image (app replicas, the one-shot `migrate`,
# the `cli` service).
#
# Secrets: VAR_FILE names a file whose content becomes VAR (the convention of
# the official database images), for TESSERA_DB_PASSWORD,
# TESSERA_REDIS_URL and TESSERA_CATALOG_URL. Swarm mounts Docker secrets as
# such files; compose may pass the variables themselves.
# TESSERA_DB_PASSWORD also becomes PGPASSWORD, which the PostgreSQL client
# uses for a connection string without a password: the catalog URL can then
# name only the user, and no password sits in the service definition.
#
# Each replica needs a distinct TESSERA_APP_ID (logs, metrics, the catalog's
# heartbeat table); under `docker compose up --scale app=N` the container's
# hostname (its short id) is the natural one, so it is the default.
set -eu

file_env() {
  var="$1"
  file_var="${var}_FILE"
  eval "value=\${$var:-}"
  eval "file=\${$file_var:-}"
  if [ -n "$value" ] && [ -n "$file" ]; then
    echo "tessera-entrypoint: set $var or $file_var, not both" >&2
    exit 1
  fi
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "tessera-entrypoint: $file_var=$file is not readable" >&2
      exit 1
    fi
    # A trailing newline (echo > file) is not part of the secret.
    value="$(cat "$file")"
    export "$var=$value"
  fi
  unset "$file_var"
}

for v in TESSERA_DB_PASSWORD TESSERA_REDIS_URL TESSERA_CATALOG_URL; do file_env "$v"; done
if [ -n "${TESSERA_DB_PASSWORD:-}" ] && [ -z "${PGPASSWORD:-}" ]; then
  export PGPASSWORD="$TESSERA_DB_PASSWORD"
fi

if [ -z "${TESSERA_APP_ID:-}" ]; then
  TESSERA_APP_ID="${HOSTNAME:-app}"
fi
export TESSERA_APP_ID
exec "$@"
