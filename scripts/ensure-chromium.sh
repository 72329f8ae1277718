#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing: the GraphiQL browser test drives it headless through
# playwright-core (which downloads no browser of its own). Idempotent; prints nothing when present.
set -euo pipefail

[ -x /usr/bin/chromium ] && exit 0
echo "[empsync] installing Debian's chromium for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
