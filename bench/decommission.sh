#!/usr/bin/env bash
# Decommissioning a datanode that holds N GB against re-replicating what a killed datanode held,
# both on one local cluster in this run; prints seconds per GiB held for each and their ratio.
# The re-replication clock starts when the namenode declares the killed node dead (detection
# time is configuration, not copying). Usage: bench/decommission.sh [GB] (default 0.25).
set -euo pipefail
cd "$(dirname "$0")/.."
gb=${1:-0.25}
work=${BENCH_DIR:-target/bench-decommission}
cargo build --release --workspace --bins >/dev/null
mrctl=target/release/mrctl
[ -f "$work/cluster/cluster.toml" ] && $mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work"
trap '$mrctl cluster down --dir "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

src="$work/input.bin"
python3 - "$src" "$gb" <<'PY'
import os, sys
mib = int(float(sys.argv[2]) * 1024)
with open(sys.argv[1], "wb") as f:
    block = os.urandom(1 << 20)
    for i in range(mib):
        f.write(block[i % 97:] + block[:i % 97])
PY
now() { date +%s.%N; }
$mrctl cluster up --dir "$work/cluster" --datanodes 5 --racks 2 >/dev/null
export MRCTL_CONFIG="$work/cluster/client.toml"
# Replication 2 on 5 nodes: each node holds about 2/5 of the data.
$mrctl fs put --replication 2 "$src" /bench/data.bin
report() { $mrctl cluster report --json; }
# The node holding the most bytes, then the next one (for the kill), once the heartbeats
# carry what the put stored.
while :; do
  read -r a a_used b b_used < <(report | python3 -c '
import json, sys
n = sorted(json.load(sys.stdin)["datanodes"]["nodes"], key=lambda d: -d["used"])
print(n[0]["address"], n[0]["used"], n[1]["address"], n[1]["used"])')
  [ "$b_used" -gt 0 ] && break
  sleep 0.5
done
state() { report | python3 -c "
import json, sys
for d in json.load(sys.stdin)['datanodes']['nodes']:
    if d['address'] == '$1': print(d['$2'])"; }

t0=$(now)
$mrctl admin decommission "$a" >/dev/null
until [ "$(state "$a" admin_state)" = decommissioned ]; do sleep 0.2; done
t1=$(now)

# Kill the other node's datanode process; time re-replication from when it is declared dead.
dn=$(grep -l "data_addr = \"$b\"" "$work"/cluster/datanode-*.toml | head -1)
name=$(basename "$dn" .toml)
kill -9 "$(cat "$work/cluster/pids/$name")"
until [ "$(state "$b" state)" = dead ]; do sleep 0.2; done
t2=$(now)
until $mrctl fs fsck /bench --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r["under_replicated"] == 0 and r["missing"] == 0 else 1)'; do sleep 0.2; done
t3=$(now)
$mrctl fs cat /bench/data.bin | cmp - "$src"

python3 - "$t0" "$t1" "$t2" "$t3" "$a_used" "$b_used" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
a, b = int(sys.argv[5]) / 2**30, int(sys.argv[6]) / 2**30
dec, rep = (t1 - t0) / a, (t3 - t2) / b
print(f"decommission: {a:.2f} GiB held, {t1 - t0:.1f} s ({dec:.1f} s/GiB)")
print(f"re-replication after kill: {b:.2f} GiB held, {t3 - t2:.1f} s ({rep:.1f} s/GiB)")
print(f"ratio decommission / re-replication (per GiB): {dec / rep:.2f}")
PY
