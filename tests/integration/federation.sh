#!/usr/bin/env bash
# Federation integration tests: real dpfl-coordinator and dpfl-node
# processes talking TLS 1.3 over ZeroMQ on loopback.
#
#   federation.sh SCENARIO BUILD_DIR
#
# Scenarios: full, node_kill, coordinator_kill, budget, bad_update, policy.
# Each prints what it checks and exits non-zero on the first failure.
set -euo pipefail

scenario=$1
build=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/bin
work=$(mktemp -d /tmp/dpfl-fed-"$scenario".XXXXXX)
port=$((20000 + RANDOM % 20000))
pids=()
# shellcheck source=deploy/federation-lib.sh
. "$top/deploy/federation-lib.sh"

cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL [$scenario]: $*" >&2
    for f in "$work"/coordinator.log "$work"/*/node.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
check() { echo "ok: $*"; }

# A job over the WDBC data; rounds, steps and batch set per scenario.
write_job() {
    local rounds=$1 steps=$2 batch=$3 model=$4 sigma=$5 deadline=$6
    sed -e "s/^rounds = .*/rounds = $rounds/" \
        -e "s/^local_steps = .*/local_steps = $steps/" \
        -e "s/^batch_size = .*/batch_size = $batch/" \
        -e "s/^model = .*/model = $model/" \
        -e "s/^target_epsilon = .*/noise_multiplier = $sigma/" \
        -e "/^calibration_records/d" \
        -e "s/^round_deadline_s = .*/round_deadline_s = $deadline/" \
        "$top/deploy/examples/job.ini" >"$work/job.ini"
    job_hash=$(sha256sum "$work/job.ini" | cut -d' ' -f1)
}

setup() {
    sites=("$@")
    fed_pki "$work" "${sites[@]}"
    fed_split "$top/data/breast_cancer_wdbc.csv" "$work" "${sites[@]}"
    FED_QUORUM_WAIT=5 fed_coordinator_ini "$work" "$port" "${sites[@]}"
    for s in "${sites[@]}"; do
        fed_node_ini "$work" "$s" "$port" "$job_hash" "${eps_max:-3}"
    done
}

start_coordinator() {
    "$bin/dpfl-coordinator" --config "$work/coordinator.ini" \
        --job "$work/job.ini" >>"$work/summary.txt" 2>>"$work/coordinator.log" &
    coord=$!
    pids+=("$coord")
}

start_node() {
    "$bin/dpfl-node" --config "$work/$1/node.ini" 2>>"$work/$1/node.log" &
    eval "pid_${1//-/_}=$!"
    pids+=("$!")
}

wait_coordinator() {
    local rc=0
    wait "$coord" || rc=$?
    [ "$rc" -eq 0 ] || fail "dpfl-coordinator exited $rc"
}

verify_audit() {
    local w=()
    for s in "$@"; do
        w+=(--witness "$work/$s/state/audit.jsonl:$work/$s/audit.pub.pem")
    done
    "$bin/dpfl-audit" verify --key "$work/coordinator/audit.pub.pem" \
        "$work/coordinator/state/audit.jsonl" "${w[@]}" >"$work/verify.txt" 2>&1 ||
        { cat "$work/verify.txt" >&2; fail "dpfl-audit verify failed"; }
    check "dpfl-audit verify: $(head -c 160 "$work/verify.txt")"
}

# Epsilon the summary reports for a site.
summary_eps() { awk -v s="$1" '$1 == s { print $4 }' "$work/summary.txt" | tail -n 1; }
summary_rounds() { awk -v s="$1" '$1 == s { print $2 }' "$work/summary.txt" | tail -n 1; }

scenario_full() {
    write_job 6 5 32 30-16-2 4.0 20
    setup hospital-a hospital-b hospital-c
    start_coordinator
    for s in hospital-a hospital-b hospital-c; do start_node "$s"; done
    wait_coordinator
    grep -q "finished after 6 rounds: all rounds done" "$work/summary.txt" ||
        fail "the job did not run its 6 rounds"
    check "6 rounds done"
    for s in hospital-a hospital-b hospital-c; do
        [ "$(summary_rounds $s)" = 6 ] || fail "$s joined $(summary_rounds $s) rounds"
        awk -v e="$(summary_eps "$s")" 'BEGIN { exit !(e > 0 && e <= 3) }' ||
            fail "$s epsilon $(summary_eps $s)"
    done
    check "every hospital joined 6 rounds with 0 < epsilon <= 3"
    for p in "${pids[@]}"; do wait "$p" || fail "a node exited non-zero"; done
    check "every node exited 0 on the coordinator's bye"
    verify_audit hospital-a hospital-b hospital-c
    [ -s "$work/coordinator/state/final-model.f32" ] || fail "no final model"
    check "final model written"
    no_key_in_logs
    tamper_checks
}

# No private key (TLS or audit) appears in any log or record.
no_key_in_logs() {
    local key body
    for key in "$work"/*/*.key; do
        body=$(grep -v '^-----' "$key" | tr -d '\n' | cut -c1-40)
        if grep -rqF "$body" "$work"/*.log "$work"/*/node.log "$work"/summary.txt \
            "$work"/*/state 2>/dev/null; then
            fail "private key $key appears in a log"
        fi
    done
    check "no private key appears in any log, ledger or audit log"
}

# The verifier catches tampering with this real run's coordinator log.
tamper_checks() {
    local log=$work/coordinator/state/audit.jsonl t=$work/tampered.jsonl
    local key=$work/coordinator/audit.pub.pem w=()
    for s in hospital-a hospital-b hospital-c; do
        w+=(--witness "$work/$s/state/audit.jsonl:$work/$s/audit.pub.pem")
    done
    expect_bad() {
        local what=$1 out
        if out=$("$bin/dpfl-audit" verify --key "$key" "$t" "${w[@]}" 2>&1); then
            fail "verify accepted the log with $what"
        fi
        check "verify rejects $what: $(echo "$out" | head -n 1 | cut -c1-110)"
    }
    sed '20s/"round":/"round":1/' "$log" >"$t"
    expect_bad "a changed entry"
    sed '12d' "$log" >"$t"
    expect_bad "a deleted entry"
    awk '/"type":"privacy_spent"/ && !done { sub(/"epsilon":[0-9.e-]+/, "\"epsilon\":0.001"); done = 1 } 1' \
        "$log" >"$t"
    expect_bad "an epsilon edited smaller"
    head -n 30 "$log" >"$t"
    expect_bad "a truncated tail (through the witnesses)"
}

# Waits until a node's ledger holds a reservation without its commit, i.e.
# the node is training; prints the ledger line count then.
wait_mid_round() {
    local ledger=$1 t=0
    while [ $t -lt 600 ]; do
        if [ -f "$ledger" ]; then
            local r c
            r=$(grep -c '^R ' "$ledger" || true)
            c=$(grep -c '^C ' "$ledger" || true)
            if [ "$r" -gt "$c" ] && [ "$r" -ge 2 ]; then return 0; fi
        fi
        sleep 0.02
        t=$((t + 1))
    done
    fail "never saw $ledger mid-round"
}

scenario_node_kill() {
    # Slow rounds (a wide model, many steps) so a kill lands mid-round.
    write_job 5 400 64 30-256-256-2 8.0 6
    eps_max=100 setup hospital-a hospital-b hospital-c
    start_coordinator
    for s in hospital-a hospital-b hospital-c; do start_node "$s"; done
    local ledger=$work/hospital-b/state/budget.ledger
    wait_mid_round "$ledger"
    kill -9 "$pid_hospital_b"
    local before
    before=$(grep -c '^R ' "$ledger")
    check "hospital-b killed with SIGKILL mid-round ($before reservations, last uncommitted)"
    sleep 1
    start_node hospital-b
    wait_coordinator
    grep -q "never committed (interrupted rounds): counted as spent" \
        "$work/hospital-b/node.log" || fail "restarted node did not count the interrupted reservation"
    check "restarted hospital-b counts the interrupted reservation as spent"
    grep -q "hospital-b: no update by the deadline\|hospital-b: declined round" \
        "$work/coordinator.log" || fail "the coordinator did not see hospital-b miss the round"
    check "hospital-b missed the interrupted round"
    [ "$(grep -c '^R ' "$ledger")" -ge "$before" ] || fail "ledger shrank"
    grep -q "finished after 5 rounds" "$work/summary.txt" || fail "job did not finish"
    check "the job finished its 5 rounds"
    verify_audit hospital-a hospital-c
}

scenario_coordinator_kill() {
    write_job 6 400 64 30-256-256-2 8.0 10
    eps_max=100 setup hospital-a hospital-b hospital-c
    start_coordinator
    for s in hospital-a hospital-b hospital-c; do start_node "$s"; done
    # Kill it during round 3, after two checkpoints.
    local t=0
    until grep -q "^round   2/6" "$work/summary.txt" 2>/dev/null; do
        sleep 0.05; t=$((t + 1)); [ $t -lt 1200 ] || fail "round 2 never closed"
    done
    wait_mid_round "$work/hospital-a/state/budget.ledger"
    kill -9 "$coord"
    wait "$coord" 2>/dev/null || true
    local eps_before
    eps_before=$(grep '^round' "$work/summary.txt" | tail -n 1 |
        sed 's/.*hospital-a=\([0-9.]*\).*/\1/')
    check "coordinator killed with SIGKILL mid-round (hospital-a at epsilon $eps_before)"
    sleep 1
    start_coordinator
    wait_coordinator
    grep -q "resumed from .*checkpoint.bin: [23] rounds done" "$work/coordinator.log" ||
        fail "did not resume from the checkpoint"
    check "restarted coordinator resumed from its checkpoint"
    grep -q "finished after 6 rounds" "$work/summary.txt" || fail "job did not finish"
    check "the job finished its 6 rounds"
    awk -v a="$eps_before" -v b="$(summary_eps hospital-a)" 'BEGIN { exit !(b >= a) }' ||
        fail "hospital-a epsilon went down"
    check "hospital-a epsilon never decreased ($eps_before -> $(summary_eps hospital-a))"
    # No round charged twice: one privacy_spent per (site, round) in the
    # coordinator's log, one reservation per round in every ledger.
    local dup
    dup=$(grep '"type":"privacy_spent"' "$work/coordinator/state/audit.jsonl" |
        sed 's/.*"round":\([0-9]*\),.*"site":"\([^"]*\)".*/\2 \1/' | sort | uniq -d)
    [ -z "$dup" ] || fail "rounds charged twice: $dup"
    for s in hospital-a hospital-b hospital-c; do
        dup=$(grep '^R ' "$work/$s/state/budget.ledger" |
            sed 's/.* round=\([0-9]*\) .*/\1/' | sort | uniq -d)
        [ -z "$dup" ] || fail "$s reserved round(s) twice: $dup"
    done
    check "no round counted twice (audit log and ledgers)"
    verify_audit hospital-a hospital-b hospital-c
}

scenario_budget() {
    write_job 60 5 32 30-16-2 3.0 20
    sed -i 's/^min_nodes = .*/min_nodes = 1/' "$work/job.ini"
    job_hash=$(sha256sum "$work/job.ini" | cut -d' ' -f1)
    setup hospital-a hospital-b hospital-c
    fed_node_ini "$work" hospital-a "$port" "$job_hash" 1.0
    fed_node_ini "$work" hospital-b "$port" "$job_hash" 1.5
    start_coordinator
    for s in hospital-a hospital-b hospital-c; do start_node "$s"; done
    wait_coordinator
    grep -q "no hospital can afford another round" "$work/summary.txt" ||
        fail "job did not end on exhausted budgets"
    check "the job ended when no hospital could afford another round"
    local ra rb rc
    ra=$(summary_rounds hospital-a); rb=$(summary_rounds hospital-b)
    rc=$(summary_rounds hospital-c)
    [ "$ra" -lt "$rb" ] && [ "$rb" -lt "$rc" ] ||
        fail "rounds joined a=$ra b=$rb c=$rc should grow with the budget"
    check "rounds joined grow with the budget: a=$ra b=$rb c=$rc"
    awk -v a="$(summary_eps hospital-a)" -v b="$(summary_eps hospital-b)" \
        -v c="$(summary_eps hospital-c)" \
        'BEGIN { exit !(a <= 1.0 && b <= 1.5 && c <= 3) }' ||
        fail "a budget was overspent"
    check "no hospital over its budget"
    grep -q "hospital-a: budget exhausted" "$work/coordinator.log" ||
        fail "hospital-a not marked exhausted"
    check "hospital-a stopped being scheduled"
}

scenario_bad_update() {
    write_job 4 5 32 30-16-2 4.0 10
    setup hospital-a hospital-b hospital-d
    start_coordinator
    start_node hospital-a
    start_node hospital-b
    "$build/tests/integration/bad_node" "tcp://127.0.0.1:$port" \
        coordinator.dpfl.local "$work/ca/ca.pem" "$work/ca/crl.pem" \
        "$work/hospital-d/hospital-d.pem" "$work/hospital-d/hospital-d.key" \
        2>"$work/hospital-d/node.log" &
    pids+=("$!")
    wait_coordinator
    grep -q "hospital-d: message rejected: train_result.update: .*expected" \
        "$work/coordinator.log" || fail "wrong-dimension update not rejected"
    check "wrong-dimension update rejected: $(grep -m1 'hospital-d: message rejected: train_result.update: .*expected' "$work/coordinator.log" | cut -c26-)"
    grep -q "hospital-d: message rejected: .*finite" "$work/coordinator.log" ||
        fail "non-finite update not rejected"
    check "non-finite update rejected"
    grep -q '"type":"update_rejected"' "$work/coordinator/state/audit.jsonl" ||
        fail "rejection not in the audit log"
    check "rejections in the audit log"
    grep -q "finished after 4 rounds" "$work/summary.txt" || fail "job did not finish"
    [ "$(summary_rounds hospital-d)" = 0 ] || fail "a bad update was aggregated"
    check "every round completed with the two good hospitals; none of hospital-d's updates counted"
}

scenario_policy() {
    write_job 3 5 32 30-16-2 4.0 10
    setup hospital-a hospital-b hospital-c
    cat >>"$work/hospital-c/node.ini" <<INI
[policy]
min_noise_multiplier = 5.0
max_clip_norm = 1
max_delta = 1e-5
max_rounds = 100
INI
    sed -i '/^\[approved_jobs\]/,/^job = /d' "$work/hospital-c/node.ini"
    start_coordinator
    for s in hospital-a hospital-b hospital-c; do start_node "$s"; done
    wait_coordinator
    grep -q "declining job .*noise_multiplier 4 below this hospital's minimum 5" \
        "$work/hospital-c/node.log" || fail "the node did not log its reason"
    check "hospital-c declined, and logged why"
    grep -q "hospital-c: declined the job: noise_multiplier 4 below" \
        "$work/coordinator.log" || fail "the coordinator did not log the reason"
    check "the coordinator logged hospital-c's reason"
    grep -q "finished after 3 rounds" "$work/summary.txt" || fail "job did not finish"
    [ "$(summary_rounds hospital-c)" = 0 ] || fail "hospital-c joined rounds"
    check "the job ran with the two other hospitals"
}

"scenario_$scenario"
echo "PASS [$scenario]"
