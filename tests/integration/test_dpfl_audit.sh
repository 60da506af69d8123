#!/bin/sh
# tests/integration/test_dpfl_audit.sh: dpfl-audit end to end. Keys come
# from the openssl CLI (as dpfl-pki audit-key writes them), logs from the
# real writer (audit_fixture), and every verdict is checked by exit code
# and message.
# usage: test_dpfl_audit.sh PATH/TO/dpfl-audit PATH/TO/dpfl_audit_fixture
set -eu

AUDIT=$1
FIXTURE=$2
DIR=$(mktemp -d /tmp/dpfl-audit-it.XXXXXX)
trap 'rm -rf "$DIR"' EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect CODE PATTERN CMD...: runs CMD, checks its exit code and that its
# stdout+stderr contains PATTERN (a fixed string; empty: anything).
expect() {
    want=$1
    pat=$2
    shift 2
    set +e
    "$@" >"$DIR/out" 2>&1
    got=$?
    set -e
    [ "$got" -eq "$want" ] ||
        fail "exit $got (want $want): $*: $(cat "$DIR/out")"
    [ -z "$pat" ] || grep -qF -- "$pat" "$DIR/out" ||
        fail "no '$pat' in output of $*: $(cat "$DIR/out")"
}

umask 077
for k in coord node-a node-b; do
    openssl genpkey -algorithm ed25519 -out "$DIR/$k.key" 2>/dev/null
    openssl pkey -in "$DIR/$k.key" -pubout -out "$DIR/$k.pub"
done
openssl genpkey -algorithm ed25519 -out "$DIR/other.key" 2>/dev/null
openssl pkey -in "$DIR/other.key" -pubout -out "$DIR/other.pub"
"$FIXTURE" "$DIR" || fail "fixture could not write the logs"

C=$DIR/coord.audit.jsonl
WA="$DIR/node-a.audit.jsonl:$DIR/node-a.pub"
WB="$DIR/node-b.audit.jsonl:$DIR/node-b.pub"

# Usage and help.
expect 0 "usage: dpfl-audit" "$AUDIT" --help
expect 0 "dpfl-audit " "$AUDIT" --version
expect 2 "no command" "$AUDIT"
expect 2 "unknown command" "$AUDIT" frobnicate "$C"
expect 2 "verify needs --key" "$AUDIT" verify "$C"
expect 2 "unknown option" "$AUDIT" verify --key "$DIR/coord.pub" --bogus "$C"
expect 2 "--witness-key count" "$AUDIT" verify --key "$DIR/coord.pub" \
    --witness "$DIR/node-a.audit.jsonl" --witness-key a --witness-key b "$C"
expect 2 "FILE:KEY" "$AUDIT" verify --key "$DIR/coord.pub" \
    --witness "$DIR/node-a.audit.jsonl" "$C"

# A clean federation verifies, with both ways of naming witness keys.
expect 0 "6 witnessed heads match" "$AUDIT" verify --key "$DIR/coord.pub" \
    --witness "$WA" --witness "$WB" "$C"
expect 0 "OK" "$AUDIT" verify --key "$DIR/coord.pub" \
    --witness "$DIR/node-a.audit.jsonl" --witness "$DIR/node-b.audit.jsonl" \
    --witness-key "$DIR/node-a.pub" --witness-key "$DIR/node-b.pub" "$C"
expect 0 '"ok":true' "$AUDIT" verify --json --key "$DIR/coord.pub" "$C"
# A node's own log verifies with its own key.
expect 0 "OK" "$AUDIT" verify --key "$DIR/node-a.pub" \
    "$DIR/node-a.audit.jsonl"

# show: a per-round, per-hospital table; --json one object per round.
expect 0 "urn:dpfl:site:hospital-b" "$AUDIT" show "$C"
grep -q "signatures NOT checked" "$DIR/out" || fail "show without key"
rows=$(grep -c "urn:dpfl:site:hospital-" "$DIR/out")
[ "$rows" -eq 6 ] || fail "show printed $rows hospital rows, want 6"
"$AUDIT" show --json --key "$DIR/coord.pub" "$C" >"$DIR/show.json"
[ "$(wc -l <"$DIR/show.json")" -eq 3 ] || fail "show --json: not 3 rounds"
if command -v jq >/dev/null 2>&1; then
    n=$(jq -s '[.[].participants | length] | add' "$DIR/show.json")
    [ "$n" -eq 6 ] || fail "show --json: $n participants, want 6"
    # epsilon grows round by round for each hospital
    jq -s -e '[.[].participants[] | select(.site ==
        "urn:dpfl:site:hospital-a") | .epsilon] | (.[0] < .[1] and
        .[1] < .[2])' "$DIR/show.json" >/dev/null ||
        fail "hospital-a epsilon does not grow"
fi

# The private keys never reach a log.
for k in coord node-a node-b; do
    body=$(sed -n 2p "$DIR/$k.key")
    if grep -qF -- "$body" "$DIR"/*.jsonl; then
        fail "$k private key material in a log"
    fi
done

# Tampering: an epsilon made smaller (signature now wrong).
cp "$C" "$DIR/orig"
line=$(grep -n '"type":"privacy_spent"' "$C" | sed -n 3p | cut -d: -f1)
sed "${line}s/\"epsilon\":[0-9]/\"epsilon\":0/" "$DIR/orig" >"$C"
cmp -s "$C" "$DIR/orig" && fail "sed did not edit the epsilon"
expect 1 "coord.audit.jsonl:$line (seq $line)" "$AUDIT" verify \
    --key "$DIR/coord.pub" "$C"
# A deleted entry.
sed "${line}d" "$DIR/orig" >"$C"
expect 1 "where $line was expected" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
# The wrong key.
cp "$DIR/orig" "$C"
expect 1 "log was created for key" "$AUDIT" verify --key "$DIR/other.pub" "$C"
# A witness checked with the wrong key.
expect 1 "node-a.audit.jsonl:1 (seq 1)" "$AUDIT" verify \
    --key "$DIR/coord.pub" --witness "$DIR/node-a.audit.jsonl:$DIR/other.pub" "$C"
# A cut tail: fine alone, caught by the witnesses.
total=$(wc -l <"$DIR/orig")
head -n $((total - 3)) "$DIR/orig" >"$C"
expect 0 "OK" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
expect 1 "its tail was cut off" "$AUDIT" verify --key "$DIR/coord.pub" \
    --witness "$WA" --witness "$WB" "$C"
# An incomplete final line.
head -c $(($(wc -c <"$DIR/orig") - 5)) "$DIR/orig" >"$C"
expect 1 "incomplete final line" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
expect 1 "incomplete final line" "$AUDIT" show "$C"

# Garbage never crashes: random bytes, an overlong line, JSON of the wrong
# shape, an empty file, a missing file.
head -c 100000 /dev/urandom >"$C"
expect 1 "" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
expect 1 "" "$AUDIT" show "$C"
awk 'BEGIN { for (i = 0; i < 300000; i++) printf "x"; print "" }' >"$C"
expect 1 "longer than" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
printf '[1,2,3]\n{"a":{"b":[{}]}}\n' >"$C"
expect 1 "not a JSON object" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
: >"$C"
expect 1 "empty log" "$AUDIT" verify --key "$DIR/coord.pub" "$C"
expect 1 "No such file" "$AUDIT" verify --key "$DIR/coord.pub" "$DIR/none"
expect 1 "not a PEM public key" "$AUDIT" verify --key "$DIR/orig" "$DIR/orig"

echo "test_dpfl_audit: all checks passed"
