#!/usr/bin/env bash
# The main job on a laptop with no AWS account: start the local emulator stack, then plan and
# apply the reference pipeline (examples/clickstream.yaml) against it, and show that a second
# plan has nothing left to do. The emulators keep running; stop them with localstack/stop.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

eval "$(bash localstack/start.sh all)"
cargo build --locked --quiet
pipectl=target/debug/pipectl
[ -n "${CARGO_TARGET_DIR:-}" ] && pipectl="$CARGO_TARGET_DIR/debug/pipectl"
spec="${1:-examples/clickstream.yaml}"

echo "== pipectl plan -f $spec"
"$pipectl" plan -f "$spec" --localstack
echo
echo "== pipectl apply -f $spec --auto-approve"
"$pipectl" apply -f "$spec" --localstack --auto-approve
echo
echo "== pipectl plan -f $spec --detailed-exitcode (0: nothing left to do)"
"$pipectl" plan -f "$spec" --localstack --detailed-exitcode
