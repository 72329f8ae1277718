#!/usr/bin/env bash
# Makes sure `prometheus` and `promtool` are on this machine (Debian's package) so the monitoring
# tests can check the config, the alert rules and their unit tests. Installs without starting the
# Debian service: the tests run their own Prometheus, never the system one. Prints promtool's path.
set -euo pipefail

say() { printf '[empsync] %s\n' "$*" >&2; }

find_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/bin/$1" ] && echo "/usr/bin/$1"; } || true; }

if [ -n "$(find_bin promtool)" ] && [ -n "$(find_bin prometheus)" ]; then
  find_bin promtool
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "prometheus/promtool missing and not root: run 'sudo apt-get install --no-install-recommends prometheus'"
  exit 1
fi

# policy-rc.d exit 101 = "action forbidden": dpkg's maintainer scripts then leave the service stopped.
# Keep an existing policy (e.g. the one of Docker images) and restore the machine as it was.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=true
fi
cleanup() { if [ "$created_policy" = true ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

say "installing prometheus (Debian package, service not started)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends prometheus >&2

# Belt and braces: a machine with systemd may have started it regardless of the policy.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus >&2 || true
  systemctl disable prometheus >&2 || true
fi

promtool=$(find_bin promtool)
[ -n "$promtool" ] || { say "promtool not found after installing prometheus"; exit 1; }
echo "$promtool"
