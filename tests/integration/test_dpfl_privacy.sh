#!/bin/sh
# Integration test of dpfl-privacy: every command's output (text and JSON)
# against known answers, --help/--version, and the exit codes documented in
# docs/privacy.md (0 ok, 1 the accountant cannot answer, 2 usage error,
# always with a one-line message on stderr).
# Usage: test_dpfl_privacy.sh PATH/TO/dpfl-privacy
set -u
BIN=${1:?usage: test_dpfl_privacy.sh PATH/TO/dpfl-privacy}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}

# expect_rc RC ARGS...: runs the program, checks the exit code; stdout in
# $TMP/out, stderr in $TMP/err.
expect_rc() {
    want=$1
    shift
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "exit $got, want $want: $*"
        sed 's/^/  stderr: /' "$TMP/err"
    fi
}

# expect_usage ARGS...: exit 2 and exactly one line on stderr.
expect_usage() {
    expect_rc 2 "$@"
    lines=$(wc -l <"$TMP/err")
    if [ "$lines" -ne 1 ]; then
        fail "want a one-line error, got $lines lines: $*"
    fi
    if [ -s "$TMP/out" ]; then
        fail "usage error wrote to stdout: $*"
    fi
}

# json_num KEY: the number after "KEY": in $TMP/out (flat key only).
json_num() {
    sed -n "s/.*\"$1\": \([-0-9.eE+]*\).*/\1/p" "$TMP/out"
}

# near GOT WANT RELTOL WHAT
near() {
    if ! awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN {
        d = g - w; if (d < 0) d = -d; a = w; if (a < 0) a = -a;
        exit !(g != "" && d <= t * a) }'; then
        fail "$4: got '$1' want $2 (rel $3)"
    fi
}

has() {
    grep -q -- "$1" "$TMP/out" || fail "output lacks '$1' ($2)"
}

# --- help and version
expect_rc 0 --help
has "usage: dpfl-privacy epsilon" "--help"
has "exit: 0 ok" "--help"
expect_rc 0 epsilon --help
has "usage:" "epsilon --help"
expect_rc 0 --version
grep -q '^dpfl-privacy [0-9]' "$TMP/out" || fail "--version output"

# --- epsilon: Opacus's test value (q 0.04, sigma 1.5, 2250 steps)
expect_rc 0 epsilon --sampling-rate 0.04 --noise-multiplier 1.5 \
    --steps 2250 --delta 1e-5 --orders opacus --json
near "$(json_num epsilon)" 7.32911117143 1e-9 "epsilon opacus"
has '"accountant": "rdp"' "epsilon json"
has '"order":' "epsilon json order"
expect_rc 0 epsilon --sampling-rate=0.01 --noise-multiplier=1.1 \
    --steps=1000 --delta=1e-5
has "epsilon  *1.71177" "epsilon text"
has "optimal order" "epsilon text"

# --- PLD (dp_accounting PLD: 1.5154), no order key
expect_rc 0 epsilon --sampling-rate 0.01 --noise-multiplier 1.1 \
    --steps 1000 --delta 1e-5 --accountant pld --json
near "$(json_num epsilon)" 1.5154 0.01 "epsilon pld"
has '"accountant": "pld"' "pld json"
if grep -q '"order"' "$TMP/out"; then fail "pld json has an order"; fi

# --- compose: C1 (5x50 at sigma 1.1 then 5x50 at sigma 2, q 0.01)
expect_rc 0 compose --delta 1e-5 --orders opacus --json \
    --mechanism 0.01,1.1,250 --mechanism 0.01,2,250
near "$(json_num epsilon)" 1.1423152898753681 1e-9 "compose"
has '"mechanisms": 2' "compose count"
has '"steps": 500' "compose steps"
expect_rc 0 compose --delta 1e-5 --accountant pld \
    --mechanism 1,10,50 --mechanism 1,5,50 --json
near "$(json_num epsilon)" 7.511275 1e-4 "compose exact gaussian"

# --- calibrate: brentq on Opacus RDP gives 0.864602103850642
expect_rc 0 calibrate --sampling-rate 0.01 --steps 1000 --delta 1e-5 \
    --target-epsilon 3 --orders opacus --json
near "$(json_num noise_multiplier)" 0.864602103850642 1e-5 "calibrate"
eps=$(json_num epsilon)
awk -v e="$eps" 'BEGIN { exit !(e <= 3) }' || fail "calibrate epsilon $eps > 3"
expect_rc 0 calibrate --sampling-rate 0.01 --steps 1000 --delta 1e-5 \
    --target-epsilon 3
has "noise multiplier" "calibrate text"

# --- report
expect_rc 0 report --sampling-rate 0.01 --noise-multiplier 1.1 --steps 1000
has "Membership inference" "report text"
has "Reconstruction" "report text"
has "Gaussian DP mu" "report text"
has "1e-08" "report deltas"
expect_rc 0 report --sampling-rate 1 --noise-multiplier 10 --steps 100 \
    --json
near "$(json_num mu)" 1.0 1e-12 "report mu exact"
has '"mu_exact": true' "report mu_exact"
has '"membership_inference"' "report json"
has '"reconstruction"' "report json"

# --- the accountant cannot answer: exit 1, one line
expect_rc 1 calibrate --sampling-rate 0.01 --steps 1000 --delta 1e-5 \
    --target-epsilon 1e-5
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "exit-1 error is not one line"

# --- bad arguments: exit 2, one line
expect_usage
expect_usage frobnicate
expect_usage epsilon --sampling-rate 0.01 --noise-multiplier 1 --steps 10
expect_usage epsilon --sampling-rate -0.1 --noise-multiplier 1 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 1.5 --noise-multiplier 1 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate nan --noise-multiplier 1 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0 --noise-multiplier 1 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 0 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier NaN --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier -1 --steps 10 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 0 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 1.5 \
    --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta 1
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta 1e-5 --accountant xyz
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta 1e-5 --unknown
expect_usage epsilon --sampling-rate 0.1 --sampling-rate 0.2 \
    --noise-multiplier 1 --steps 10 --delta 1e-5
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta 1e-5 --target-epsilon 1
expect_usage epsilon --sampling-rate 0.1 --noise-multiplier 1 --steps 10 \
    --delta 1e-5 --accountant pld --orders opacus
expect_usage compose --delta 1e-5
expect_usage compose --delta 1e-5 --mechanism 0.1,1
expect_usage compose --delta 1e-5 --mechanism 0.1,0,5
expect_usage calibrate --sampling-rate 0.1 --steps 10 --delta 1e-5
expect_usage calibrate --sampling-rate 0.1 --steps 10 --delta 1e-5 \
    --target-epsilon -2
expect_usage report --sampling-rate 0.1 --noise-multiplier 1
expect_usage report --sampling-rate 0.1 --noise-multiplier 1 --steps 5 \
    --json=yes

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all dpfl-privacy checks passed"
exit 0
