#!/usr/bin/env bash
# Fair sharing: a short job's completion time (`mrctl submit --wait`, a word count of one small
# file with one reducer) while a long job holds every slot, against the same short job alone on
# the same warm cluster, as a ratio in one run. The long job (`faultyjob`, LONG_MAPS maps of
# about 2 s each that sleep rather than compute, so the figure is the scheduler's, not the
# CPU's) takes every slot before the short job is submitted; no map is preempted, so the short
# job waits for the first slot that frees. Median of 3 each.
# Usage: bench/mr_sharing.sh [LONG_MAPS (48)]
set -euo pipefail
cd "$(dirname "$0")/.."
long_maps=${1:-48}
work=${BENCH_DIR:-target/bench-sharing}
cargo build --release --workspace --bins >/dev/null
bin=$PWD/target/release
mrctl=$bin/mrctl
[ -f "$work/cluster/cluster.toml" ] && $mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# Slots the default queue's jobs hold, and tasks they have waiting.
queue_use() {
  $mrctl job queues --json | python3 -c 'import json,sys; q=json.load(sys.stdin)[0]; print(q["running"], q["pending"])'
}

$mrctl cluster up --dir "$work/cluster" --datanodes 4 --racks 2 >/dev/null
export MRCTL_CONFIG="$work/cluster/client.toml"

echo "a small input line with a few words in it" > "$work/small.txt"
$mrctl fs put "$work/small.txt" /small.txt
for i in $(seq 1 "$long_maps"); do
  python3 -c "print('\n'.join('w%d x y z' % j for j in range(40)))" > "$work/long$i.txt"
  $mrctl fs put "$work/long$i.txt" "/long/f$i.txt"
done
# Warm: the binaries cached on every worker.
$mrctl submit $bin/wordcount --wait -- /small.txt /warm --reducers 1 >/dev/null 2>&1
$mrctl submit $bin/faultyjob --wait -- /small.txt /warm2 --reducers 1 >/dev/null 2>&1

alone=()
for i in 1 2 3; do
  t0=$(now); $mrctl submit $bin/wordcount --wait -- /small.txt /alone$i --reducers 1 >/dev/null 2>&1; t1=$(now)
  alone+=($(secs $t0 $t1))
done

shared=()
long_s=()
for i in 1 2 3; do
  t0=$(now)
  long=$($mrctl submit $bin/faultyjob -- /long /long-out$i --sleep-per-line 50 --reducers 1)
  # Until the long job holds every slot with maps still waiting.
  until read -r running pending < <(queue_use) && [ "$running" -ge 4 ] && [ "$pending" -gt 0 ]; do sleep 0.1; done
  s0=$(now); $mrctl submit $bin/wordcount --wait -- /small.txt /shared$i --reducers 1 >/dev/null 2>&1; s1=$(now)
  shared+=($(secs $s0 $s1))
  $mrctl job wait "$long" >/dev/null 2>&1; t1=$(now)
  long_s+=($(secs $t0 $t1))
done

a=$(median "${alone[@]}"); s=$(median "${shared[@]}"); l=$(median "${long_s[@]}")
echo "short job alone:                ${a} s   (runs: ${alone[*]})"
echo "short job while a long one runs: ${s} s   (runs: ${shared[*]})"
echo "the long job ($long_maps maps of ~2 s, 4 slots): ${l} s   (runs: ${long_s[*]})"
echo "ratio short shared / alone: $(ratio "$s" "$a")x; short shared / long: $(ratio "$s" "$l")x"
