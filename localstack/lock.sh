#!/usr/bin/env bash
# Recompiles the lock files in requirements/ from their .in files: every Python package at an exact
# version with its hashes (pip-tools' pip-compile, on the Python install.sh uses), and
# kinesis-mock's package-lock.json. Existing pins are kept unless --upgrade is given:
#   lock.sh             add what a changed .in needs, keep the rest
#   lock.sh --upgrade   take today's releases (then run tests/run.sh before committing)
# Needs only PyPI and the npm registry.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

upgrade=()
[ "${1:-}" = "--upgrade" ] && upgrade=(--upgrade)
python312="$(find_python312)" || die "needs Python >= 3.12"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$python312" -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --disable-pip-version-check pip-tools
cd "$REQUIREMENTS_DIR"
for name in localstack moto parliament policy-sentry; do
  log "compiling requirements/$name.txt"
  "$tools/venv/bin/pip-compile" -q "${upgrade[@]}" --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-find-links --output-file "$name.txt" "$name.in"
done
log "locking kinesis-mock $KINESIS_MOCK_VERSION"
(cd kinesis-mock && npm pkg set "dependencies.kinesis-local=$KINESIS_MOCK_VERSION" &&
  npm install --package-lock-only --ignore-scripts --no-audit --no-fund)
log "done: review 'git diff localstack/requirements', then run tests/run.sh"
