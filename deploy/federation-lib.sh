# deploy/federation-lib.sh: shared by deploy/demo.sh and the integration
# tests. Source it with `top` set to the repository root; it makes a
# throwaway PKI and the configs of a one-machine federation.
#
#   fed_pki DIR SITE...          CA, coordinator server cert, client certs,
#                                audit keys (deploy/dpfl-pki)
#   fed_coordinator_ini DIR PORT SITE...   DIR/coordinator.ini
#   fed_node_ini DIR SITE PORT JOB_HASH [EPSILON_MAX]   DIR/SITE/node.ini
#   fed_split CSV DIR SITE...    every k-th record to the k-th site

fed_pki() {
    _dir=$1
    shift
    _pki="bash $top/deploy/dpfl-pki"
    $_pki init --ca "$_dir/ca" --name "dpfl throwaway CA" >/dev/null
    $_pki request --site coordinator --out "$_dir/coordinator" >/dev/null
    $_pki sign --ca "$_dir/ca" --csr "$_dir/coordinator/coordinator.csr" \
        --site coordinator --role server --dns coordinator.dpfl.local \
        --out "$_dir/coordinator/coordinator.pem" >/dev/null
    $_pki audit-key --out "$_dir/coordinator" --name audit >/dev/null
    for _s in "$@"; do
        $_pki request --site "$_s" --out "$_dir/$_s" >/dev/null
        $_pki sign --ca "$_dir/ca" --csr "$_dir/$_s/$_s.csr" --site "$_s" \
            --role client --out "$_dir/$_s/$_s.pem" >/dev/null
        $_pki audit-key --out "$_dir/$_s" --name audit >/dev/null
    done
}

fed_fingerprint() {
    openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2
}

fed_coordinator_ini() {
    _dir=$1
    _port=$2
    shift 2
    {
        echo "[coordinator]"
        echo "listen = tcp://127.0.0.1:$_port"
        echo "state_dir = $_dir/coordinator/state"
        echo "quorum_wait_s = ${FED_QUORUM_WAIT:-20}"
        echo "[tls]"
        echo "ca = $_dir/ca/ca.pem"
        echo "crl = $_dir/ca/crl.pem"
        echo "cert = $_dir/coordinator/coordinator.pem"
        echo "key = $_dir/coordinator/coordinator.key"
        echo "[allow]"
        for _s in "$@"; do
            echo "$_s = $(fed_fingerprint "$_dir/$_s/$_s.pem")"
        done
        echo "[audit]"
        echo "key = $_dir/coordinator/audit.key"
    } >"$_dir/coordinator.ini"
}

fed_node_ini() {
    _dir=$1
    _s=$2
    cat >"$_dir/$_s/node.ini" <<INI
[node]
name = $_s
coordinator = tcp://127.0.0.1:$3
coordinator_name = coordinator.dpfl.local
data = $_dir/$_s/records.csv
state_dir = $_dir/$_s/state
[tls]
ca = $_dir/ca/ca.pem
crl = $_dir/ca/crl.pem
cert = $_dir/$_s/$_s.pem
key = $_dir/$_s/$_s.key
[budget]
epsilon_max = ${5:-3}
delta = 1e-5
accountant = rdp
[approved_jobs]
job = $4
[audit]
key = $_dir/$_s/audit.key
INI
}

fed_split() {
    _csv=$1
    _dir=$2
    shift 2
    _n=$#
    _i=0
    for _s in "$@"; do
        awk -F, -v k=$_i -v n=$_n 'NR == 1 || (NR - 2) % n == k' "$_csv" \
            >"$_dir/$_s/records.csv"
        _i=$((_i + 1))
    done
}
