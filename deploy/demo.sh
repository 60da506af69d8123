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
# (default: a new folder under /tmp); the port is DPFL_DEMO_PORT (17600).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/release}
case $build in /*) ;; *) build=$top/$build ;; esac
bin=$build/bin
pki="bash $top/deploy/dpfl-pki"
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
$pki init --ca ca --name "dpfl demo CA" >/dev/null
$pki request --site coordinator --out coordinator >/dev/null
$pki sign --ca ca --csr coordinator/coordinator.csr --site coordinator \
    --role server --dns coordinator.dpfl.local \
    --out coordinator/coordinator.pem >/dev/null
$pki audit-key --out coordinator --name audit >/dev/null
for s in $sites; do
    $pki request --site "$s" --out "$s" >/dev/null
    $pki sign --ca ca --csr "$s/$s.csr" --site "$s" --role client \
        --out "$s/$s.pem" >/dev/null
    $pki audit-key --out "$s" --name audit >/dev/null
done

# 2. Three hospitals: every third record of the data set.
i=0
for s in $sites; do
    awk -F, -v k=$i 'NR == 1 || (NR - 2) % 3 == k' \
        "$top/data/breast_cancer_wdbc.csv" >"$s/records.csv"
    i=$((i + 1))
done

# 3. Configs. Each hospital approves exactly this job file by its hash.
cp "$top/deploy/examples/job.ini" job.ini
job_hash=$(sha256sum job.ini | cut -d' ' -f1)
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
{
    echo "[coordinator]"
    echo "listen = tcp://127.0.0.1:$port"
    echo "state_dir = $dir/coordinator/state"
    echo "quorum_wait_s = 20"
    echo "[tls]"
    echo "ca = $dir/ca/ca.pem"
    echo "crl = $dir/ca/crl.pem"
    echo "cert = $dir/coordinator/coordinator.pem"
    echo "key = $dir/coordinator/coordinator.key"
    echo "[allow]"
    for s in $sites; do echo "$s = $(fpr "$s/$s.pem")"; done
    echo "[audit]"
    echo "key = $dir/coordinator/audit.key"
} >coordinator.ini
for s in $sites; do
    cat >"$s/node.ini" <<INI
[node]
name = $s
coordinator = tcp://127.0.0.1:$port
coordinator_name = coordinator.dpfl.local
data = $dir/$s/records.csv
state_dir = $dir/$s/state
[tls]
ca = $dir/ca/ca.pem
crl = $dir/ca/crl.pem
cert = $dir/$s/$s.pem
key = $dir/$s/$s.key
[budget]
epsilon_max = 3
delta = 1e-5
accountant = rdp
[approved_jobs]
wdbc-demo = $job_hash
[audit]
key = $dir/$s/audit.key
INI
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
