#!/usr/bin/env bash
# Installs the Debian 12 packages envgate needs to build, test and run
# locally. Safe to run again: apt-get skips what is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git curl ca-certificates openssl
  librdkafka-dev libcurl4-openssl-dev libssl-dev libjansson-dev
  libhiredis-dev libmicrohttpd-dev libsimdjson-dev libcmocka-dev
  redis-server kcat clang-format clang libclang-rt-14-dev valgrind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
# The package may start a system redis on 6379; tests start their own on
# free loopback ports, so it is not needed (and not stopped either).
