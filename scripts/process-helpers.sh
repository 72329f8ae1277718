# Shared by scripts/kafka.sh, scripts/debezium.sh and scripts/private-db.sh (sourced): ports, pid files,
# starting, stopping and killing background servers (a JVM, a MariaDB of our own). The sourcing script
# defines say().

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Whether process $1 runs: one of its threads is neither a zombie nor dead. A server killed with SIGKILL
# stays a zombie until pid 1 reaps it, and must not look like one still running; but its main thread
# turns zombie before the others have exited and closed its files and ports, so every thread counts.
process_running() {
  [ -n "$1" ] && [ -d "/proc/$1" ] || return 1
  # A thread may exit between the glob and cat: cat then fails, and must not decide (pipefail).
  { cat /proc/"$1"/task/*/status 2>/dev/null || true; } | awk '/^State:/ && $2 != "Z" && $2 != "X" { alive = 1 } END { exit !alive }'
}

# Prints the pid in pid file $1 when that process is alive.
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid=$(cat "$1")
  process_running "$pid" && echo "$pid"
}

# SIGKILL, as a power cut would, of the process of pid file $2 (named $1 in messages) together with its
# process group and its children (each child of PostgreSQL leads a group of its own), then waits until
# all are gone. The process is stopped first so that it forks nothing meanwhile. The pid file stays
# behind, as after a crash.
kill_process_tree() {
  local name=$1 file=$2 pid pids
  if ! pid=$(pid_alive "$file"); then say "$name not running"; return 0; fi
  kill -STOP "$pid"
  pids=$(ps -e -o pid=,ppid=,pgid= | awk -v leader="$pid" '$1 == leader || $2 == leader || $3 == leader { print $1 }')
  local others=$(($(wc -w <<< "$pids") - 1))
  say "killing $name with SIGKILL (pid $pid$([ "$others" -gt 0 ] && echo " and its $others child processes"))"
  # shellcheck disable=SC2086 # one pid per word
  kill -KILL $pids 2>/dev/null || true
  local deadline=$((SECONDS + 30)) left
  while :; do
    left=""
    for pid in $pids; do if process_running "$pid"; then left="$left $pid"; fi; done
    [ -n "$left" ] || return 0
    [ $SECONDS -lt $deadline ] || { say "$name: processes$left still run 30s after SIGKILL"; return 1; }
    sleep 0.1
  done
}

# Stops the process of pid file $2 (named $1 in messages): SIGTERM, then SIGKILL after 30 s.
stop_pid() {
  local name=$1 file=$2 pid
  if ! pid=$(pid_alive "$file"); then say "$name not running"; rm -f "$file"; return 0; fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while process_running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  process_running "$pid" && { say "$name did not stop in 30s: killing"; kill -KILL "$pid"; }
  rm -f "$file"
}

# Starts a JVM in its own session with the flags both services use: heap $3 (-Xmx), then $4, one
# string of further arguments as the shell would read them (quotes allowed); output goes to log $1,
# the pid to file $2.
launch_jvm() {
  local logfile=$1 pidfile=$2 heap=$3 args=$4
  setsid bash -c "exec java -Xms256m -Xmx$heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true $args" \
    >"$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

# Starts a MariaDB server of our own — never the machine's main one — from folder $1 (data/,
# mariadbd.sock, mariadbd.pid, mariadbd.log; the data directory is created on first use) on
# 127.0.0.1:$2, named $3 in messages, $4 naming the variable that sets its port; further arguments go
# to mariadbd. Same durability and character set as the main server (InnoDB fsync at each commit,
# utf8mb4, defaults otherwise); root logs in over TCP from 127.0.0.1 without a password, like there.
start_mariadb_server() {
  local home=$1 port=$2 name=$3 port_variable=$4; shift 4
  local data=$home/data socket=$home/mariadbd.sock pidfile=$home/mariadbd.pid log=$home/mariadbd.log pid
  if pid=$(pid_alive "$pidfile"); then say "$name already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if port_open "$port"; then say "port $port is taken by another process: set $port_variable"; exit 1; fi
  command -v mariadbd >/dev/null || { say "MariaDB is required (apt-get install mariadb-server)"; exit 1; }
  mkdir -p "$home"
  if [ ! -d "$data/mysql" ]; then
    say "creating a MariaDB data directory in $data (first run only)"
    rm -rf "$data"
    mariadb-install-db --no-defaults --datadir="$data" --user=root \
      --auth-root-authentication-method=normal --skip-test-db >"$home/install.log" 2>&1 ||
      { tail -n 20 "$home/install.log" >&2; exit 1; }
  fi
  say "starting $name on 127.0.0.1:$port (log: $log)"
  setsid mariadbd --no-defaults --datadir="$data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$socket" --pid-file="$pidfile" --log-error="$log" --user=root \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-flush-log-at-trx-commit=1 "$@" >/dev/null 2>&1 < /dev/null &
  local launched=$! deadline=$((SECONDS + 60))
  until mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! process_running "$launched"; then
      say "$name did not start; last lines of $log:"; tail -n 20 "$log" >&2; exit 1
    fi
    sleep 0.3
  done
  mariadb --no-defaults --socket="$socket" -uroot -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
  say "$name ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}
