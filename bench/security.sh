#!/usr/bin/env bash
# The price of security: put and get of a large file (replication 1 and 3) and the trivial
# job's latency (one small file, one reducer, warm) on a secure cluster (tokens,
# TLS on every channel: the default) against an `--insecure` one, in the same run, on the
# same disk. Gets from a client on the datanodes' machine are short-circuit reads (the
# request over TLS, the data from the files); `get (remote)` turns short-circuit off so the
# data streams over the transfer protocol (TLS on the secure cluster).
# Usage: bench/security.sh [SIZE_MIB] (default 256; ROUNDS=3). Target: put and get at most 10%
# slower.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
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

# Both clusters run side by side; every measure is taken ROUNDS times (default 3), alternating
# which cluster goes first, after a `sync` (so one cluster's writeback never lands in the other's
# figure), and the median is kept.
rounds=${ROUNDS:-3}
for kind in secure insecure; do
  flag=""; [ "$kind" = insecure ] && flag="--insecure"
  $mrctl cluster up --dir "$work/$kind" --datanodes 4 --racks 2 $flag >/dev/null
  # The same client without short-circuit reads: block data over the transfer protocol.
  sed 's/^short_circuit = true$/short_circuit = false/' "$work/$kind/client.toml" > "$work/$kind/remote.toml"
  $mrctl --config "$work/$kind/client.toml" fs put "$work/small.txt" /small.txt
  $mrctl --config "$work/$kind/client.toml" submit $bin/wordcount --wait -- /small.txt /warm --reducers 1 >/dev/null 2>&1
done

# Times `$2...` on cluster $1 (after a sync); appends the seconds to <kind>_<measure>_runs.
timed() {
  local kind=$1 name=$2; shift 2
  sync
  local t0 t1; t0=$(now); "$@"; t1=$(now)
  eval "${kind}_${name}_runs+=\" $(secs $t0 $t1)\""
}

one_round() {
  local kind=$1 r=$2
  local m="$mrctl --config $work/$kind/client.toml"
  timed "$kind" put1 $m fs put --replication 1 "$src" /bench/r1-$r.bin
  timed "$kind" get1 sh -c "$m fs cat /bench/r1-$r.bin > /dev/null"
  timed "$kind" getremote sh -c "$mrctl --config $work/$kind/remote.toml fs cat /bench/r1-$r.bin > /dev/null"
  timed "$kind" put3 $m fs put --replication 3 "$src" /bench/r3-$r.bin
  timed "$kind" get3 sh -c "$m fs cat /bench/r3-$r.bin > /dev/null"
  $m fs cat /bench/r3-$r.bin | cmp - "$src"
  $m fs rm -r /bench >/dev/null
  for i in 1 2; do
    timed "$kind" trivial sh -c "$m submit $bin/wordcount --wait -- /small.txt /trivial-$r-$i --reducers 1 >/dev/null 2>&1"
  done
}

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="secure insecure"; else order="insecure secure"; fi
  for kind in $order; do one_round "$kind" "$r"; done
done
for kind in secure insecure; do $mrctl cluster down --dir "$work/$kind" >/dev/null; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "file: $size_mib MiB; $rounds rounds, alternating; median seconds; ratio = secure / insecure (1.10 = 10% slower)"
printf '%-14s %10s %10s %7s\n' measure insecure secure ratio
for m in put1 get1 getremote put3 get3 trivial; do
  i=$(median "$(eval echo "\$insecure_${m}_runs")"); s=$(median "$(eval echo "\$secure_${m}_runs")")
  printf '%-14s %10s %10s %7s\n' "$m" "$i" "$s" "$(ratio $s $i)"
done
