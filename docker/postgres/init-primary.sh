#!/usr/bin/env bash
# Runs once, when the official postgres image initialises a shard primary's
# data directory (mounted into /docker-entrypoint-initdb.d). It creates the
# role the streaming replica connects as and lets it make physical
# replication connections from the compose network; the image's own pg_hba
# line (`host all all all scram-sha-256`) does not cover physical replication.
# Logical replication (resharding) uses ordinary database connections, which
# that line already allows.
#
# The image *sources* this file when it is not executable, so it must not
# change shell options or call `exit`.

replication_user="${REPLICATION_USER:-replicator}"
if [ -z "${REPLICATION_PASSWORD:-}" ]; then
  echo "init-primary: REPLICATION_PASSWORD is not set" >&2
  false
fi

psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v repl_user="$replication_user" -v repl_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"repl_user" WITH LOGIN REPLICATION PASSWORD :'repl_password';
SQL

printf '\n# streaming replicas (docker/postgres/init-primary.sh)\nhost replication %s all scram-sha-256\n' \
  "$replication_user" >> "$PGDATA/pg_hba.conf"
echo "init-primary: role ${replication_user} may stream from this primary" >&2
