#!/usr/bin/env bash
# The transaction pipeline against DuckDB (from PyPI) computing the same reports with SQL on
# the same CSV files, both measured in this run on this machine.
# Usage: bench/transactions.sh [ROWS (5000000)] [CUSTOMERS (200000)] [ACCOUNTS (400000)]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
customers=${2:-200000}
accounts=${3:-400000}
work=${BENCH_DIR:-target/bench-transactions}
cargo build --release --workspace --bins >/dev/null
bin=$PWD/target/release
mrctl=$bin/mrctl
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import duckdb" 2>/dev/null || "$venv/bin/pip" install -q duckdb
[ -f "$work/cluster/cluster.toml" ] && $mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

$bin/transactions gen --rows "$rows" --customers "$customers" --accounts "$accounts" --seed 42 --out "$work/day" >/dev/null
du -sh "$work/day"/*.csv
$mrctl cluster up --dir "$work/cluster" --datanodes 4 --racks 2 >/dev/null
export MRCTL_CONFIG="$work/cluster/client.toml"
for t in transactions customers accounts; do $mrctl fs put "$work/day/$t.csv" "/day/$t.csv"; done
args="--transactions /day/transactions.csv --customers /day/customers.csv --accounts /day/accounts.csv"
# Warm: the binary uploaded and cached by the workers, as on a cluster in daily use.
$mrctl submit $bin/transactions --wait -- run $args --output /warm >/dev/null 2>&1 || true

t0=$(now); $mrctl submit $bin/transactions --wait -- run $args --output /reports > "$work/mr.out" 2>&1; t1=$(now)
mr_s=$(secs $t0 $t1)
cat "$work/day"/*.csv > /dev/null
t0=$(now); "$venv/bin/python" bench/duckdb_pipeline.py "$work/day" "$work/duck" > "$work/duck.out"; t1=$(now)
duck_s=$(secs $t0 $t1)

echo "transactions: $rows rows, $customers customers, $accounts accounts"
echo "pipeline on the local cluster: ${mr_s} s ($(grep -o 'succeeded in .*' "$work/mr.out"))"
$mrctl fs cat /reports/summary.json | tr -d '\n' | head -c 400; echo
echo "DuckDB SQL on the CSV files: ${duck_s} s"
head -c 400 "$work/duck.out"; echo
echo "pipeline / DuckDB: $(ratio $mr_s $duck_s)x (target: at most 3x)"
