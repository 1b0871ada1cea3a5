#!/usr/bin/env bash
# Namenode metadata: durable mkdirs/s from 64 concurrent tasks (against a no-op RPC from the
# same tasks, in this run), and namenode RSS after creating 1,000,000 one-block files.
# Usage: bench/metadata.sh [FILES] (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000000}
work=${BENCH_DIR:-target/bench-meta}
cargo build --release --workspace --bins >/dev/null
mrctl=target/release/mrctl
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$mrctl cluster up --dir "$work" --datanodes 3 --racks 2 >/dev/null
nn=$(sed -n 's/^namenode_addr = "\(.*\)"/\1/p' "$work/client.toml")
pid=$(cat "$work/pids/namenode")
echo "== durable mkdirs, 64 tasks"
target/release/nnbench --namenode "$nn" --tasks 64 mkdirs --seconds 10
# A fresh namenode for the memory figure: the mkdirs above must not count.
$mrctl cluster down --dir "$work" >/dev/null
rm -rf "$work" && mkdir -p "$work"
$mrctl cluster up --dir "$work" --datanodes 3 --racks 2 >/dev/null
nn=$(sed -n 's/^namenode_addr = "\(.*\)"/\1/p' "$work/client.toml")
pid=$(cat "$work/pids/namenode")
echo "== $files one-block files"
target/release/nnbench --namenode "$nn" --tasks 64 files --count "$files" --pid "$pid"
