#!/usr/bin/env bash
# The engine's speed, each figure against a baseline measured in this run:
# - a trivial job (one small file, one reducer), `mrctl submit --wait` to exit, warm cluster;
# - wordcount over WC_MIB of Zipf words vs a single-threaded Rust count (the floor) and
#   `tr -s ' ' '\n' | sort | uniq -c` (LC_ALL=C);
# - terasort of TS_ROWS records vs GNU `sort --parallel=2` on the same records as lines,
#   with the time per phase;
# - the peak RSS of the task processes against the configured task memory.
# Usage: bench/mr_jobs.sh [WC_MIB (1024)] [TS_ROWS (10000000)]
set -euo pipefail
cd "$(dirname "$0")/.."
wc_mib=${1:-1024}
ts_rows=${2:-10000000}
work=${BENCH_DIR:-target/bench-mr}
cargo build --release --workspace --bins >/dev/null
bin=$PWD/target/release
mrctl=$bin/mrctl
[ -f "$work/cluster/cluster.toml" ] && $mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

$mrctl cluster up --dir "$work/cluster" --datanodes 4 --racks 2 >/dev/null
export MRCTL_CONFIG="$work/cluster/client.toml"

# Trivial job: warm (binary cached), median of 5.
echo "a small input line" > "$work/small.txt"
$mrctl fs put "$work/small.txt" /small.txt
$mrctl submit $bin/wordcount --wait -- /small.txt /warm --reducers 1 >/dev/null 2>&1
trivial=()
for i in 1 2 3 4 5; do
  t0=$(now); $mrctl submit $bin/wordcount --wait -- /small.txt /trivial$i --reducers 1 >/dev/null 2>&1; t1=$(now)
  trivial+=($(secs $t0 $t1))
done
trivial_median=$(printf '%s\n' "${trivial[@]}" | sort -n | sed -n 3p)

# Wordcount.
$bin/zipfwords "$wc_mib" "$work/words.txt"
$mrctl fs put --replication 1 "$work/words.txt" /words.txt
cat "$work/words.txt" > /dev/null
t0=$(now); $bin/wcfloor "$work/words.txt" >/dev/null; t1=$(now); floor_s=$(secs $t0 $t1)
t0=$(now); LC_ALL=C tr -s ' ' '\n' < "$work/words.txt" | LC_ALL=C sort | LC_ALL=C uniq -c > /dev/null; t1=$(now); unix_s=$(secs $t0 $t1)
t0=$(now); $mrctl submit $bin/wordcount --wait -- /words.txt /wc --reducers 4 > "$work/wc.out" 2>&1; t1=$(now); wc_s=$(secs $t0 $t1)
rm -f "$work/words.txt"

# Terasort.
$mrctl submit $bin/terasort --wait -- gen "$ts_rows" /tera/in --maps 4 >/dev/null 2>&1
$mrctl fs get /tera/in "$work/tera-in"
cat "$work"/tera-in/part-* > "$work/tera.bin" && rm -rf "$work/tera-in"
# GNU sort sorts lines: the same records with a newline in place of their last byte (and
# any newline inside replaced), 100 bytes each.
python3 - "$work/tera.bin" "$work/tera.txt" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f, open(dst, "wb") as g:
    while True:
        chunk = f.read(100 * 100000)
        if not chunk:
            break
        out = bytearray(chunk.replace(b"\n", b" "))
        out[99::100] = b"\n" * (len(out) // 100)
        g.write(out)
PY
rm -f "$work/tera.bin"
cat "$work/tera.txt" > /dev/null
t0=$(now); LC_ALL=C sort --parallel=2 -S 40% "$work/tera.txt" -o "$work/tera.sorted"; t1=$(now); gnu_s=$(secs $t0 $t1)
rm -f "$work/tera.txt" "$work/tera.sorted"
t0=$(now); $mrctl submit $bin/terasort --wait -- sort /tera/in /tera/out --reducers 4 > "$work/ts.out" 2>&1; t1=$(now); ts_s=$(secs $t0 $t1)
ts_id=$(grep -o 'job_[0-9_]*' "$work/ts.out" | head -1)
phases=$($mrctl job status "$ts_id" | grep 'map phase')
$mrctl submit $bin/terasort --wait -- validate /tera/out /tera/report --input /tera/in >/dev/null 2>&1 && valid=yes || valid=no

# Peak RSS of task processes: the kernel keeps each child's high-water mark; sample the live
# attempts while a terasort runs again.
peak=0
$mrctl fs rm -r /tera/out >/dev/null
$mrctl submit $bin/terasort --wait -- sort /tera/in /tera/out --reducers 4 >/dev/null 2>&1 &
sub=$!
while kill -0 $sub 2>/dev/null; do
  for p in $(pgrep -f "binaries/[0-9a-f]* task" || true); do
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
  done
  sleep 0.2
done
task_mem_mib=$(( 100 + 256 ))   # sort buffer + reduce memory (the job's settings)

echo "trivial job, submit to exit (median of 5): ${trivial_median}s (${trivial[*]}) (target < 1 s; Hadoop 10-25 s)"
echo "wordcount ${wc_mib} MiB: ${wc_s}s; single-threaded floor ${floor_s}s ($(ratio $floor_s $wc_s)x, target > 1); tr|sort|uniq ${unix_s}s ($(ratio $unix_s $wc_s)x, target >= 10)"
echo "terasort ${ts_rows} rows: ${ts_s}s; GNU sort --parallel=2 ${gnu_s}s ($(ratio $gnu_s $ts_s)x, target >= 2); valid: $valid"
echo "terasort phases: $phases"
echo "peak task RSS: $((peak / 1024)) MiB of ${task_mem_mib} MiB configured task memory"
