#!/usr/bin/env bash
# Installs the pinned emulators into virtual environments outside the clone (idempotent):
# LocalStack community on a Python >= 3.12, and moto's server. Needs only PyPI.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"
# Callers evaluate what start.sh prints on stdout, so everything the installers say (pip, and the
# LocalStack package manager, which prints progress on first install) goes to stderr.
exec 1>&2

mkdir -p "$EMU_HOME" "$RUN_DIR"
command -v curl >/dev/null 2>&1 || { log "installing curl"; apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
command -v npm >/dev/null 2>&1 || { log "installing npm"; apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }

python312="$(find_python312)" || die "LocalStack needs Python >= 3.12; install one (e.g. 'pyenv install 3.12') and re-run"

# Each environment is installed from its lock file (localstack/requirements/*.txt: every package at
# an exact version with its hashes, compiled by localstack/lock.sh), so a machine next year installs
# what CI tested. The marker holds the lock's checksum: a changed lock reinstalls.
if [ "$(installed_lock "$LOCALSTACK_VENV")" != "$(lock_sum localstack)" ]; then
  log "installing LocalStack $LOCALSTACK_VERSION with $python312 into $LOCALSTACK_VENV (from requirements/localstack.txt)"
  install_locked "$LOCALSTACK_VENV" localstack "$python312"
  lock_sum localstack >"$LOCALSTACK_VENV/.installed"
fi

# Kinesis is served by kinesis-mock, which LocalStack would otherwise install itself on first use at
# whatever the npm registry then holds; npm ci installs the locked one where LocalStack looks for it.
kinesis_mock_dir="$EMU_HOME/localstack-fs/usr/lib/localstack/kinesis-local/$KINESIS_MOCK_VERSION"
kinesis_mock_lock="$REQUIREMENTS_DIR/kinesis-mock/package-lock.json"
grep -q "\"kinesis-local\": \"$KINESIS_MOCK_VERSION\"" "$REQUIREMENTS_DIR/kinesis-mock/package.json" ||
  die "requirements/kinesis-mock/package.json does not pin kinesis-mock $KINESIS_MOCK_VERSION (common.sh): run localstack/lock.sh"
if [ "$(installed_lock "$kinesis_mock_dir")" != "$(sha256sum "$kinesis_mock_lock" | cut -d' ' -f1)" ]; then
  log "installing kinesis-mock $KINESIS_MOCK_VERSION into $kinesis_mock_dir (from requirements/kinesis-mock)"
  rm -rf "$kinesis_mock_dir"
  mkdir -p "$kinesis_mock_dir"
  cp "$REQUIREMENTS_DIR/kinesis-mock/package.json" "$kinesis_mock_lock" "$kinesis_mock_dir/"
  (cd "$kinesis_mock_dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  sha256sum "$kinesis_mock_lock" | cut -d' ' -f1 >"$kinesis_mock_dir/.installed"
fi

if [ "$(installed_lock "$MOTO_VENV")" != "$(lock_sum moto)" ]; then
  log "installing moto $MOTO_VERSION into $MOTO_VENV (from requirements/moto.txt)"
  install_locked "$MOTO_VENV" moto "$python312"
  lock_sum moto >"$MOTO_VENV/.installed"
fi
log "emulators installed under $EMU_HOME"
