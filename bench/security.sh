#!/usr/bin/env bash
# The price of security: put and get of a large file (replication 1 and 3) and the trivial
# job's latency (one small file, one reducer, warm, median of 5) on a secure cluster (tokens,
# TLS on every channel: the default) against an `--insecure` one, in the same run, on the
# same disk. Gets from a client on the datanodes' machine are short-circuit reads (the
# request over TLS, the data from the files); `get (remote)` turns short-circuit off so the
# data streams over the transfer protocol (TLS on the secure cluster).
# Usage: bench/security.sh [SIZE_MIB] (default 512). Target: put and get at most 10% slower.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-512}
work=${BENCH_DIR:-target/bench-security}
cargo build --release --workspace --bins >/dev/null
bin=$PWD/target/release
mrctl=$bin/mrctl
for c in secure insecure; do
  [ -f "$work/$c/cluster.toml" ] && $mrctl cluster down --dir "$work/$c" >/dev/null 2>&1 || true
done
rm -rf "$work" && mkdir -p "$work"
trap 'for c in secure insecure; do $mrctl cluster down --dir "$work/$c" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

src="$work/input.bin"
# Incompressible data, generated (never committed).
python3 - "$src" "$size_mib" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    block = os.urandom(1 << 20)
    for i in range(int(sys.argv[2])):
        f.write(block[i % 97:] + block[:i % 97])
PY
cat "$src" > /dev/null
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "a small input line" > "$work/small.txt"

# Runs every measure on the cluster of kind $1 (secure|insecure); sets <kind>_<measure>.
measure() {
  local kind=$1 flag=""
  [ "$kind" = insecure ] && flag="--insecure"
  $mrctl cluster up --dir "$work/$kind" --datanodes 4 --racks 2 $flag >/dev/null
  local cfg="$work/$kind/client.toml"
  # The same client without short-circuit reads: block data over the transfer protocol.
  sed 's/^short_circuit = true$/short_circuit = false/' "$cfg" > "$work/$kind/remote.toml"
  local m="$mrctl --config $cfg" t0 t1
  t0=$(now); $m fs put -r 1 "$src" /bench/r1.bin; t1=$(now); eval "${kind}_put1=$(secs $t0 $t1)"
  t0=$(now); $m fs cat /bench/r1.bin > /dev/null; t1=$(now); eval "${kind}_get1=$(secs $t0 $t1)"
  t0=$(now); $mrctl --config "$work/$kind/remote.toml" fs cat /bench/r1.bin > /dev/null; t1=$(now)
  eval "${kind}_getremote=$(secs $t0 $t1)"
  t0=$(now); $m fs put -r 3 "$src" /bench/r3.bin; t1=$(now); eval "${kind}_put3=$(secs $t0 $t1)"
  t0=$(now); $m fs cat /bench/r3.bin > /dev/null; t1=$(now); eval "${kind}_get3=$(secs $t0 $t1)"
  $m fs cat /bench/r3.bin | cmp - "$src"
  $m fs put "$work/small.txt" /small.txt
  $m submit $bin/wordcount --wait -- /small.txt /warm --reducers 1 >/dev/null 2>&1
  local runs=()
  for i in 1 2 3 4 5; do
    t0=$(now); $m submit $bin/wordcount --wait -- /small.txt /trivial$i --reducers 1 >/dev/null 2>&1; t1=$(now)
    runs+=($(secs $t0 $t1))
  done
  eval "${kind}_trivial=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)"
  $mrctl cluster down --dir "$work/$kind" >/dev/null
}

# BENCH_ORDER="secure insecure" runs the secure cluster first (the machine is shared: run
# both orders when the load is uneven).
for kind in ${BENCH_ORDER:-insecure secure}; do measure "$kind"; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "file: $size_mib MiB; times in seconds; ratio = secure / insecure (1.10 = 10% slower)"
printf '%-14s %10s %10s %7s\n' measure insecure secure ratio
for m in put1 get1 getremote put3 get3 trivial; do
  i=$(eval echo "\$insecure_$m"); s=$(eval echo "\$secure_$m")
  printf '%-14s %10s %10s %7s\n' "$m" "$i" "$s" "$(ratio $s $i)"
done
