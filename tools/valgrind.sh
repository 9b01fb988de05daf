#!/usr/bin/env bash
# Runs the unit tests under valgrind memcheck, two at a time: any memory
# error or definite leak fails (exit 1), with each test's report in
# <build>/valgrind/<test>.log. Uses the RelWithDebInfo build of
# tools/test.sh (build/, or $EG_BUILD_DIR; configured and built here if
# needed). Arguments are ctest regular expressions selecting tests
# (default: every test labelled unit).
# The integration tests run our binaries under valgrind with
# EG_IT_VALGRIND=1 (docs/integration-tests.md).
# tools/valgrind.supp holds the suppressions: third-party libraries only,
# each with the reason it is not ours.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EG_BUILD_DIR:-build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

if [ -f "$build/CMakeCache.txt" ] &&
  grep -q '^EG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "valgrind.sh: $build is a sanitizer build; use a plain one" >&2
  exit 2
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

if [ $# -eq 0 ]; then
  set -- -L unit
else
  pattern=$(IFS='|'; echo "$*")
  set -- -R "$pattern"
fi
tests=$(ctest --test-dir "$build" -N "$@" | sed -n 's/^ *Test *#[0-9]*: //p')
if [ -z "$tests" ]; then
  echo "valgrind.sh: no test selected" >&2
  exit 2
fi

mkdir -p "$build/valgrind"
# Timing bounds and waits in the tests scale with this (valgrind runs
# everything ~20 times slower, one thread at a time).
export EG_TEST_TIMEOUT_MULTIPLIER=${EG_TEST_TIMEOUT_MULTIPLIER:-10}
root=$(pwd)
export build root
# One test: memcheck over the cmocka executable, from the build dir as
# ctest would run it. Exit 99 means valgrind found errors. Malloc is
# intercepted in libc only, so that the tests' allocation-failure injector
# (tests/unit/oom_inject.h) keeps working and its failure paths are
# checked too.
run_one() {
  local t=$1 rc=0 start=$SECONDS
  (cd "$build/tests" && valgrind --quiet --error-exitcode=99 \
    --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --track-origins=yes \
    --soname-synonyms=somalloc=nouserintercepts \
    --suppressions="$root/tools/valgrind.supp" \
    "$build/bin/$t") >"$build/valgrind/$t.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "valgrind: $t ok ($((SECONDS - start)) s)"
  else
    echo "valgrind: $t FAILED (exit $rc; $build/valgrind/$t.log)"
    grep -E '^==[0-9]+== ' "$build/valgrind/$t.log" | head -30 || true
    return 1
  fi
}
export -f run_one
# The slowest under valgrind first (RSA keys, big bodies), so that two at a
# time finish together.
tests=$( (echo "$tests" | grep -xE 'test_(jwt|decision|event)' || true
  echo "$tests" | grep -vxE 'test_(jwt|decision|event)' || true) | grep .)
if ! echo "$tests" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {}; then
  echo "valgrind.sh: memory errors or leaks (see above)" >&2
  exit 1
fi
