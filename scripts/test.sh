#!/usr/bin/env bash
# Runs every check: formatting, lints, then all tests (unit and integration). The integration
# tests start real daemons, so the release binaries are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo build --release --workspace --bins
cargo test --release --workspace --no-fail-fast
