#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS
# (default 20; CI runs this briefly, run it for minutes by hand), seeded from
# the GitHub fixtures and tests/fuzz/seeds/<target>/. Arguments name the
# targets to run (default: all). Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
fixtures=${EG_FIXTURES_DIR:-$(pwd)/../shared/fixtures/github}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DEG_FUZZ=ON \
  -DEG_FIXTURES_DIR="$fixtures" >/dev/null
targets=()
if [ $# -gt 0 ]; then
  targets=("$@")
else
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null

for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  case $t in
    fuzz_event) cp "$fixtures"/webhook-*.json tests/data/*.json "$corpus"/ ;;
    fuzz_gh_parse)
      # The first byte picks the parser (see the target): each fixture
      # behind each selector.
      for f in "$fixtures"/rest-*.json; do
        for sel in 0 1 2 3 4 5 6 7; do
          { printf "\\$sel"; cat "$f"; } >"$corpus/$sel-$(basename "$f")"
        done
      done ;;
  esac
  if [ -d "tests/fuzz/seeds/$t" ]; then cp tests/fuzz/seeds/"$t"/* "$corpus"/; fi
  echo "== $t (${seconds}s)"
  rc=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "build-fuzz/bin/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len=65536 -rss_limit_mb=2048 -artifact_prefix="build-fuzz/$t-" "$corpus" >"build-fuzz/$t.log" 2>&1 ||
    rc=$?
  grep -E "stat::number_of_executed_units" "build-fuzz/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t failed (exit $rc); see build-fuzz/$t.log" >&2
    tail -40 "build-fuzz/$t.log" >&2
    exit 1
  fi
done
