#!/usr/bin/env bash
# put and get of a large file on a local cluster, against cp and cat of the same file on the
# same disk, measured in this run. Usage: bench/dfs_io.sh [SIZE_MIB] (default 2048).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-2048}
work=${BENCH_DIR:-target/bench-io}
cargo build --release --workspace --bins >/dev/null
mrctl=target/release/mrctl
[ -f "$work/cluster.toml" ] && $mrctl cluster down --dir "$work" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

src="$work/input.bin"
# Incompressible data, generated (never committed).
python3 - "$src" "$size_mib" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    block = os.urandom(1 << 20)
    for i in range(int(sys.argv[2])):
        f.write(block[i % 97:] + block[:i % 97])
PY
bytes=$(stat -c %s "$src")
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
mbps() { python3 -c "print(f'{$bytes / ($2 - $1) / 2**20:.0f}')"; }

cat "$src" > /dev/null   # warm the page cache for every contender alike
t0=$(now); cp "$src" "$work/copy.bin"; t1=$(now)
cp_s=$(secs $t0 $t1); rm "$work/copy.bin"
t0=$(now); cat "$src" > /dev/null; t1=$(now); cat_s=$(secs $t0 $t1)

$mrctl cluster up --dir "$work/cluster" --datanodes 4 --racks 2 >/dev/null
export MRCTL_CONFIG="$work/cluster/client.toml"
t0=$(now); $mrctl fs put --replication 1 "$src" /bench/r1.bin; t1=$(now); put1_s=$(secs $t0 $t1)
t0=$(now); $mrctl fs cat /bench/r1.bin > /dev/null; t1=$(now); get1_s=$(secs $t0 $t1)
t0=$(now); $mrctl fs put --replication 3 "$src" /bench/r3.bin; t1=$(now); put3_s=$(secs $t0 $t1)
t0=$(now); $mrctl fs cat /bench/r3.bin > /dev/null; t1=$(now); get3_s=$(secs $t0 $t1)
$mrctl fs cat /bench/r1.bin | cmp - "$src"
$mrctl cluster down --dir "$work/cluster" >/dev/null

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "file: $size_mib MiB"
echo "cp:  ${cp_s}s   cat: ${cat_s}s"
echo "put r=1: ${put1_s}s  throughput vs cp:  $(ratio $cp_s $put1_s)x (target >= 0.5)"
echo "get r=1: ${get1_s}s  throughput vs cat: $(ratio $cat_s $get1_s)x (target >= 0.5)"
echo "put r=3: ${put3_s}s  throughput vs cp:  $(ratio $cp_s $put3_s)x"
echo "get r=3: ${get3_s}s  throughput vs cat: $(ratio $cat_s $get3_s)x"
