#!/usr/bin/env bash
# Entrypoint of Tessera's PostgreSQL image. On the first start it makes the
# data directory, on every start it then execs the server as PID 1 (so
# signals reach it), as the postgres user.
#
# TESSERA_PG_ROLE:
#   primary (default)  a fresh cluster: superuser POSTGRES_USER with
#                      POSTGRES_PASSWORD, database POSTGRES_DB and, when
#                      REPLICATION_PASSWORD is set, a REPLICATION_USER role
#                      that streaming replicas connect as. The catalog too.
#   replica            a streaming replica of PRIMARY_HOST, cloned with
#                        pg_basebackup -R -C -S <REPLICATION_SLOT>
#                      (-R: standby.signal + primary_conninfo; -C -S: a
#                      physical replication slot, so the primary keeps the WAL
#                      this standby still needs).
#
# Idempotent: a new data directory is made in "$PGDATA.partial" and renamed
# into place only when complete, so a crash half-way never leaves a directory
# that a later start would take for a finished one. A replica reuses a slot an
# earlier attempt left on the primary.
#
# Secrets: VAR_FILE names a file holding VAR (POSTGRES_PASSWORD,
# REPLICATION_PASSWORD), as Docker secrets are mounted.
#
# Arguments: the server command, e.g. `postgres -c wal_level=logical …`.
set -Eeuo pipefail

log() { echo "tessera-postgres: $*" >&2; }

file_env() {
  local var="$1" file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "set $var or $file_var, not both"
    exit 1
  fi
  if [ -n "${!file_var:-}" ]; then
    export "$var=$(cat "${!file_var}")"
  fi
  unset "$file_var"
}

: "${PGDATA:?PGDATA must be set}"
role="${TESSERA_PG_ROLE:-primary}"
case "$role" in primary|replica) ;; *) log "TESSERA_PG_ROLE must be primary or replica, not '$role'"; exit 1 ;; esac

if [ "$(id -u)" = '0' ]; then
  # Secret files may be readable by root only: read them before dropping privileges.
  file_env POSTGRES_PASSWORD
  file_env REPLICATION_PASSWORD
  parent="$(dirname "$PGDATA")"
  mkdir -p "$parent" /var/run/postgresql
  chown postgres:postgres /var/run/postgresql
  find "$parent" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 0700 "$parent"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi
file_env POSTGRES_PASSWORD
file_env REPLICATION_PASSWORD

POSTGRES_USER="${POSTGRES_USER:-tessera}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
partial="${PGDATA}.partial"

refuse_foreign_dir() {
  if [ -e "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    log "$PGDATA is not empty but has no PG_VERSION; refusing to overwrite it"
    exit 1
  fi
}

move_into_place() {
  if [ -d "$PGDATA" ]; then rmdir "$PGDATA"; fi
  mv "$partial" "$PGDATA"
  sync
}

init_primary() {
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is required to create the database"
    exit 1
  fi
  refuse_foreign_dir
  rm -rf "$partial"
  log "creating a new cluster in $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  # The password goes through a file descriptor, never a command line.
  initdb -D "$partial" --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  {
    echo
    echo '# Tessera (docker/postgres/entrypoint.sh): password logins from the container networks.'
    echo "host replication $REPLICATION_USER all scram-sha-256"
    echo 'host all all all scram-sha-256'
  } >> "$partial/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$partial/postgresql.conf"

  # A server on the Unix socket only, so nothing outside sees a half-made database.
  pg_ctl -D "$partial" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w -s start
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" -v db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  if [ -n "${REPLICATION_PASSWORD:-}" ]; then
    "${psql[@]}" -v repl_user="$REPLICATION_USER" -v repl_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"repl_user" WITH LOGIN REPLICATION PASSWORD :'repl_password';
SQL
    log "role $REPLICATION_USER may stream from this primary"
  fi
  pg_ctl -D "$partial" -m fast -w -s stop
  move_into_place
}

init_replica() {
  : "${PRIMARY_HOST:?PRIMARY_HOST must name the primary}"
  : "${REPLICATION_SLOT:?REPLICATION_SLOT must name the physical replication slot}"
  local port="${PRIMARY_PORT:-5432}"
  if [[ ! "$REPLICATION_SLOT" =~ ^[a-z0-9_]{1,63}$ ]]; then
    log "invalid slot name '$REPLICATION_SLOT' (allowed: a-z, 0-9, _)"
    exit 1
  fi
  if [ -z "${REPLICATION_PASSWORD:-}" ]; then
    log "REPLICATION_PASSWORD (or REPLICATION_PASSWORD_FILE) is required to clone the primary"
    exit 1
  fi
  refuse_foreign_dir
  export PGPASSWORD="$REPLICATION_PASSWORD"
  local conn=(-h "$PRIMARY_HOST" -p "$port" -U "$REPLICATION_USER")

  # Bounded by the container's restart policy: exiting lets Docker retry.
  local waited=0
  until pg_isready -q "${conn[@]}" -d postgres; do
    if [ "$waited" -ge 120 ]; then log "the primary ${PRIMARY_HOST}:${port} did not answer in 120 s"; exit 1; fi
    log "waiting for the primary ${PRIMARY_HOST}:${port}"
    sleep 1
    waited=$((waited + 1))
  done

  local active
  active="$(psql -X -A -t -q -w -v ON_ERROR_STOP=1 "${conn[@]}" -d postgres -v slot="$REPLICATION_SLOT" <<'SQL'
SELECT active FROM pg_replication_slots WHERE slot_name = :'slot';
SQL
  )"
  local slot_args
  case "$active" in
    '') slot_args=(--create-slot --slot="$REPLICATION_SLOT") ;;
    f) slot_args=(--slot="$REPLICATION_SLOT"); log "reusing the existing slot $REPLICATION_SLOT" ;;
    *) log "slot $REPLICATION_SLOT is in use by another standby"; exit 1 ;;
  esac

  rm -rf "$partial"
  log "cloning ${PRIMARY_HOST}:${port} into $PGDATA (slot $REPLICATION_SLOT)"
  pg_basebackup "${conn[@]}" -w -D "$partial" -R -X stream --checkpoint=fast "${slot_args[@]}"
  move_into_place
  log "base backup complete"
}

if [ -s "$PGDATA/PG_VERSION" ]; then
  log "$PGDATA holds a data directory: starting the $role"
elif [ "$role" = replica ]; then
  init_replica
else
  init_primary
fi
unset POSTGRES_PASSWORD REPLICATION_PASSWORD PGPASSWORD
exec "$@"
