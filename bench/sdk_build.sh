#!/usr/bin/env bash
# What a job developer pays for the SDK: a new job crate outside the workspace (wordcount's
# code, a path dependency on `mapreduce`, the workspace's Cargo.lock so versions match) built
# with `cargo build --release` into an empty target dir. Prints the distinct crates the SDK
# pulls in (`cargo tree -p mapreduce -e normal,build --prefix none --no-dedupe | sort -u | wc -l`,
# the measure of bench/RESULTS.md), the crates compiled, the cold build time and the job
# binary's size, and the sizes of the example job binaries of a release build.
# Registry sources must be downloaded already (the build runs --offline): download time is
# not counted. Usage: bench/sdk_build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "SDK crates: $(cargo tree -p mapreduce -e normal,build --prefix none --no-dedupe | sort -u | wc -l)"
mkdir -p "$work/src"
cp jobs/wordcount/src/main.rs "$work/src/main.rs"
cp Cargo.lock "$work/Cargo.lock"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "myjob"
version = "0.1.0"
edition = "2021"

[dependencies]
mapreduce = { path = "$root/mapreduce" }
TOML
cd "$work"
start=$(date +%s.%N)
CARGO_TARGET_DIR="$work/target" cargo build --release --offline 2>"$work/build.log"
end=$(date +%s.%N)
echo "crates compiled: $(grep -c Compiling "$work/build.log")"
echo "first cargo build --release: $(python3 -c "print(f'{$end - $start:.0f}')") s"
echo "job binary: $(stat -c %s target/release/myjob) bytes"
cd "$root"
cargo build --release --workspace --bins >/dev/null 2>&1
for j in wordcount terasort transactions; do
    echo "target/release/$j: $(stat -c %s "target/release/$j") bytes"
done
