#!/bin/sh
# Writes every library scenario's JSON and text report at seeds 1 and 7 into a directory, so two
# binaries' outputs can be compared byte for byte: bench/outputs.sh DIR [BINARY]; diff -r A B.
set -eu
dir="$1"
binary="${2:-./target/release/faultline}"
mkdir -p "$dir"
for file in scenarios/library/*.ron; do
    name="$(basename "$file" .ron)"
    for seed in 1 7; do
        "$binary" run "$file" --seed "$seed" --format json >"$dir/$name.$seed.json"
        "$binary" run "$file" --seed "$seed" >"$dir/$name.$seed.txt" 2>&1 || true
    done
done
