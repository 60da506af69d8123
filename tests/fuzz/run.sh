#!/usr/bin/env bash
# tests/fuzz/run.sh: a short libFuzzer run of every target in tests/fuzz/
# (about 60 s in total, shared equally: 8 s each for the 7 targets), each
# from its seed corpus in tests/fuzz/corpus/<target>/. Part of .ci/run.
#
# Builds the `fuzz` preset (clang, ASan+UBSan+libFuzzer) in build/fuzz, or
# in $DPFL_FUZZ_BUILD_DIR. $DPFL_FUZZ_SECONDS changes the total time.
# New inputs found go to a scratch copy of the corpus, not into the tree;
# a crashing input is kept in <build>/fuzz/artifacts/.
#
# Prints one line per target. Exit status: 0 when every target ran clean
# (or when clang is absent: nothing to run), 1 on a crash, leak, timeout or
# build failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

total=${DPFL_FUZZ_SECONDS:-60}
build=${DPFL_FUZZ_BUILD_DIR:-build/fuzz}

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang not found, fuzzing skipped (deploy/install-deps.sh installs it)"
    exit 0
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if ! cmake --preset fuzz -B "$build" >"$scratch/configure.log" 2>&1; then
    cat "$scratch/configure.log"
    echo "fuzz: configure failed"
    exit 1
fi
if ! cmake --build "$build" --target fuzz_all -j 2 >"$scratch/build.log" 2>&1; then
    tail -n 40 "$scratch/build.log"
    echo "fuzz: build failed"
    exit 1
fi

targets=()
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    case "$name" in fuzz_corpus_gen*) continue ;; esac
    targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no targets"
    exit 1
fi
share=$((total / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1

artifacts="$build/fuzz/artifacts"
mkdir -p "$artifacts"
status=0
for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus"
    seeds=0
    if [ -d "tests/fuzz/corpus/$t" ]; then
        cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
        seeds=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    fi
    log="$scratch/$t.log"
    "$build/fuzz/$t" -max_total_time="$share" -max_len=8192 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t-" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    found=$(find "$corpus" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz: $t: FAILED (exit $rc), input kept in $artifacts/"
        status=1
    else
        echo "fuzz: $t: ${runs:-?} runs in ${share} s, corpus $seeds -> $found, ok"
    fi
done
exit $status
