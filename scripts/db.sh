#!/usr/bin/env bash
# Project-local PostgreSQL cluster for the demo and the tests.
#
#   scripts/db.sh up       initialise (once) and start the cluster, create the algo_trade database
#   scripts/db.sh down     stop it (the data is kept)
#   scripts/db.sh status   say whether it runs, where its data is, and whether TimescaleDB is preloaded
#   scripts/db.sh url      print the connection URL
#   scripts/db.sh where    print the folder that holds the cluster
#   scripts/db.sh destroy  stop it and delete its data folder (asks first; --yes does not ask)
#
# Idempotent. Listens on 127.0.0.1 only (no Unix socket), on a non-standard port: ALGO_TRADE_PGPORT,
# default 54329 (the same default as algo_trade_core.DEFAULT_LOCAL_PORT; a test keeps them equal).
# As root, the server runs as the `postgres` system user (initdb and pg_ctl refuse root); as a normal
# user, it runs as that user. TimescaleDB is preloaded when its extension is installed.
#
# Where the cluster lives (the first that applies; `status` and `where` say which):
#   1. $ALGO_TRADE_PGDATA when set;
#   2. <project>/.pgdata when it holds a cluster, or when the server user can reach the project folder;
#   3. otherwise (e.g. a project under /root, mode 0700, started as root) a folder the server user owns,
#      one per project path: ~postgres/algo-trade/<folder name>-<hash of the path> as root,
#      ${XDG_STATE_HOME:-~/.local/state}/algo-trade/<...> as a normal user. Moving or renaming the project
#      folder therefore starts a new, empty cluster; the old one stays until `destroy`ed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)  # physical: the same key however it is reached
PORT=${ALGO_TRADE_PGPORT:-54329}
DB_USER=algo_trade
DB_NAME=algo_trade
PGBIN=${ALGO_TRADE_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

die() { echo "db.sh: $*" >&2; exit 1; }
case "$PORT" in '' | *[!0-9]*) die "ALGO_TRADE_PGPORT: expected a port number 1-65535, got '$PORT'" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "ALGO_TRADE_PGPORT: expected a port number 1-65535, got '$PORT'"

if [ "$(id -u)" -eq 0 ]; then
  RUN_AS=(runuser -u postgres --)
  OWNER=postgres
  getent passwd postgres >/dev/null || die "running as root needs the 'postgres' system user (install postgresql-15)"
else
  RUN_AS=()
  OWNER=$(id -un)
fi
# From /, so that the server user is not left in a folder it may not enter (every path here is absolute).
as_owner() { if [ "${#RUN_AS[@]}" -gt 0 ]; then (cd / && "${RUN_AS[@]}" "$@"); else "$@"; fi; }

# --- where the cluster lives -----------------------------------------------------------------------
owner_can_reach_project() {
  as_owner test -x "$ROOT" 2>/dev/null || return 1
  # As root, this script creates .pgdata and hands it to postgres; a normal user creates it itself.
  [ "$OWNER" = postgres ] || [ -w "$ROOT" ] || [ -w "$ROOT/.pgdata" ]
}

outside_dir() {
  local name hash base
  name=$(printf '%s' "$(basename "$ROOT")" | tr -c 'A-Za-z0-9._-' '_')
  hash=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  if [ "$OWNER" = postgres ]; then
    base=$(getent passwd postgres | cut -d: -f6)
    if [ -z "$base" ] || ! as_owner test -d "$base" -a -w "$base" 2>/dev/null; then base=/var/tmp; fi
  else
    base=${XDG_STATE_HOME:-$HOME/.local/state}
  fi
  echo "$base/algo-trade/$name-$hash"
}

PLACE=""  # why the cluster is where it is, for `status`
if [ -n "${ALGO_TRADE_PGDATA:-}" ]; then
  PGROOT=$ALGO_TRADE_PGDATA
  PLACE="set by ALGO_TRADE_PGDATA"
else
  INSIDE=$ROOT/.pgdata
  OUTSIDE=$(outside_dir)
  if [ -s "$INSIDE/data/PG_VERSION" ]; then
    PGROOT=$INSIDE
    owner_can_reach_project || die "user $OWNER cannot reach $ROOT, which holds this project's cluster in $INSIDE: \
let it in (chmod o+x on each parent folder), or move the folder and set ALGO_TRADE_PGDATA to it"
  elif [ -s "$OUTSIDE/data/PG_VERSION" ]; then
    PGROOT=$OUTSIDE
    PLACE="outside the project: user $OWNER cannot reach $ROOT"
  elif owner_can_reach_project; then
    PGROOT=$INSIDE
  else
    PGROOT=$OUTSIDE
    PLACE="outside the project: user $OWNER cannot reach $ROOT"
  fi
fi

DATA="$PGROOT/data"
LOG="$PGROOT/server.log"
SHAREDIR=$("$PGBIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)

timescaledb_installed() { [ -f "$SHAREDIR/extension/timescaledb.control" ]; }
preload() { if timescaledb_installed; then echo timescaledb; else echo ""; fi; }
has_cluster() { [ -s "$DATA/PG_VERSION" ]; }
is_running() { has_cluster && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }
psql_admin() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 "$@"; }
url() { echo "postgresql://$DB_USER@127.0.0.1:$PORT/$DB_NAME"; }
place() { echo "$PGROOT${PLACE:+ ($PLACE)}"; }

init_cluster() {
  if [ "$PGROOT" = "${OUTSIDE:-}" ]; then
    as_owner mkdir -p "$PGROOT" || die "user $OWNER cannot create $PGROOT"
  else
    mkdir -p "$PGROOT"
    if [ "$OWNER" = postgres ]; then chown postgres "$PGROOT"; fi
  fi
  if ! has_cluster; then
    if [ -n "$PLACE" ]; then echo "db.sh: the cluster lives in $(place)"; fi
    as_owner mkdir -p "$DATA" 2>/dev/null || true
    # The server user must be able to write there; say so plainly instead of failing in initdb.
    as_owner test -w "$DATA" \
      || die "user $OWNER cannot write to $DATA (check the permissions of its parent folders, or set ALGO_TRADE_PGDATA)"
    echo "db.sh: initialising a new cluster in $DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
}

start() {
  local want; want=$(preload)
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories= \
     -c shared_preload_libraries=$want -c max_connections=300 -c synchronous_commit=off \
     -c timescaledb.telemetry_level=off -c max_locks_per_transaction=256 \
     -c shared_buffers=1GB -c max_wal_size=4GB -c wal_buffers=64MB" >/dev/null \
    || { tail -n 20 "$LOG" >&2; die "the server did not start (log: $LOG)"; }
}

stop() { as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null; }

up() {
  init_cluster
  if is_running; then
    local have want running; want=$(preload); running=$(running_port)
    if [ "$running" != "$PORT" ]; then
      echo "db.sh: the cluster runs on port $running; restarting it on $PORT (ALGO_TRADE_PGPORT)"
      stop
      start
    else
      have=$(psql_admin -tAc "SHOW shared_preload_libraries" 2>/dev/null || true)
      if [ "$have" != "$want" ]; then
        echo "db.sh: restarting to change shared_preload_libraries from '$have' to '$want'"
        stop
        start
      fi
    fi
  else
    start
  fi
  if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE $DB_NAME"
  fi
  echo "db.sh: PostgreSQL running at $(url) (TimescaleDB: $(timescaledb_installed && echo preloaded || echo 'not installed')); data in $(place)"
}

down() {
  if is_running; then
    stop
    echo "db.sh: stopped (data kept in $(place))"
  else
    echo "db.sh: not running (data folder: $(place))"
  fi
}

status() {
  if is_running; then
    local port; port=$(running_port)
    if [ "$port" != "$PORT" ]; then
      echo "running on port $port, not on ALGO_TRADE_PGPORT=$PORT (\`make db-up\` restarts it there); data in $(place)"
      return 0
    fi
    echo "running at $(url); data in $(place); preload: '$(psql_admin -tAc 'SHOW shared_preload_libraries')'"
  else
    echo "not running (data folder: $(place))"; return 3
  fi
}

destroy() {
  if ! [ -e "$PGROOT" ]; then echo "db.sh: nothing to delete ($PGROOT does not exist)"; return 0; fi
  if [ "${1:-}" != "--yes" ]; then
    [ -t 0 ] || die "destroy deletes $PGROOT and every candle and result in it; run it with --yes to confirm"
    read -r -p "Delete $PGROOT and every candle and result in it? Type 'yes': " answer
    [ "$answer" = yes ] || die "kept $PGROOT"
  fi
  if is_running; then stop; fi
  rm -rf -- "$PGROOT"
  echo "db.sh: deleted $PGROOT"
}

need_server() {
  [ -x "$PGBIN/pg_ctl" ] || die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin); install postgresql-15"
}

case "${1:-}" in
  up) need_server; up ;;
  down) need_server; down ;;
  status) need_server; status ;;
  url) url ;;
  where) echo "$PGROOT" ;;
  destroy) need_server; destroy "${2:-}" ;;
  *) echo "usage: $0 up|down|status|url|where|destroy [--yes]" >&2; exit 2 ;;
esac
