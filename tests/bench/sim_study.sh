#!/bin/sh
# tests/bench/sim_study.sh: the example study of docs/simulation.md.
#
#   tests/bench/sim_study.sh [BUILD_DIR] [SEEDS]
#
# Held-out accuracy of deploy/examples/sim-digits.ini on data/digits_8x8.csv
# at epsilon 1, 3 and 8 (every hospital's budget; sigma calibrated for the
# smallest one), IID and Dirichlet(0.3) label skew, 10 and 100 hospitals,
# averaged over SEEDS (default "1 2 3"; min-max in brackets). Prints a
# Markdown table. Every run is a real simulated federation (dpfl-sim).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/release}
case $build in /*) ;; *) build=$top/$build ;; esac
seeds=${2:-1 2 3}
sim=$build/bin/dpfl-sim
[ -x "$sim" ] || { echo "sim_study: $sim is not built" >&2; exit 1; }

echo "| hospitals | partition | epsilon 1 | epsilon 3 | epsilon 8 |"
echo "|---:|---|---:|---:|---:|"
for n in 10 100; do
    for part in iid dirichlet:0.3; do
        row="| $n | $part |"
        for eps in 1 3 8; do
            accs=""
            for s in $seeds; do
                a=$("$sim" --job "$top/deploy/examples/sim-digits.ini" \
                    --data "$top/data/digits_8x8.csv" --nodes "$n" \
                    --partition "$part" --seed "$s" --epsilon "$eps" --json |
                    tail -n 1 | sed -n 's/.*"final_accuracy":\([0-9.]*\).*/\1/p')
                [ -n "$a" ] || { echo "sim_study: run failed" >&2; exit 1; }
                accs="$accs $a"
            done
            row="$row $(echo "$accs" | awk '{
                s = 0; lo = 1; hi = 0
                for (i = 1; i <= NF; i++) {
                    s += $i; if ($i < lo) lo = $i; if ($i > hi) hi = $i
                }
                printf "%.3f [%.3f-%.3f]", s / NF, lo, hi
            }') |"
        done
        echo "$row"
    done
done
