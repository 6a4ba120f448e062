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
# Following the catalog (a shard instance of the compose stack, whose primary
# can move: `tessera shard failover`). With TESSERA_CATALOG_URL (no password
# in it: POSTGRES_PASSWORD, the stack's one database password, is used),
# TESSERA_SHARD (shard-a) and TESSERA_INSTANCE (the host name the others reach
# this instance by, its service name), the role only decides how a *new*
# instance starts; at every start the catalog decides what this one is:
#   - the catalog names it its shard's primary: it starts as it is. While a
#     failover that is demoting it is under way it waits instead: a primary
#     being replaced must not take writes again.
#   - the catalog names another instance: a standby starts following that
#     one; an old primary (a data directory that is not a standby) is first
#     turned into its standby: pg_rewind (for which it keeps wal_log_hints=on
#     in the data directory's postgresql.conf), or a fresh pg_basebackup when
#     that fails. An instance a failover is promoting starts as it is (the
#     failover publishes it next).
#   - the catalog does not answer: a standby starts (read-only, harmless);
#     anything else waits, up to TESSERA_CATALOG_WAIT seconds (120), then
#     exits so that the restart policy tries again. A primary never starts
#     without knowing it still is one.
#   - the catalog does not list the shard yet (a new stack, before `tessera
#     migrate`): the role decides, as above.
#   - `tessera shard rejoin` may ask for a rebuild (a standby that cannot
#     follow the primary's timeline) with the file $PGDATA/tessera.rebuild.
# Each standby streams through a slot named REPLICATION_SLOT (default: the
# instance name with - turned into _), which is also its application_name
# (synchronous_standby_names names it). Its primary_conninfo holds no
# password: the server's PGPASSFILE, written at every start, does.
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
rebuild_marker="$PGDATA/tessera.rebuild"

has_data() { [ -s "$PGDATA/PG_VERSION" ]; }
is_standby() { [ -e "$PGDATA/standby.signal" ]; }

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

# clone_from HOST PORT SLOT: a base backup of HOST, a standby streaming through
# SLOT, in $partial (the caller moves it into place).
clone_from() {
  local host="$1" port="$2" slot="$3"
  if [[ ! "$slot" =~ ^[a-z0-9_]{1,63}$ ]]; then
    log "invalid slot name '$slot' (allowed: a-z, 0-9, _)"
    exit 1
  fi
  if [ -z "${REPLICATION_PASSWORD:-}" ]; then
    log "REPLICATION_PASSWORD (or REPLICATION_PASSWORD_FILE) is required to clone the primary"
    exit 1
  fi
  local conn=(-h "$host" -p "$port" -U "$REPLICATION_USER")

  # Bounded by the container's restart policy: exiting lets Docker retry.
  local waited=0
  until PGPASSWORD="$REPLICATION_PASSWORD" pg_isready -q "${conn[@]}" -d postgres; do
    if [ "$waited" -ge 120 ]; then log "the primary ${host}:${port} did not answer in 120 s"; exit 1; fi
    log "waiting for the primary ${host}:${port}"
    sleep 1
    waited=$((waited + 1))
  done

  local active
  active="$(PGPASSWORD="$REPLICATION_PASSWORD" psql -X -A -t -q -w -v ON_ERROR_STOP=1 "${conn[@]}" -d postgres -v slot="$slot" <<'SQL'
SELECT active FROM pg_replication_slots WHERE slot_name = :'slot';
SQL
  )"
  local slot_args
  case "$active" in
    '') slot_args=(--create-slot --slot="$slot") ;;
    f) slot_args=(--slot="$slot"); log "reusing the existing slot $slot" ;;
    *) log "slot $slot is in use by another standby"; exit 1 ;;
  esac

  rm -rf "$partial"
  log "cloning ${host}:${port} into $PGDATA (slot $slot)"
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup "${conn[@]}" -w -D "$partial" -R -X stream --checkpoint=fast "${slot_args[@]}"
  log "base backup complete"
}

init_replica() {
  : "${PRIMARY_HOST:?PRIMARY_HOST must name the primary}"
  : "${REPLICATION_SLOT:?REPLICATION_SLOT must name the physical replication slot}"
  refuse_foreign_dir
  clone_from "$PRIMARY_HOST" "${PRIMARY_PORT:-5432}" "$REPLICATION_SLOT"
  move_into_place
}

# ---- following the catalog (TESSERA_CATALOG_URL, TESSERA_SHARD, TESSERA_INSTANCE) ----

follows_catalog() { [ -n "${TESSERA_CATALOG_URL:-}" ] && [ -n "${TESSERA_SHARD:-}" ] && [ -n "${TESSERA_INSTANCE:-}" ]; }

# The replication password for the server's own WAL receiver, so that no
# primary_conninfo (which `tessera shard failover` rewrites with ALTER SYSTEM)
# ever holds it. Rewritten at every start; outside the data volume.
write_passfile() {
  local file=/var/run/postgresql/.pgpass escaped
  escaped="$(printf '%s' "$REPLICATION_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/:/\\:/g')"
  (umask 077 && printf '*:*:*:%s:%s\n' "$REPLICATION_USER" "$escaped" > "$file")
  export PGPASSFILE="$file"
}

# pg_rewind needs wal_log_hints (the clusters have no data checksums), and
# reads it from the target's own configuration: after a crash it runs the
# target's recovery with that file alone, and that run records the setting.
ensure_wal_log_hints() {
  local conf="$PGDATA/postgresql.conf"
  if has_data && ! grep -q -E '^[[:space:]]*wal_log_hints[[:space:]]*=[[:space:]]*on' "$conf"; then
    printf '\n# Tessera (docker/postgres/entrypoint.sh): for pg_rewind after a failover.\nwal_log_hints = on\n' >> "$conf"
  fi
}

# A superuser connection to another instance of the shard (slots, pg_rewind):
# the password travels in the environment of that one command.
as_superuser() { PGPASSWORD="$POSTGRES_PASSWORD" PGCONNECT_TIMEOUT=5 "$@"; }

# Sets catalog_primary, catalog_port (empty: the catalog does not list the
# shard yet), demoting (the instance an unfinished failover is replacing, unless
# it gave up and restores it) and promoting (the one it promotes). Fails, with
# the reason in catalog_error, when the catalog does not answer.
ask_catalog() {
  local row err=/var/run/postgresql/tessera-catalog.err
  if ! row="$(as_superuser psql -X -A -t -q -w -F ' ' -v ON_ERROR_STOP=1 -d "$TESSERA_CATALOG_URL" \
    -v shard="$TESSERA_SHARD" -v re='^[a-z]+://(?:[^@/]*@)?([^:/?]+)(?::([0-9]+))?' 2>"$err" <<'SQL'
SELECT to_regclass('public.shards') IS NOT NULL AS has_shards,
       to_regclass('public.shard_failovers') IS NOT NULL AS has_failovers \gset
\if :has_shards
\if :has_failovers
SELECT (regexp_match(s.primary_url, :'re'))[1],
       coalesce((regexp_match(s.primary_url, :'re'))[2], '5432'),
       coalesce((SELECT (regexp_match(f.old_primary_url, :'re'))[1] FROM shard_failovers f
                 WHERE f.shard = s.name AND f.phase NOT IN ('done', 'failed')
                   AND NOT coalesce((f.detail->>'restorePrimary')::boolean, false)), '-'),
       coalesce((SELECT (regexp_match(f.new_primary_url, :'re'))[1] FROM shard_failovers f
                 WHERE f.shard = s.name AND f.phase NOT IN ('done', 'failed')), '-')
  FROM shards s WHERE s.name = :'shard';
\else
SELECT (regexp_match(primary_url, :'re'))[1], coalesce((regexp_match(primary_url, :'re'))[2], '5432'), '-', '-'
  FROM shards WHERE name = :'shard';
\endif
\endif
SQL
  )"; then
    catalog_error="$(head -n 1 "$err")"
    return 1
  fi
  catalog_primary='' catalog_port='' demoting='' promoting=''
  if [ -n "$row" ]; then
    read -r catalog_primary catalog_port demoting promoting <<< "$row"
    if [ "$demoting" = '-' ]; then demoting=''; fi
    if [ "$promoting" = '-' ]; then promoting=''; fi
  fi
  return 0
}

# set_auto_conf KEY VALUE: one setting in postgresql.auto.conf (the file ALTER
# SYSTEM writes), while the server is stopped.
set_auto_conf() {
  local file="$PGDATA/postgresql.auto.conf" key="$1" value="${2//\'/\'\'}"
  { grep -v -E "^[[:space:]]*${key}[[:space:]]*=" "$file" 2>/dev/null || true; printf "%s = '%s'\n" "$key" "$value"; } > "$file.tessera"
  mv "$file.tessera" "$file"
}

# follow HOST PORT: this (stopped) data directory becomes a standby of HOST,
# streaming through its slot there, which is made if missing.
follow() {
  local host="$1" port="$2"
  touch "$PGDATA/standby.signal"
  set_auto_conf primary_conninfo "host=$host port=$port user=$REPLICATION_USER application_name=$slot"
  set_auto_conf primary_slot_name "$slot"
  if ! as_superuser psql -X -q -w -v ON_ERROR_STOP=1 -v slot="$slot" -h "$host" -p "$port" -U "$POSTGRES_USER" -d postgres >/dev/null <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot', true)
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
  then
    log "could not make slot $slot on $host yet; the standby retries until it exists"
  fi
}

# rebuild HOST PORT: a fresh copy of HOST replaces this data directory.
rebuild() {
  local host="$1" port="$2"
  clone_from "$host" "$port" "$slot"
  rm -rf "$PGDATA"
  mv "$partial" "$PGDATA"
  sync
}

# demote HOST PORT: an old primary becomes a standby of HOST. pg_rewind
# replaces what it wrote after the two diverged (nothing after a planned
# failover's clean stop; after a crash it runs crash recovery first); a full
# copy when it cannot.
demote() {
  local host="$1" port="$2"
  log "the catalog names ${host} the primary of $TESSERA_SHARD: this old primary becomes its standby"
  # A just-promoted primary's control file still shows its old timeline until its next checkpoint,
  # and pg_rewind would take that for "nothing to rewind".
  as_superuser psql -X -q -w -h "$host" -p "$port" -U "$POSTGRES_USER" -d postgres -c CHECKPOINT || true
  # A killed server leaves its postmaster.pid, naming PID 1, which is this script now: pg_rewind's
  # crash recovery would take it for a running server and refuse.
  local pid
  pid="$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && { [ "$pid" = 1 ] || ! kill -0 "$pid" 2>/dev/null; }; then rm -f "$PGDATA/postmaster.pid"; fi
  if as_superuser pg_rewind --target-pgdata="$PGDATA" \
    --source-server="host=$host port=$port user=$POSTGRES_USER dbname=postgres connect_timeout=5"; then
    # A standby serves no standby of its own: its slots from its days as a primary would only hold WAL back.
    find "$PGDATA/pg_replslot" -mindepth 1 -delete
  else
    log "pg_rewind failed: rebuilding from a base backup of $host"
    rebuild "$host" "$port"
  fi
  follow "$host" "$port"
}

# Does what the catalog says this instance is, or sets `settled` empty to
# wait and ask again. (Called as a plain command, never in a condition: bash
# ignores `set -e` inside a function called from an `if`.)
settle() {
  local me="$TESSERA_INSTANCE"
  settled=1
  if [ -z "$catalog_primary" ]; then
    # A new stack: `tessera migrate` has not registered the shard yet.
    if [ "$role" = replica ]; then
      if ! has_data; then init_replica; fi
      follow "$PRIMARY_HOST" "${PRIMARY_PORT:-5432}"
    elif ! has_data; then
      init_primary
    fi
    log "$TESSERA_SHARD is not in the catalog yet: starting the $role"
  elif [ "$catalog_primary" = "$me" ]; then
    if [ "$demoting" = "$me" ]; then
      if [ -z "${said_demoting:-}" ]; then
        log "a failover of $TESSERA_SHARD is replacing this primary: waiting for it to finish (tessera shard history $TESSERA_SHARD)"
        said_demoting=1
      fi
      settled=''
    elif ! has_data; then
      log "the catalog names this instance the primary of $TESSERA_SHARD, but $PGDATA is empty: restore its volume, or promote a replica (tessera shard failover $TESSERA_SHARD --emergency)"
      exit 1
    else
      log "the catalog names this instance the primary of $TESSERA_SHARD: starting as it is"
    fi
  elif ! has_data; then
    refuse_foreign_dir
    clone_from "$catalog_primary" "$catalog_port" "$slot"
    move_into_place
    follow "$catalog_primary" "$catalog_port"
  elif [ "$promoting" = "$me" ]; then
    log "a failover of $TESSERA_SHARD is promoting this instance: starting as it is"
  elif [ -e "$rebuild_marker" ]; then
    log "a rebuild was asked for (tessera shard rejoin): copying $catalog_primary"
    rebuild "$catalog_primary" "$catalog_port"
    follow "$catalog_primary" "$catalog_port"
  elif is_standby; then
    log "$PGDATA holds a standby: starting it as a standby of $catalog_primary, the primary of $TESSERA_SHARD"
    follow "$catalog_primary" "$catalog_port"
  else
    demote "$catalog_primary" "$catalog_port"
  fi
}

settle_with_catalog() {
  local deadline=$((SECONDS + ${TESSERA_CATALOG_WAIT:-120})) said=''
  while :; do
    local answered=''
    if ask_catalog; then answered=1; fi
    if [ -n "$answered" ]; then
      settle
      if [ -n "$settled" ]; then return 0; fi
    elif has_data && is_standby; then
      log "the catalog does not answer ($catalog_error): starting as the standby this is (read-only)"
      return 0
    elif [ -z "$said" ]; then
      log "the catalog does not answer ($catalog_error): waiting for it (a primary must not start without knowing it still is one)"
      said=1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "gave up after ${TESSERA_CATALOG_WAIT:-120} s; exiting, for the restart policy to try again"
      exit 1
    fi
    # Short: a planned failover waits for this old primary to come back as a standby.
    sleep 0.5
  done
}

if follows_catalog; then
  slot="${REPLICATION_SLOT:-${TESSERA_INSTANCE//-/_}}"
  if [ -z "${REPLICATION_PASSWORD:-}" ] || [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "following the catalog needs POSTGRES_PASSWORD and REPLICATION_PASSWORD (or their _FILE variants)"
    exit 1
  fi
  write_passfile
  ensure_wal_log_hints
  settle_with_catalog
  ensure_wal_log_hints
elif has_data; then
  log "$PGDATA holds a data directory: starting the $role"
elif [ "$role" = replica ]; then
  init_replica
else
  init_primary
fi
unset POSTGRES_PASSWORD REPLICATION_PASSWORD PGPASSWORD
exec "$@"
