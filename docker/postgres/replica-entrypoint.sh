#!/usr/bin/env bash
# Entrypoint of a shard's streaming read replica (shard-a-replica, …) on the
# official postgres image. On the first start it clones the primary with
#   pg_basebackup -R -C -S <slot>
# (-R: standby.signal + primary_conninfo, -C -S: a physical replication slot,
# so the primary keeps the WAL this standby still needs); on every later start
# it finds $PGDATA/PG_VERSION and just starts the standby. Idempotent:
#   * the copy goes to "$PGDATA.partial" and is renamed into place only when
#     complete, so a crash mid-copy never leaves a half data directory that
#     would be mistaken for a finished one;
#   * a slot left on the primary by an earlier attempt (or by a replica whose
#     volume was removed) is reused instead of failing on -C.
#
# Environment: PGDATA, PRIMARY_HOST, PRIMARY_PORT (5432), REPLICATION_SLOT,
# REPLICATION_USER (replicator), PGPASSWORD (the replication role's password,
# read by libpq here and by the standby's WAL receiver later).
# Arguments: the server command, e.g. `postgres -c hot_standby=on …`.
set -Eeuo pipefail

log() { echo "replica-entrypoint: $*" >&2; }

: "${PGDATA:?PGDATA must be set}"
: "${PRIMARY_HOST:?PRIMARY_HOST must name the primary}"
: "${REPLICATION_SLOT:?REPLICATION_SLOT must name the physical replication slot}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"

# Started as root by Docker: own the volume, then re-run as postgres
# (PostgreSQL refuses to run as root).
if [ "$(id -u)" = '0' ]; then
  parent="$(dirname "$PGDATA")"
  mkdir -p "$parent"
  find "$parent" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 0700 "$parent"
  exec gosu postgres bash "${BASH_SOURCE[0]}" "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
  log "$PGDATA holds a data directory: starting the standby"
else
  if [[ ! "$REPLICATION_SLOT" =~ ^[a-z0-9_]{1,63}$ ]]; then
    log "invalid slot name '$REPLICATION_SLOT' (allowed: a-z, 0-9, _)"
    exit 1
  fi
  if [ -e "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    log "$PGDATA is not empty but has no PG_VERSION; refusing to overwrite it"
    exit 1
  fi

  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -d postgres; do
    log "waiting for the primary ${PRIMARY_HOST}:${PRIMARY_PORT}"
    sleep 1
  done

  slot_active="$(psql -X -A -t -q -w -v ON_ERROR_STOP=1 \
    -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -d postgres \
    -v slot="$REPLICATION_SLOT" <<'SQL'
SELECT active FROM pg_replication_slots WHERE slot_name = :'slot';
SQL
  )"
  case "$slot_active" in
    '') slot_args=(--create-slot --slot="$REPLICATION_SLOT") ;;
    f) slot_args=(--slot="$REPLICATION_SLOT"); log "reusing the existing slot $REPLICATION_SLOT" ;;
    *) log "slot $REPLICATION_SLOT is in use by another standby"; exit 1 ;;
  esac

  partial="${PGDATA}.partial"
  rm -rf "$partial"
  log "cloning ${PRIMARY_HOST}:${PRIMARY_PORT} into $PGDATA (slot $REPLICATION_SLOT)"
  pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -w \
    -D "$partial" -R -X stream --checkpoint=fast "${slot_args[@]}"
  if [ -d "$PGDATA" ]; then rmdir "$PGDATA"; fi
  mv "$partial" "$PGDATA"
  sync
  log "base backup complete"
fi

exec "$@"
