#!/usr/bin/env bash
# The worker benchmarks of issue 9 (see docs/BENCHMARKS.md, "Worker").
#
# Builds envgate-bench-worker and the services (RelWithDebInfo), then runs:
#   - throughput and cost: 1 and 2 worker processes x ENVGATE_WORKER_INFLIGHT
#     64 and 256, 10,000 gate requests each, ghsim with 50 ms per call and
#     20 installations: decisions/s against the ideal bound measured in the
#     same run, GitHub calls per decision and token mints as ghsim saw them;
#   - latency: 200 webhooks/s to envgate-ingress, webhook to review at
#     ghsim, against the floor of 3 GitHub rounds of the same run.
# Each run starts its own stack (devbroker, redis-server, ghsim, workers).
# Prints every run's report, then a summary table, also written to --out.
#
# Exit status: 0 when every run was sound (whether or not the goals are
# met), 1 when a run was broken (not every event decided once, a wrong
# review, a process died or did not stop cleanly), 2 for bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

build_dir=$ROOT/build-bench-worker
build=1
events=10000
workers_list="1 2"
inflight_list="64 256"
repeat=1
rate=200
duration=30
warmup=5
modes="throughput latency"
out=""
keep=0
extra=()

usage() {
  cat <<EOF
usage: bench/worker/run.sh [options] [-- envgate-bench-worker options]

  --events N        gate requests per throughput run (default $events)
  --workers LIST    worker processes to run (default "$workers_list")
  --inflight LIST   ENVGATE_WORKER_INFLIGHT values (default "$inflight_list")
  --repeat N        run each throughput configuration N times (default $repeat)
  --rate N          latency run: webhooks per second (default $rate)
  --duration S      latency run: measured seconds (default $duration)
  --warmup S        latency run: seconds sent first (default $warmup)
  --only MODE       throughput or latency (default both)
  --build-dir DIR   CMake build directory (default build-bench-worker)
  --no-build        use the binaries already in --build-dir
  --out FILE        also write the summary table to FILE
                    (default <build-dir>/bench-worker.md)
  --keep            keep each run's scratch directory (logs)

Options after -- go to every envgate-bench-worker run (see its --help),
e.g. -- --latency-ms 100 --installations 50.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --events) events=$2; shift 2 ;;
  --workers) workers_list=$2; shift 2 ;;
  --inflight) inflight_list=$2; shift 2 ;;
  --repeat) repeat=$2; shift 2 ;;
  --rate) rate=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --warmup) warmup=$2; shift 2 ;;
  --only) modes=$2; shift 2 ;;
  --build-dir) build_dir=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  --out) out=$2; shift 2 ;;
  --keep) keep=1; shift ;;
  -h | --help) usage; exit 0 ;;
  --) shift; extra=("$@"); break ;;
  *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$events" "$repeat" "$rate" "$duration" "$warmup" $workers_list \
  $inflight_list; do
  case "$n" in
  '' | *[!0-9]*) echo "run.sh: not a number: $n" >&2; exit 2 ;;
  esac
done
case "$modes" in
throughput | latency | "throughput latency") ;;
*) echo "run.sh: --only takes throughput or latency" >&2; exit 2 ;;
esac
out=${out:-$build_dir/bench-worker.md}
[ "$keep" = 1 ] && extra+=(--keep)

command -v cmake >/dev/null || { echo "run.sh: cmake is required" >&2; exit 1; }
command -v redis-server >/dev/null ||
  { echo "run.sh: redis-server is required" >&2; exit 1; }

work=$(mktemp -d /tmp/envgate-bench-worker.XXXXXX)
trap 'rm -rf "$work"' EXIT
broken=0
log() { echo "== $*"; }

# ---- build -----------------------------------------------------------------
bin=$build_dir/bin
if [ "$build" = 1 ]; then
  log "building (RelWithDebInfo) in $build_dir"
  cmake -S "$ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$work/cmake.log" || { cat "$work/cmake.log"; exit 1; }
  cmake --build "$build_dir" -j2 --target envgate-bench-worker \
    >>"$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log"; exit 1; }
fi
for b in envgate-bench-worker envgate-worker envgate-ingress envgate-ghsim \
  envgate-devbroker; do
  [ -x "$bin/$b" ] || { echo "run.sh: $bin/$b is missing" >&2; exit 1; }
done

# Runs one benchmark; its report goes to stdout and to $work/<name>.txt.
run() {
  local name=$1 rc
  shift
  log "envgate-bench-worker $*"
  {
    rc=0
    "$bin/envgate-bench-worker" "$@" "${extra[@]}" || rc=$?
    echo "$rc" >"$work/$name.rc"
  } 2>&1 | tee "$work/$name.txt"
  rc=$(cat "$work/$name.rc")
  if [ "$rc" != 0 ]; then
    echo "run.sh: BROKEN: $name (exit $rc)" >&2
    broken=1
  fi
  echo
}

# value KEY FILE: KEY=value from the summary line of a report.
value() {
  sed -n 's/^summary .* '"$1"'=\([^ ]*\).*/\1/p' "$2"
}

tp_runs=()
if [[ " $modes " == *" throughput "* ]]; then
  for w in $workers_list; do
    for k in $inflight_list; do
      for i in $(seq 1 "$repeat"); do
        run "tp-$w-$k-$i" throughput --workers "$w" --inflight "$k" \
          --events "$events"
        tp_runs+=("tp-$w-$k-$i")
      done
    done
  done
fi
if [[ " $modes " == *" latency "* ]]; then
  run lat latency --rate "$rate" --duration "$duration" --warmup "$warmup"
fi

# ---- summary ---------------------------------------------------------------
{
  echo "### Worker benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  if [ "${#tp_runs[@]}" -gt 0 ]; then
    echo "| workers | inflight | decisions/s | steady 10-90 % | ideal/s | achieved / ideal | events in flight, % of INFLIGHT | stack CPU µs/decision | CPU bound/s | other load % of a CPU | calls/decision (warm) | mints | max mints per (installation, repository) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for r in "${tp_runs[@]}"; do
      f=$work/$r.txt
      if [ -z "$(value rate "$f")" ]; then
        echo "| ${r#tp-} | broken | | | | | | | | | | | |"
        continue
      fi
      echo "| $(value workers "$f") | $(value inflight "$f") | $(value rate "$f") | $(value steady "$f") | $(value ideal "$f") | $(value ratio "$f") | $(value busy_pct "$f") | $(value cpu_us "$f") | $(value cpu_bound "$f") | $(value other_pct "$f") | $(value calls_warm "$f") | $(value mints "$f") | $(value mint_pair_max "$f") |"
    done
    echo
  fi
  if [[ " $modes " == *" latency "* ]]; then
    f=$work/lat.txt
    echo "| webhooks/s | sent/s | measured | p50 ms | p90 ms | p99 ms | max ms | floor ms | p50 / floor | p99 / floor | ingress p50 / p99 ms | stack CPU µs/decision | other load % |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if [ -n "$(value p50 "$f")" ]; then
      fl=$(value floor "$f")
      echo "| $(value rate "$f") | $(value sent_rate "$f") | $(value measured "$f") | $(value p50 "$f") | $(value p90 "$f") | $(value p99 "$f") | $(value max "$f") | $fl | $(awk -v a="$(value p50 "$f")" -v b="$fl" 'BEGIN{printf "%.2f", a/b}') | $(awk -v a="$(value p99 "$f")" -v b="$fl" 'BEGIN{printf "%.2f", a/b}') | $(value ingress_p50 "$f") / $(value ingress_p99 "$f") | $(value cpu_us "$f") | $(value other_pct "$f") |"
    else
      echo "| broken | | | | | | | | | | | | |"
    fi
    echo
  fi
  if [ "${#tp_runs[@]}" -gt 0 ]; then
    best=0 calls_ok=1 mint_ok=1
    for r in "${tp_runs[@]}"; do
      f=$work/$r.txt
      [ -n "$(value rate "$f")" ] || continue
      if [ "$(value workers "$f")" = 1 ] && [ "$(value rate "$f")" -gt "$best" ]; then
        best=$(value rate "$f")
      fi
      awk -v c="$(value calls_warm "$f")" 'BEGIN{exit !(c <= 5.0)}' || calls_ok=0
      [ "$(value mint_pair_max "$f")" = 1 ] || mint_ok=0
    done
    echo "Goals (issue 9):"
    echo
    if [ "$best" -ge 1000 ]; then m="met"; else m="NOT met"; fi
    echo "- [$m] at least 1,000 decisions/s from one process: best $best/s."
    if [ "$calls_ok" = 1 ]; then m="met"; else m="NOT met"; fi
    echo "- [$m] at most 5 GitHub calls per approved decision with a warm token cache."
    if [ "$mint_ok" = 1 ]; then m="met"; else m="NOT met"; fi
    echo "- [$m] one token mint per installation and repository per hour, fleet-wide."
  fi
} >"$work/summary.md"
mkdir -p "$(dirname "$out")"
cp "$work/summary.md" "$out"
log "summary (also in $out)"
cat "$work/summary.md"
[ "$broken" = 0 ] || { echo "run.sh: at least one run was broken" >&2; exit 1; }
