#!/usr/bin/env bash
# Database servers of the fault tests' own — never the machine's shared MariaDB (3306) and PostgreSQL
# (5432) —, so a test may kill one with SIGKILL mid-load or restore it from a dump:
#  - MariaDB on 127.0.0.1:${PRIVATE_MARIADB_PORT:-13306}, root over TCP without a password, utf8mb4,
#    InnoDB fsync at each commit (the same start as scripts/debezium.sh's server: process-helpers.sh);
#  - PostgreSQL on 127.0.0.1:${PRIVATE_POSTGRES_PORT:-15432}, superuser postgres with trust auth from
#    127.0.0.1 only, fsync on, run as the postgres OS user (binaries: ${POSTGRES_BIN_DIR:-newest
#    /usr/lib/postgresql/*/bin}).
# Each keeps its data in .cache/private-<engine>-<port> (under EMPSYNC_CACHE_DIR when set).
# `kill` is a crash: SIGKILL to the server and its processes; the next `start` recovers from it.
# `dump DB FILE` / `restore DB FILE`: mariadb-dump (routines, triggers, one snapshot) or pg_dump -Fc;
# restore ends the other sessions of DB, drops it, and recreates it from FILE.
# PRIVATE_DB_TLS_DIR (ca.pem, server.pem, server-key.pem): the server requires TLS with that certificate
# (MariaDB: require_secure_transport; PostgreSQL: hostssl only) — the tests of MYSQL_TLS and POSTGRES_TLS.
# Usage: scripts/private-db.sh <mariadb|postgres> start [--fresh] | stop | kill | status | dump DB FILE | restore DB FILE
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EMPSYNC_CACHE_DIR:-$root/.cache}
engine=${1:-}
command=${2:-}

say() { printf '[private-db] %s\n' "$*" >&2; }
usage() {
  echo "usage: $0 <mariadb|postgres> start [--fresh] | stop | kill | status | dump DB FILE | restore DB FILE" >&2
  exit 2
}

. "$(dirname "$0")/process-helpers.sh"

case "$engine" in
  mariadb)
    port=${PRIVATE_MARIADB_PORT:-13306}
    name="private MariaDB"
    home=$cache_root/private-mariadb-$port
    pidfile=$home/mariadbd.pid
    ;;
  postgres)
    port=${PRIVATE_POSTGRES_PORT:-15432}
    name="private PostgreSQL"
    home=$cache_root/private-postgres-$port
    # Written at each start from postmaster.pid, whose first line alone is the pid.
    pidfile=$home/postgres.pid
    data=$home/data
    log=$home/postgres.log
    pg_bin=${POSTGRES_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
    ;;
  *) usage ;;
esac

# --fresh: whatever ran from this folder stops, and the folder goes.
wipe() {
  "${engine}_stop"
  say "wiping $home"
  rm -rf "$home"
}

# The TLS files copied beside the data, readable by the server's user only.
tls_files() {
  [ -n "${PRIVATE_DB_TLS_DIR:-}" ] || return 0
  mkdir -p "$home/tls"
  cp "$PRIVATE_DB_TLS_DIR"/{ca.pem,server.pem,server-key.pem} "$home/tls/"
  chmod 600 "$home/tls/server-key.pem"
  [ "$engine" = postgres ] && [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$home/tls"
  return 0
}

mariadb_start() {
  [ "${1:-}" = --fresh ] && wipe
  local tls=()
  if [ -n "${PRIVATE_DB_TLS_DIR:-}" ]; then
    tls_files
    tls=(--ssl-ca="$home/tls/ca.pem" --ssl-cert="$home/tls/server.pem" --ssl-key="$home/tls/server-key.pem" --require-secure-transport=ON)
  fi
  start_mariadb_server "$home" "$port" "$name" PRIVATE_MARIADB_PORT "${tls[@]}"
}

mariadb_stop() { stop_pid "$name" "$pidfile"; }

mariadb_client() { mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -uroot "$@"; }

mariadb_dump() {
  mariadb-dump --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -uroot --single-transaction --routines --triggers \
    --add-drop-database --databases "$1" --result-file="$2"
}

mariadb_restore() {
  local database=$1 file=$2 id
  grep -q "^USE \`$database\`;" "$file" || { say "$file holds no dump of database $database"; exit 1; }
  for id in $(mariadb_client -N -e "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '$database' AND ID <> CONNECTION_ID()"); do
    mariadb_client -e "KILL CONNECTION $id" 2>/dev/null || true # it may have ended meanwhile
  done
  # A session that came back in between may hold a table lock: give up after 30 s instead of a year.
  mariadb_client -e "SET SESSION lock_wait_timeout = 30; DROP DATABASE IF EXISTS \`$database\`"
  mariadb_client < "$file"
}

# PostgreSQL refuses to run as root: its server and data belong to the postgres OS user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  [ "${1:-}" = --fresh ] && wipe
  local pid
  if pid=$(pid_alive "$pidfile"); then say "$name already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if port_open "$port"; then say "port $port is taken by another process: set PRIVATE_POSTGRES_PORT"; exit 1; fi
  [ -x "$pg_bin/postgres" ] || { say "PostgreSQL is required (apt-get install postgresql) or set POSTGRES_BIN_DIR"; exit 1; }
  mkdir -p "$home"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$home"
  as_postgres test -w "$home" || { say "the postgres user cannot write to $home: set EMPSYNC_CACHE_DIR to a folder it can reach"; exit 1; }
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in $data (first run only)"
    rm -rf "$data"
    as_postgres "$pg_bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$home/initdb.log" 2>&1 || { tail -n 20 "$home/initdb.log" >&2; exit 1; }
    cat >> "$data/postgresql.conf" <<CONF
# scripts/private-db.sh: reachable from this machine only, as durable as the shared server.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$home'
fsync = on
synchronous_commit = on
full_page_writes = on
CONF
  fi
  # Written at each start: with PRIVATE_DB_TLS_DIR, TCP clients must use TLS.
  local options=""
  if [ -n "${PRIVATE_DB_TLS_DIR:-}" ]; then
    tls_files
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' > "$data/pg_hba.conf"
    options="-c ssl=on -c ssl_cert_file=$home/tls/server.pem -c ssl_key_file=$home/tls/server-key.pem -c ssl_ca_file=$home/tls/ca.pem"
  else
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$data/pg_hba.conf"
  fi
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$data/pg_hba.conf"
  # After a kill the postmaster may linger as a zombie until pid 1 reaps it; PostgreSQL would take
  # it for a live server holding its lock files, where after a real crash there is no process at all.
  local lock
  for lock in "$data/postmaster.pid" "$home/.s.PGSQL.$port.lock"; do
    if [ -f "$lock" ] && ! process_running "$(head -n 1 "$lock")"; then rm -f "$lock"; fi
  done
  say "starting $name on 127.0.0.1:$port (log: $log)"
  # pg_ctl starts the server in a session of its own, so `kill` reaches all its processes at once.
  if ! as_postgres "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t 60 ${options:+-o "$options"} start >/dev/null; then
    say "$name did not start; last lines of $log:"; tail -n 20 "$log" >&2; exit 1
  fi
  head -n 1 "$data/postmaster.pid" > "$pidfile"
  say "$name ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

postgres_stop() {
  local pid
  if ! pid=$(pid_alive "$pidfile"); then say "$name not running"; return 0; fi
  say "stopping $name (pid $pid)"
  # fast: open sessions are ended, unlike the default smart mode that waits for them.
  as_postgres "$pg_bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
}

postgres_dump() { "$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -f "$2" "$1"; }

postgres_restore() {
  # WITH (FORCE) ends the other sessions of the database first; pg_restore --create then recreates it
  # with its dumped encoding and locale.
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
  "$pg_bin/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d postgres --create --exit-on-error "$2"
}

case "$command" in
  start) "${engine}_start" "${3:-}" ;;
  stop) "${engine}_stop" ;;
  kill) kill_process_tree "$name" "$pidfile" ;;
  status) if pid=$(pid_alive "$pidfile"); then echo "running (pid $pid) on 127.0.0.1:$port"; else echo "stopped"; exit 1; fi ;;
  dump | restore)
    [ $# -eq 4 ] || usage
    [[ $3 =~ ^[A-Za-z0-9_]+$ ]] || { say "database names are letters, digits and _ only: $3"; exit 2; }
    "${engine}_$command" "$3" "$4"
    ;;
  *) usage ;;
esac
