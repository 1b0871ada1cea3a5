#!/usr/bin/env bash
# The control plane's figures (issue 11), each a ratio against a baseline in the same run:
# the stall scenario (a worker killed while reducers hold every other slot) against the same
# job undisturbed, and a job tracker's restart to the job's first new attempt against a
# fresh submit to its first attempt. The short-job-while-a-long-one-runs figure is
# bench/mr_sharing.sh's.
# Usage: bash bench/control_plane.sh [LINES_PER_FILE (150000)]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >/dev/null
exec target/release/cpbench "$@"
