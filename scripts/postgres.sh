#!/usr/bin/env bash
# Start a local PostgreSQL server with PostGIS for the PostGIS backend and its tests.
# Installs nothing (scripts/system-deps.sh does); safe to re-run. Run as root or as postgres.
#
# Makes sure that:
#   - a cluster exists and is running (Debian's pg_createcluster / pg_ctlcluster),
#   - a role "gisapp" (password "gisapp", LOGIN CREATEDB) exists,
#   - a role "gisapp_data" (NOLOGIN) exists that "gisapp" may switch to: the tests run the app as a
#     role with data rights only, on tables another role owns (as where a DBA owns the schema),
#   - a database "gisapp" owned by it has the postgis extension,
#   - a template database "gisapp_template" with postgis exists (the tests clone it).
# Then prints the URL: postgresql://gisapp:gisapp@127.0.0.1:PORT/gisapp
# Override with GISAPP_PG_ROLE, GISAPP_PG_PASSWORD, GISAPP_PG_DB.
#   --for-tests  also turn off fsync, full_page_writes and synchronous_commit on the cluster
#                (a throw-away CI server: faster database clones; never on a server with real data)
set -euo pipefail

FOR_TESTS=0
case "${1:-}" in
  --for-tests) FOR_TESTS=1 ;;
  "") ;;
  *) echo "usage: bash scripts/postgres.sh [--for-tests]" >&2; exit 2 ;;
esac

ROLE="${GISAPP_PG_ROLE:-gisapp}"
PASSWORD="${GISAPP_PG_PASSWORD:-gisapp}"
DB="${GISAPP_PG_DB:-gisapp}"
TEMPLATE="${DB}_template"

die() { echo "postgres.sh: $*" >&2; exit 1; }

command -v pg_lsclusters >/dev/null 2>&1 || die "PostgreSQL is not installed (run scripts/system-deps.sh as root)"
if [ "$(id -u)" -eq 0 ]; then
  as_postgres() { runuser -u postgres -- "$@"; }
elif [ "$(id -un)" = postgres ]; then
  as_postgres() { "$@"; }
else
  die "run as root or as the postgres user to start the server"
fi

# the first cluster of the newest installed version, created if there is none
cluster="$(pg_lsclusters -h 2>/dev/null | sort -k1,1nr | head -n 1 || true)"
if [ -z "$cluster" ]; then
  version="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
  [ -n "$version" ] || die "no PostgreSQL server version found in /usr/lib/postgresql"
  pg_createcluster "$version" main >/dev/null
  cluster="$(pg_lsclusters -h | sort -k1,1nr | head -n 1)"
fi
read -r version name port status _ <<<"$cluster"
[ -f "/usr/share/postgresql/$version/extension/postgis.control" ] \
  || die "PostGIS is not installed for PostgreSQL $version (apt-get install postgresql-$version-postgis-3)"
case "$status" in
  online*) ;;
  *) pg_ctlcluster "$version" "$name" start ;;
esac
for _ in $(seq 1 60); do
  pg_isready -q -p "$port" && break
  sleep 0.5
done
pg_isready -q -p "$port" || die "PostgreSQL $version/$name did not start on port $port"

psql_as_postgres() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

psql_as_postgres -d postgres -v role="$ROLE" -v password="$PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SQL
psql_as_postgres -d postgres -v role="$ROLE" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'role' || '_data')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role' || '_data') \gexec
SELECT format('GRANT %I TO %I', :'role' || '_data', :'role') \gexec
SQL
# the tests drop their throw-away databases WITH (FORCE), which may end other sessions' connections
psql_as_postgres -d postgres -c "GRANT pg_signal_backend TO \"$ROLE\"" >/dev/null
for database in "$DB" "$TEMPLATE"; do
  psql_as_postgres -d postgres -v db="$database" -v role="$ROLE" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  psql_as_postgres -d "$database" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS postgis"
done
psql_as_postgres -d postgres -v db="$TEMPLATE" <<'SQL'
SELECT format('ALTER DATABASE %I IS_TEMPLATE true', :'db') \gexec
SQL
if [ "$FOR_TESTS" -eq 1 ]; then
  psql_as_postgres -d postgres -c "ALTER SYSTEM SET fsync = off" -c "ALTER SYSTEM SET full_page_writes = off" \
    -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
fi

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
