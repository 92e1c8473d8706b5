#!/usr/bin/env bash
# Project-local PostgreSQL cluster for the demo and the tests.
#
#   scripts/db.sh up       initialise (once) and start the cluster, create the algo_trade database
#   scripts/db.sh down     stop it (data is kept in .pgdata/)
#   scripts/db.sh status   say whether it runs, where, and whether TimescaleDB is preloaded
#   scripts/db.sh url      print the connection URL
#
# Idempotent. Listens on 127.0.0.1 only, on a non-standard port (ALGO_TRADE_PGPORT, default 54329).
# As root, the server runs as the `postgres` system user (initdb and pg_ctl refuse root); as a normal
# user, it runs as that user. TimescaleDB is preloaded when its extension is installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGROOT=${ALGO_TRADE_PGDATA:-$ROOT/.pgdata}
PORT=${ALGO_TRADE_PGPORT:-54329}
DB_USER=algo_trade
DB_NAME=algo_trade
PGBIN=${ALGO_TRADE_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

die() { echo "db.sh: $*" >&2; exit 1; }
[ -x "$PGBIN/pg_ctl" ] || die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin); install postgresql-15"

if [ "$(id -u)" -eq 0 ]; then
  RUN_AS=(runuser -u postgres --)
  OWNER=postgres
else
  RUN_AS=()
  OWNER=$(id -un)
fi
as_owner() { "${RUN_AS[@]}" "$@"; }

DATA="$PGROOT/data"
SOCK="$PGROOT/run"
LOG="$PGROOT/server.log"
SHAREDIR=$("$PGBIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)

timescaledb_installed() { [ -f "$SHAREDIR/extension/timescaledb.control" ]; }
preload() { if timescaledb_installed; then echo timescaledb; else echo ""; fi; }
is_running() { as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
psql_admin() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 "$@"; }

init_cluster() {
  mkdir -p "$PGROOT"
  if [ ! -s "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA" "$SOCK"
    [ -n "${RUN_AS[*]}" ] && chown -R "$OWNER" "$PGROOT"
    # The server user must be able to reach the folder; say so plainly instead of failing in initdb.
    as_owner test -w "$DATA" || die "user $OWNER cannot write to $DATA (check the permissions of its parent folders)"
    echo "db.sh: initialising a new cluster in $DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  mkdir -p "$SOCK"
  [ -n "${RUN_AS[*]}" ] && chown "$OWNER" "$SOCK" "$PGROOT"
  true
}

start() {
  local want; want=$(preload)
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCK \
     -c shared_preload_libraries=$want -c max_connections=300 -c synchronous_commit=off \
     -c timescaledb.telemetry_level=off -c max_locks_per_transaction=256 \
     -c shared_buffers=1GB -c max_wal_size=4GB -c wal_buffers=64MB" >/dev/null \
    || { tail -n 20 "$LOG" >&2; die "the server did not start (log: $LOG)"; }
}

up() {
  init_cluster
  if is_running; then
    local have want; have=$(psql_admin -tAc "SHOW shared_preload_libraries" 2>/dev/null || true); want=$(preload)
    if [ "$have" != "$want" ]; then
      echo "db.sh: restarting to change shared_preload_libraries from '$have' to '$want'"
      as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null
      start
    fi
  else
    start
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE $DB_NAME"
  fi
  echo "db.sh: PostgreSQL running at $(url) (TimescaleDB: $(timescaledb_installed && echo preloaded || echo 'not installed'))"
}

down() {
  if [ -s "$DATA/PG_VERSION" ] && is_running; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null
    echo "db.sh: stopped"
  else
    echo "db.sh: not running"
  fi
}

status() {
  if [ -s "$DATA/PG_VERSION" ] && is_running; then
    echo "running at $(url); data in $DATA; preload: '$(psql_admin -tAc 'SHOW shared_preload_libraries')'"
  else
    echo "not running (data folder: $DATA)"; return 3
  fi
}

url() { echo "postgresql://$DB_USER@127.0.0.1:$PORT/$DB_NAME"; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
