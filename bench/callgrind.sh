#!/bin/sh
# Instructions per event of one run under callgrind (independent of machine load).
#
#   bench/callgrind.sh scenarios/library/mm1.ron --seed 1 --set duration=400s
#
# Runs the release binary with the given arguments and `--format json`, then prints the total
# instructions (Ir), the events of the report and their ratio. Set FAULTLINE to use another binary.
set -eu
binary="${FAULTLINE:-./target/release/faultline}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
    "$binary" run "$@" --format json >"$out/report.json" 2>"$out/valgrind.log"
ir="$(grep -E '^summary:' "$out/callgrind.out" | awk '{print $2}')"
events="$(grep -E '^  "events":' "$out/report.json" | tr -dc '0-9')"
echo "$* : Ir $ir, events $events, instructions/event $(awk -v i="$ir" -v e="$events" 'BEGIN { printf "%.0f", i / e }')"
