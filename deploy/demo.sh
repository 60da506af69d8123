#!/bin/sh
# The README's main job. Usage: deploy/demo.sh BUILD_DIR
set -eu
build=${1:-build/release}
bin=$build/bin

echo "dpfl demo: the federation daemons are not built yet; running what exists."
if [ -x "$bin/dpfl-privacy" ]; then
    echo
    echo "Privacy of one hospital in the demo job (455 training records,"
    echo "expected batch 64, 150 DP-SGD steps, noise multiplier 1.1):"
    "$bin/dpfl-privacy" report --sampling-rate 0.1407 --noise-multiplier 1.1 \
        --steps 150 --delta 1e-5
fi
