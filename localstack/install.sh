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

python312="$(find_python312)" || die "LocalStack needs Python >= 3.12; install one (e.g. 'pyenv install 3.12') and re-run"

if [ ! -f "$LOCALSTACK_VENV/.installed" ]; then
  log "installing LocalStack $LOCALSTACK_VERSION with $python312 into $LOCALSTACK_VENV"
  rm -rf "$LOCALSTACK_VENV"
  "$python312" -m venv "$LOCALSTACK_VENV"
  "$LOCALSTACK_VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # The extra pins keep LocalStack importable with today's releases of its dependencies.
  "$LOCALSTACK_VENV/bin/pip" install -q --disable-pip-version-check \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" 'cbor2<6' 'pyopenssl<26' 'cryptography<47' service-identity
  # Kinesis is served by kinesis-mock, which LocalStack otherwise downloads on first use.
  (cd "$EMU_HOME" && OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$EMU_HOME/localstack-fs" \
    "$LOCALSTACK_VENV/bin/python" -m localstack.cli.lpm install kinesis-mock)
  touch "$LOCALSTACK_VENV/.installed"
fi

if [ ! -f "$MOTO_VENV/.installed" ]; then
  log "installing moto $MOTO_VERSION into $MOTO_VENV"
  rm -rf "$MOTO_VENV"
  "$python312" -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$MOTO_VENV/.installed"
fi
log "emulators installed under $EMU_HOME"
