#!/bin/sh
# Install dpfl's build and run dependencies from Debian 12 packages.
# Idempotent: when every package is present it only checks and returns.
set -eu

PACKAGES="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev \
libssl-dev openssl libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
libopenblas-dev libcmocka-dev libjansson-dev libinih-dev libfftw3-dev \
libxml2-dev"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
