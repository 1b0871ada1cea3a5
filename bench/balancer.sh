#!/usr/bin/env bash
# The balancer's measured throughput against its bandwidth setting, in one run: a local cluster
# of 3 datanodes capped at 64 MiB each holds 24 MiB per node (1 MiB blocks, replication 3); an
# empty datanode is added with `cluster up --datanodes N` and `mrctl admin balance --bandwidth B`
# evens it out, once per setting (each run adds one more empty datanode). The balancer prints
# the bytes it moved, the time and the rate; the ratio is rate / bandwidth (1.00: the setting is
# met exactly; below 1: time spent waiting for copies and heartbeats, not throttling).
# Usage: bench/balancer.sh [B1 B2 B3] (MiB/s; default 2 4 8).
set -euo pipefail
cd "$(dirname "$0")/.."
settings=${*:-2 4 8}
work=${BENCH_DIR:-target/bench-balancer}
cargo build --release --workspace --bins >/dev/null
mrctl=$PWD/target/release/mrctl
[ -f "$work/cluster.toml" ] && $mrctl cluster down --dir "$work" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

$mrctl cluster up --dir "$work" --datanodes 3 --workers 1 --racks 2 --datanode-capacity 64m >/dev/null
cfg=$work/client.toml
python3 - "$work/input.bin" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(8 << 20))
PY
for i in 0 1 2; do
  $mrctl --config "$cfg" fs put --block-size 1048576 "$work/input.bin" "/bench/f$i"
done

printf '| bandwidth (MiB/s) | moved | seconds | measured (MiB/s) | ratio |\n|---|---|---|---|---|\n'
n=3
for b in $settings; do
  n=$((n + 1))
  $mrctl cluster up --dir "$work" --datanodes $n >/dev/null
  out=$($mrctl --config "$cfg" admin balance --threshold 5 --bandwidth "$b")
  line=$(grep '^balanced' <<<"$out")
  # "balanced: ... moved 11.0 MiB in 5.6 s (1.96 MiB/s, bandwidth 2 MiB/s)"
  python3 - "$line" "$b" <<'PY'
import re, sys
line, b = sys.argv[1], float(sys.argv[2])
m = re.search(r"moved (.+?) in ([0-9.]+) s \(([0-9.]+) MiB/s", line)
moved, secs, rate = m.group(1), float(m.group(2)), float(m.group(3))
print(f"| {b:g} | {moved} | {secs:.1f} | {rate:.2f} | {rate / b:.2f} |")
PY
done
