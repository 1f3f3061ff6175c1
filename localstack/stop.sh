#!/usr/bin/env bash
# Stops the emulators started by start.sh (all of them, or the one named).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

for name in ${1:-localstack moto}; do
  case "$name" in
    localstack) pid_file="$RUN_DIR/localstack-$LOCALSTACK_PORT.pid" ;;
    *) pid_file="$RUN_DIR/moto-$MOTO_PORT.pid" ;;
  esac
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    pid="$(cat "$pid_file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$pid_file"
done
