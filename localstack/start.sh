#!/usr/bin/env bash
# Starts the emulators on 127.0.0.1 without Docker and waits until they are healthy:
#   start.sh localstack   LocalStack community on :4566 (EMR and Firehose are routed to moto)
#   start.sh moto         moto's server on :5000
#   start.sh              both
# Installs them first if needed. Prints the environment to use with pipectl on stdout, and nothing
# else there: demo.sh and CI evaluate it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

which="${1:-all}"
bash "$here/install.sh" >&2
mkdir -p "$RUN_DIR"

is_running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_localstack() {
  local pid_file="$RUN_DIR/localstack-$LOCALSTACK_PORT.pid"
  if is_running "$pid_file"; then
    log "LocalStack already running (pid $(cat "$pid_file"))"
  else
    log "starting LocalStack $LOCALSTACK_VERSION on 127.0.0.1:$LOCALSTACK_PORT (log: $RUN_DIR/localstack-$LOCALSTACK_PORT.log)"
    (
      cd "$EMU_HOME"
      export OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$EMU_HOME/localstack-fs" GATEWAY_SERVER=hypercorn \
        GATEWAY_LISTEN="127.0.0.1:$LOCALSTACK_PORT" DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 \
        DISABLE_EVENTS=1 LOCALSTACK_TELEMETRY_DISABLED=1 SKIP_INFRA_DOWNLOADS=1 KINESIS_MOCK_VERSION="$KINESIS_MOCK_VERSION"
      nohup "$LOCALSTACK_VENV/bin/python" -m localstack.runtime.main >"$RUN_DIR/localstack-$LOCALSTACK_PORT.log" 2>&1 &
      echo $! >"$pid_file"
    )
  fi
  wait_for_http "http://127.0.0.1:$LOCALSTACK_PORT/_localstack/health" 120 LocalStack ||
    { tail -n 40 "$RUN_DIR/localstack-$LOCALSTACK_PORT.log" >&2; die "LocalStack did not become healthy in 120s"; }
}

start_moto() {
  local pid_file="$RUN_DIR/moto-$MOTO_PORT.pid"
  if is_running "$pid_file"; then
    log "moto already running (pid $(cat "$pid_file"))"
  else
    log "starting moto $MOTO_VERSION on 127.0.0.1:$MOTO_PORT (log: $RUN_DIR/moto-$MOTO_PORT.log)"
    MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" \
      >"$RUN_DIR/moto-$MOTO_PORT.log" 2>&1 &
    echo $! >"$pid_file"
  fi
  wait_for_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 60 moto ||
    { tail -n 40 "$RUN_DIR/moto-$MOTO_PORT.log" >&2; die "moto did not become healthy in 60s"; }
}

case "$which" in
  localstack) start_localstack ;;
  moto) start_moto ;;
  all) start_localstack; start_moto ;;
  *) die "usage: start.sh [localstack|moto|all]" ;;
esac
bash "$here/env.sh" "$which"
