# Shared by scripts/kafka.sh and scripts/debezium.sh (sourced): ports, pid files, starting and stopping
# a background JVM. The sourcing script defines say().

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid in pid file $1 when that process is alive.
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Stops the process of pid file $2 (named $1 in messages): SIGTERM, then SIGKILL after 30 s.
stop_pid() {
  local name=$1 file=$2 pid
  if ! pid=$(pid_alive "$file"); then say "$name not running"; rm -f "$file"; return 0; fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && { say "$name did not stop in 30s: killing"; kill -KILL "$pid"; }
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
