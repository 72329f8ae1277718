#!/usr/bin/env bash
# Makes sure the local dependencies answer: MariaDB/MySQL on 3306, PostgreSQL on 5432 (started when
# installed but stopped), npm dependencies installed, and the local Kafka broker running.
# For the test of this script (test/scripts/ensure-services.test.ts), which must not stop the machine's
# shared servers: MYSQL_PORT / POSTGRES_PORT are the ports checked, EMPSYNC_MARIADB_START /
# EMPSYNC_POSTGRES_START replace the commands that start a stopped server (run by bash -c), and
# EMPSYNC_ENSURE_ONLY=databases skips the npm and Kafka steps (default: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mysql_port=${MYSQL_PORT:-3306}
postgres_port=${POSTGRES_PORT:-5432}

say() { printf '[empsync] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2 deadline=$((SECONDS + 30))
  while ! port_open "$port"; do
    [ $SECONDS -lt $deadline ] || { say "$name did not start listening on 127.0.0.1:$port"; return 1; }
    sleep 0.5
  done
}

ensure_node_modules() {
  if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
}

ensure_mysql() {
  port_open "$mysql_port" && return 0
  if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
    say "MariaDB is installed but stopped: starting it"
    bash -c "${EMPSYNC_MARIADB_START:-start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd}" || true
  elif [ -x /usr/sbin/mysqld ]; then
    say "MySQL is installed but stopped: starting it"
    bash -c "${EMPSYNC_MARIADB_START:-start-stop-daemon --start --oknodo --background --exec /usr/sbin/mysqld}" || true
  else
    say "MySQL/MariaDB is not running on 127.0.0.1:$mysql_port and is not installed (apt-get install mariadb-server)"; return 1
  fi
  wait_port "$mysql_port" MariaDB
}

ensure_postgres() {
  port_open "$postgres_port" && return 0
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    say "PostgreSQL is installed but stopped: starting it"
    bash -c "${EMPSYNC_POSTGRES_START:-pg_ctlcluster --skip-systemctl-redirect \"\$(ls /etc/postgresql | sort -V | tail -n 1)\" main start}" || true
  else
    say "PostgreSQL is not running on 127.0.0.1:$postgres_port and is not installed (apt-get install postgresql)"; return 1
  fi
  wait_port "$postgres_port" PostgreSQL
}

case "${EMPSYNC_ENSURE_ONLY:-all}" in
  all)
    ensure_node_modules
    ensure_mysql
    ensure_postgres
    bash "$root/scripts/kafka.sh" start
    ;;
  databases)
    ensure_mysql
    ensure_postgres
    ;;
  *) say "EMPSYNC_ENSURE_ONLY is all or databases, not ${EMPSYNC_ENSURE_ONLY}"; exit 2 ;;
esac
