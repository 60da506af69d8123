#!/bin/sh
# The README's main job: a real federation on one machine.
#
#   deploy/demo.sh [BUILD_DIR]
#
# Makes a throwaway PKI with deploy/dpfl-pki, splits
# data/breast_cancer_wdbc.csv into three hospitals, starts dpfl-coordinator
# and three dpfl-node processes talking TLS 1.3 over ZeroMQ on loopback,
# runs deploy/examples/job.ini to the end, prints the summary and verifies
# the signed audit logs with dpfl-audit. Everything lands in DPFL_DEMO_DIR
# (default: a new folder under /tmp); the port is DPFL_DEMO_PORT (17600);
# DPFL_DEMO_SEED replaces the job's seed (initial model, split, selection).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/release}
case $build in /*) ;; *) build=$top/$build ;; esac
bin=$build/bin
port=${DPFL_DEMO_PORT:-17600}
dir=${DPFL_DEMO_DIR:-$(mktemp -d /tmp/dpfl-demo.XXXXXX)}
sites="hospital-a hospital-b hospital-c"
pids=""

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

for p in dpfl-coordinator dpfl-node dpfl-audit; do
    [ -x "$bin/$p" ] || { echo "demo: $bin/$p is not built" >&2; exit 1; }
done
mkdir -p "$dir"
cd "$dir"
echo "dpfl demo in $dir"

# 1. A throwaway federation PKI: CA, the coordinator's server certificate,
#    one client certificate per hospital, audit-log keys for everyone.
# shellcheck source=deploy/federation-lib.sh
. "$top/deploy/federation-lib.sh"
# shellcheck disable=SC2086
fed_pki "$dir" $sites

# 2. Three hospitals: every third record of the data set.
# shellcheck disable=SC2086
fed_split "$top/data/breast_cancer_wdbc.csv" "$dir" $sites

# 3. Configs. Each hospital approves exactly this job file by its hash.
if [ -n "${DPFL_DEMO_SEED:-}" ]; then
    sed "s/^seed = .*/seed = $DPFL_DEMO_SEED/" "$top/deploy/examples/job.ini" >job.ini
else
    cp "$top/deploy/examples/job.ini" job.ini
fi
job_hash=$(sha256sum job.ini | cut -d' ' -f1)
# shellcheck disable=SC2086
fed_coordinator_ini "$dir" "$port" $sites
for s in $sites; do
    fed_node_ini "$dir" "$s" "$port" "$job_hash"
done

# 4. Run the federation; a watchdog stops it after 110 seconds.
start=$(date +%s)
"$bin/dpfl-coordinator" --config coordinator.ini --job job.ini \
    >summary.txt 2>coordinator.log &
coord=$!
pids="$coord"
for s in $sites; do
    "$bin/dpfl-node" --config "$s/node.ini" 2>"$s/node.log" &
    pids="$pids $!"
done
( sleep 110; kill $pids ) >/dev/null 2>&1 &
watchdog=$!
status=0
wait "$coord" || status=$?
for p in $pids; do
    [ "$p" = "$coord" ] || wait "$p" 2>/dev/null || true
done
kill "$watchdog" 2>/dev/null || true
pids=""
cat summary.txt
echo "($(($(date +%s) - start)) s; logs in $dir)"
if [ "$status" -ne 0 ]; then
    echo "demo: dpfl-coordinator exited with $status; see $dir/coordinator.log" >&2
    tail -n 20 coordinator.log >&2
    exit 1
fi

# 5. The auditor's view: verify the coordinator's log against the nodes'.
witness=""
for s in $sites; do
    witness="$witness --witness $s/state/audit.jsonl:$s/audit.pub.pem"
done
# shellcheck disable=SC2086
"$bin/dpfl-audit" verify --key coordinator/audit.pub.pem \
    coordinator/state/audit.jsonl $witness
