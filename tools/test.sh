#!/usr/bin/env bash
# The README's test command: install what is missing, build with -Werror and
# run every test (unit and integration) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEG_WERROR=ON
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j2 "$@"
