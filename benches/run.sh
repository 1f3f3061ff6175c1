#!/usr/bin/env bash
# Runs the benchmark suite: builds pipectl and pipectl-proxy (release, or debug for --smoke),
# starts a moto server of its own on 127.0.0.1:5700, runs benches/bench.py and stops moto.
# Full runs rewrite BENCHMARKS.md.   benches/run.sh [--smoke] [--runs N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PIPECTL_MOTO_PORT="${PIPECTL_BENCH_MOTO_PORT:-5700}"
profile=release
case " $* " in *" --smoke "*) profile=debug ;; esac
# Both binaries: pipectl and the proxy (its own crate of the workspace), into the workspace's
# target dir, where bench.py looks by default.
if [ "$profile" = release ]; then
  cargo build --locked --release --workspace --bins
else
  cargo build --locked --workspace --bins
fi
bash localstack/start.sh moto >/dev/null
trap 'bash localstack/stop.sh moto' EXIT
# shellcheck source=../localstack/common.sh
source localstack/common.sh
"$MOTO_VENV/bin/python" benches/bench.py "$@"
