#!/usr/bin/env bash
# The ingress benchmark of issue 4 (see docs/BENCHMARKS.md, "Ingress").
#
# Builds (Release), starts envgate-devbroker, then runs three servers in turn
# on loopback: (a) envgate-ingress, (b) the Node @octokit/webhooks peer,
# (c) the HMAC-only ceiling. For each: a warm-up, a closed-loop run at the
# maximum rate (wrk -t1 -c32 --latency), then a paced run at half the maximum
# rate measured for that server. Every answer must be 202. The server's own
# CPU time (utime+stime of its process, all threads) is divided by the
# requests answered. Finally the events in envgate.events are counted and
# compared with the 202s the ingress gave.
#
# Exit status: 0 when the run was sound (whether or not the goals are met),
# 1 when it was broken (a server did not start or died, an answer was not
# 202, wrk failed, events are missing from Kafka), 2 for bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/ingress

duration=15
warmup=5
connections=32
brokers=3
build_dir=$ROOT/build-bench
build=1
pin=1
wrk_cpu=0
server_cpu=1
servers="ingress node hmac"
out=""
keep=0
port_base=18091
perf_out=""

usage() {
  cat <<EOF
usage: bench/ingress/run.sh [options]

  --duration S      seconds of each measured run (default $duration)
  --warmup S        seconds of warm-up per server (default $warmup)
  --connections N   wrk connections (default $connections)
  --brokers N       devbroker brokers (default $brokers)
  --servers LIST    subset of "ingress node hmac" (default all three;
                    ratios and goals need all three)
  --build-dir DIR   CMake build directory (default build-bench)
  --no-build        use the binaries already in --build-dir
  --no-pin          do not pin wrk and the servers to separate CPUs
  --port-base P     ports P, P+1 for the Node peer and the ceiling
                    (default $port_base; the ingress picks a free port)
  --out FILE        also write the results table to FILE
                    (default <build-dir>/bench-ingress.md)
  --keep            keep the work directory (logs, wrk output)
  --perf FILE       after the measured runs, one more max-rate run of the
                    ingress under perf record --call-graph dwarf, saved to
                    FILE and summarised with bench/ingress/perf_attrib.py
                    (not used for the table: perf itself costs CPU)

The ingress inherits the environment, so ENVGATE_LOG_LEVEL and
ENVGATE_KAFKA_CONFIG_FILE can be set for experiments.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --duration) duration=$2; shift 2 ;;
  --warmup) warmup=$2; shift 2 ;;
  --connections) connections=$2; shift 2 ;;
  --brokers) brokers=$2; shift 2 ;;
  --servers) servers=$2; shift 2 ;;
  --build-dir) build_dir=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  --no-pin) pin=0; shift ;;
  --port-base) port_base=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --keep) keep=1; shift ;;
  --perf) perf_out=$2; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$duration" "$warmup" "$connections" "$brokers" "$port_base"; do
  case "$n" in
  '' | *[!0-9]*) echo "run.sh: not a number: $n" >&2; exit 2 ;;
  esac
done
for s in $servers; do
  case "$s" in
  ingress | node | hmac) ;;
  *) echo "run.sh: unknown server $s" >&2; exit 2 ;;
  esac
done
out=${out:-$build_dir/bench-ingress.md}

for tool in wrk kcat curl openssl taskset node npm cmake awk; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done
time_bin=/usr/bin/time
[ -x "$time_bin" ] || time_bin=""
clk_tck=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/envgate-bench-ingress.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [ "$keep" = 1 ]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# A broken run keeps its work directory (logs, wrk output) for inspection.
die() {
  echo "run.sh: BROKEN: $*" >&2
  keep=1
  exit 1
}
log() { echo "== $*"; }

if [ "$pin" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || die "--no-pin is needed on a single CPU"
  wrk_pin=(taskset -c "$wrk_cpu")
  server_pin=(taskset -c "$server_cpu")
else
  wrk_pin=()
  server_pin=()
fi

# ---- build -----------------------------------------------------------------
bin=$build_dir/bin
if [ "$build" = 1 ]; then
  log "building (Release) in $build_dir"
  cmake -S "$ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" ||
    { cat "$work/cmake.log"; die "cmake failed"; }
  cmake --build "$build_dir" -j2 --target envgate-ingress envgate-devbroker \
    envgate-bench-hmac-only >>"$work/cmake.log" 2>&1 ||
    { tail -30 "$work/cmake.log"; die "build failed"; }
fi
for b in envgate-ingress envgate-devbroker envgate-bench-hmac-only; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing (build first or drop --no-build)"
done
case " $servers " in
*" node "*)
  if [ ! -d "$HERE/node/node_modules/@octokit/webhooks" ]; then
    log "npm ci in bench/ingress/node"
    (cd "$HERE/node" && npm ci --no-audit --no-fund >"$work/npm.log" 2>&1) ||
      { cat "$work/npm.log"; die "npm ci failed"; }
  fi
  ;;
esac

# ---- payloads ----------------------------------------------------------------
# 16 deliveries: the realistic payload with 16 different run ids (same length,
# so 16 Kafka keys spread over the partitions), each with its own delivery id
# and signature.
secret="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
payload=$ROOT/tests/data/deployment_protection_rule.requested.realistic.json
run_id=$(grep -o 'actions/runs/[0-9]*' "$payload" | head -1 | cut -d/ -f3)
[ -n "$run_id" ] || die "no run id in $payload"
: >"$work/requests.txt"
for i in $(seq 0 15); do
  body=$work/body$i.json
  sed "s/$run_id/$((run_id + i))/g" "$payload" >"$body"
  sig=$(openssl dgst -sha256 -hmac "$secret" -r "$body" | cut -d' ' -f1)
  printf '%s sha256=%s %s\n' "$body" "$sig" \
    "$(cat /proc/sys/kernel/random/uuid)" >>"$work/requests.txt"
done
payload_bytes=$(wc -c <"$work/body0.json")

# ---- helpers ---------------------------------------------------------------
# utime+stime of a process (all its threads, live and exited), in ticks.
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || die "process $1 ($2) is gone"
  s=${s##*) }
  local -a fields
  read -r -a fields <<<"$s"
  # Fields 14 and 15 of stat (utime, stime), counted after the command name.
  echo $((fields[11] + fields[12]))
}

# Busy ticks of the whole machine (for the "other load" warning).
sys_busy() {
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# kv KEY: the value of KEY=value in $line (wrk's BENCH line).
kv() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

alive() {
  kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# wait_http PID NAME URL EXPECTED_STATUS [POST]
wait_http() {
  local pid=$1 name=$2 url=$3 want=$4 method=${5:-GET} code
  for _ in $(seq 1 200); do
    alive "$pid" || { tail -5 "$work/$name.log" >&2; die "$name exited during startup (see $work/$name.log)"; }
    code=$(curl -s -o /dev/null -m 1 -X "$method" -w '%{http_code}' "$url" || true)
    [ "$code" = "$want" ] && return 0
    sleep 0.1
  done
  die "$name did not answer $want on $url within 20 s"
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# run_wrk NAME LABEL URL SECONDS RATE SERVER_PID
# Runs wrk and sets: W_REQ W_NON202 W_ERR W_RPS W_P50 W_P99 W_P999 W_LATE
# W_CPU_US (server CPU µs per request) W_DB_US (devbroker) W_OTHER (other
# load, % of one CPU) W_WRK (wrk's CPU, % of one CPU).
run_wrk() {
  local name=$1 label=$2 url=$3 secs=$4 rate=$5 pid=$6
  local f=$work/wrk-$name-$label.txt line c0 c1 d0 d1 s0 s1 t0 t1 wall
  local tcmd=()
  [ -n "$time_bin" ] && tcmd=("$time_bin" -f '%U %S' -o "$work/time-$name-$label")
  c0=$(cpu_ticks "$pid" "$name")
  d0=0
  [ -n "${db_pid:-}" ] && d0=$(cpu_ticks "$db_pid" devbroker)
  s0=$(sys_busy)
  t0=$(date +%s%N)
  BENCH_REQUESTS=$work/requests.txt BENCH_RATE=$rate \
    "${tcmd[@]}" "${wrk_pin[@]}" wrk -t1 -c"$connections" -d"${secs}s" \
    --timeout 10s --latency -s "$HERE/post.lua" "$url" >"$f" 2>&1 ||
    { cat "$f"; die "wrk failed against $name ($label)"; }
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$pid" "$name")
  d1=0
  [ -n "${db_pid:-}" ] && d1=$(cpu_ticks "$db_pid" devbroker)
  s1=$(sys_busy)
  line=$(grep '^BENCH ' "$f") || { cat "$f"; die "wrk printed no result for $name ($label)"; }
  W_REQ=$(kv requests)
  W_NON202=$(kv non202)
  W_ERR=$(kv errors)
  W_RPS=$(kv rps)
  W_P50=$(kv p50_us)
  W_P99=$(kv p99_us)
  W_P999=$(kv p999_us)
  W_LATE=$(kv late)
  W_LAGMAX=$(kv lag_max_ms)
  [ "$W_REQ" -gt 0 ] || die "$name answered no request ($label)"
  W_CPU_US=$(awk -v t=$((c1 - c0)) -v hz="$clk_tck" -v n="$W_REQ" \
    'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  W_DB_US=$(awk -v t=$((d1 - d0)) -v hz="$clk_tck" -v n="$W_REQ" \
    'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  W_WRK=""
  local wrk_ticks=0
  if [ -n "$time_bin" ]; then
    wrk_ticks=$(awk -v hz="$clk_tck" 'NR == 1 { printf "%d", ($1 + $2) * hz }' \
      "$work/time-$name-$label")
    W_WRK=$(awk -v t="$wrk_ticks" -v hz="$clk_tck" -v w="$wall" \
      'BEGIN { printf "%.0f", 100 * t / hz / w }')
  fi
  W_SRV=$(awk -v t=$((c1 - c0)) -v hz="$clk_tck" -v w="$wall" \
    'BEGIN { printf "%.0f", 100 * t / hz / w }')
  W_OTHER=$(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v d=$((d1 - d0)) \
    -v k="$wrk_ticks" -v hz="$clk_tck" -v w="$wall" \
    'BEGIN { o = 100 * (s - c - d - k) / hz / w; if (o < 0) o = 0; printf "%.0f", o }')
  printf '   %-8s %-6s %8d req %9.1f req/s  cpu %6s us/req  p50 %6s us  p99 %6s us' \
    "$name" "$label" "$W_REQ" "$W_RPS" "$W_CPU_US" "$W_P50" "$W_P99"
  printf '  server %s%% wrk %s%% other %s%% of a CPU\n' "$W_SRV" "${W_WRK:-?}" "$W_OTHER"
  if [ "$W_NON202" != 0 ]; then
    echo "$line"
    die "$name gave $W_NON202 answers that were not 202 ($label)"
  fi
  if [ "$W_ERR" != 0 ]; then
    # Socket errors include answers slower than GitHub's 10 s timeout. A cold
    # server may have some while warming up; a measured run may not.
    grep -i 'socket errors' "$f" || true
    [ "$label" = warmup ] || die "wrk saw $W_ERR socket errors against $name ($label)"
    echo "   warning: $W_ERR socket errors during the warm-up"
  fi
  [ "$W_OTHER" -le 15 ] || echo "   warning: other processes used $W_OTHER% of a CPU during this run"
  total_202[$name]=$((${total_202[$name]:-0} + W_REQ))
  wrk_runs[$name]=$((${wrk_runs[$name]:-0} + 1))
}

kafka_half=""
declare -A total_202 wrk_runs rps cpu half_rate half_rps half_cpu p50 p99 p999 \
  late lagmax dbus
db_pid=""

# hist_quantiles BEFORE AFTER METRIC: p50 and p99 bucket bounds of a
# Prometheus histogram over the interval between two /metrics snapshots.
hist_quantiles() {
  awk -v m="$3" '
    index($0, m "_bucket{le=\"") == 1 {
      le = $0; sub(/^[^"]*"/, "", le); sub(/".*/, "", le)
      if (FILENAME == ARGV[1]) before[le] = $2
      else { n++; bound[n] = le; after[le] = $2 }
    }
    END {
      total = after["+Inf"] - before["+Inf"]
      if (total <= 0) { print "no samples"; exit }
      for (i = 1; i <= n; i++) {
        c = after[bound[i]] - before[bound[i]]
        if (p50 == "" && c >= 0.5 * total) p50 = bound[i]
        if (p99 == "" && c >= 0.99 * total) p99 = bound[i]
      }
      fmt = "p50 <= %s ms, p99 <= %s ms (bucket bounds, %d events)"
      printf fmt "\n", (p50 == "+Inf" ? "inf" : p50 * 1000), (p99 == "+Inf" ? "inf" : p99 * 1000), total
    }' "$1" "$2"
}

# measure NAME PID URL [METRICS_URL]: warm-up, max rate, half rate.
measure() {
  local name=$1 pid=$2 url=$3 metrics_url=${4:-} target
  run_wrk "$name" warmup "$url" "$warmup" 0 "$pid"
  run_wrk "$name" max "$url" "$duration" 0 "$pid"
  rps[$name]=$W_RPS
  cpu[$name]=$W_CPU_US
  dbus[$name]=$W_DB_US
  target=$(awk -v r="$W_RPS" 'BEGIN { printf "%d", r / 2 }')
  half_rate[$name]=$target
  [ -z "$metrics_url" ] || curl -s -m 5 "$metrics_url" >"$work/metrics-half-0" || true
  run_wrk "$name" half "$url" "$duration" "$target" "$pid"
  if [ -n "$metrics_url" ] && curl -s -m 5 "$metrics_url" >"$work/metrics-half-1"; then
    kafka_half=$(hist_quantiles "$work/metrics-half-0" "$work/metrics-half-1" \
      envgate_ingress_enqueue_latency_seconds)
    echo "   Kafka acknowledgement latency at half rate (ingress histogram): $kafka_half"
  fi
  half_rps[$name]=$W_RPS
  half_cpu[$name]=$W_CPU_US
  p50[$name]=$W_P50
  p99[$name]=$W_P99
  p999[$name]=$W_P999
  late[$name]=$W_LATE
  lagmax[$name]=$W_LAGMAX
}

# stop NAME PID: SIGTERM, expect exit status 0.
stop_server() {
  local name=$1 pid=$2 rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || die "$name exited with status $rc after SIGTERM (see $work/$name.log)"
}

# ---- devbroker ---------------------------------------------------------------
case " $servers " in
*" ingress "*)
  log "starting envgate-devbroker ($brokers brokers, pinned with wrk)"
  "${wrk_pin[@]}" "$bin/envgate-devbroker" --brokers "$brokers" \
    --bootstrap-file "$work/bootstrap" >"$work/devbroker.out" 2>"$work/devbroker.log" &
  db_pid=$!
  pids+=("$db_pid")
  for _ in $(seq 1 100); do
    [ -s "$work/bootstrap" ] && break
    alive "$db_pid" || die "envgate-devbroker exited (see $work/devbroker.log)"
    sleep 0.1
  done
  [ -s "$work/bootstrap" ] || die "envgate-devbroker wrote no bootstrap file"
  bootstrap=$(cat "$work/bootstrap")
  ;;
esac

# ---- (a) envgate-ingress -----------------------------------------------------
if [[ " $servers " == *" ingress "* ]]; then
  log "envgate-ingress (ENVGATE_LOG_LEVEL=${ENVGATE_LOG_LEVEL:-info}${ENVGATE_KAFKA_CONFIG_FILE:+, ENVGATE_KAFKA_CONFIG_FILE=$ENVGATE_KAFKA_CONFIG_FILE})"
  ENVGATE_WEBHOOK_SECRET=$secret ENVGATE_WEBHOOK_SECRET_FILE='' \
    ENVGATE_KAFKA_BROKERS=$bootstrap ENVGATE_LISTEN=127.0.0.1:0 \
    "${server_pin[@]}" "$bin/envgate-ingress" >"$work/ingress.out" 2>"$work/ingress.log" &
  ing_pid=$!
  pids+=("$ing_pid")
  port=""
  for _ in $(seq 1 100); do
    alive "$ing_pid" || { tail -5 "$work/ingress.log" >&2; die "envgate-ingress exited during startup (see $work/ingress.log)"; }
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/ingress.log" 2>/dev/null |
      grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || die "envgate-ingress did not log its port"
  wait_http "$ing_pid" ingress "http://127.0.0.1:$port/readyz" 200
  measure ingress "$ing_pid" "http://127.0.0.1:$port/webhook" "http://127.0.0.1:$port/metrics"
  if [ -n "$perf_out" ]; then
    command -v perf >/dev/null || die "--perf needs perf"
    log "profiling envgate-ingress (perf record, $duration s at max rate)"
    perf record -q -F 999 --call-graph dwarf,32768 -p "$ing_pid" -o "$perf_out" \
      -- sleep $((duration > 4 ? duration - 2 : 2)) >"$work/perf.log" 2>&1 &
    perf_pid=$!
    sleep 1
    run_wrk ingress profile "http://127.0.0.1:$port/webhook" "$duration" 0 "$ing_pid"
    wait "$perf_pid" || { cat "$work/perf.log"; die "perf record failed"; }
    perf script -i "$perf_out" -F comm,tid,ip,sym,dso 2>/dev/null |
      python3 "$HERE/perf_attrib.py" "${cpu[ingress]}" >"$perf_out.txt" ||
      die "perf_attrib.py failed"
    echo "   CPU shares (scaled to the ${cpu[ingress]} µs/req measured without perf):"
    sed 's/^/   /' "$perf_out.txt"
  fi
  metrics=$(curl -s -m 5 "http://127.0.0.1:$port/metrics") || die "no /metrics"
  stop_server ingress "$ing_pid"
  # Every 202 must be in Kafka. wrk abandons the requests in flight when a
  # run ends; the ingress still enqueues them, so Kafka may hold up to
  # connections x runs more events than wrk saw 202s.
  enq_metric=$(echo "$metrics" | awk '$1 == "envgate_ingress_enqueued_total" { print $2 }')
  kafka_events=$(kcat -C -b "$bootstrap" -t envgate.events -o -1 -e -q \
    -f '%o\n' 2>"$work/kcat.log" | awk '{ n += $1 + 1 } END { print n + 0 }')
  seen=${total_202[ingress]}
  slack=$((connections * wrk_runs[ingress]))
  echo "   202s seen by wrk: $seen; enqueued_total metric: ${enq_metric:-?};" \
    "events in envgate.events: $kafka_events"
  [ "$kafka_events" -ge "$seen" ] ||
    die "envgate.events holds $kafka_events events but wrk saw $seen 202s"
  [ "$kafka_events" -le $((seen + slack)) ] ||
    die "envgate.events holds $kafka_events events, more than the $seen 202s + $slack abandoned"
  [ -z "$enq_metric" ] || [ "$enq_metric" = "$kafka_events" ] ||
    die "enqueued_total=$enq_metric but envgate.events holds $kafka_events"
  info_lines=$(grep -c '"msg":"enqueued"' "$work/ingress.log" || true)
  echo "   ingress log: $info_lines \"enqueued\" lines, $(wc -c <"$work/ingress.log") bytes"
fi

# ---- (b) the Node peer ---------------------------------------------------------
if [[ " $servers " == *" node "* ]]; then
  nport=$port_base
  port_free "$nport" || die "port $nport is in use (use --port-base)"
  log "Node peer ($(node --version), @octokit/webhooks $(node -p \
    "require('$HERE/node/node_modules/@octokit/webhooks/package.json').version"))"
  ENVGATE_WEBHOOK_SECRET=$secret BENCH_LISTEN=127.0.0.1:$nport \
    "${server_pin[@]}" node "$HERE/node/server.mjs" >"$work/node.log" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  wait_http "$node_pid" node "http://127.0.0.1:$nport/webhook" 401 POST
  measure node "$node_pid" "http://127.0.0.1:$nport/webhook"
  stop_server node "$node_pid"
fi

# ---- (c) the HMAC-only ceiling ---------------------------------------------------
if [[ " $servers " == *" hmac "* ]]; then
  hport=$((port_base + 1))
  port_free "$hport" || die "port $hport is in use (use --port-base)"
  log "HMAC-only ceiling (envgate-bench-hmac-only)"
  ENVGATE_WEBHOOK_SECRET=$secret BENCH_LISTEN=127.0.0.1:$hport \
    "${server_pin[@]}" "$bin/envgate-bench-hmac-only" >"$work/hmac.log" 2>&1 &
  hmac_pid=$!
  pids+=("$hmac_pid")
  wait_http "$hmac_pid" hmac "http://127.0.0.1:$hport/webhook" 401 POST
  measure hmac "$hmac_pid" "http://127.0.0.1:$hport/webhook"
  stop_server hmac "$hmac_pid"
fi
pids=("${db_pid:-}")
[ -n "$db_pid" ] || pids=()

# ---- results -----------------------------------------------------------------
ratio() { # a / b, or - when missing
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}
name_of() {
  case $1 in
  ingress) echo "envgate-ingress" ;;
  node) echo "Node @octokit/webhooks" ;;
  hmac) echo "HMAC-only ceiling" ;;
  esac
}
{
  echo "| server | req/s (max) | CPU µs/req (max) | req/s vs Node | CPU vs Node | CPU vs ceiling | half rate: target → achieved req/s | CPU µs/req at half | p50 ms | p99 ms | p99.9 ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in $servers; do
    printf '| %s | %.0f | %s | %s | %s | %s | %s → %.0f | %s | %.2f | %.2f | %.2f |\n' \
      "$(name_of "$s")" "${rps[$s]}" "${cpu[$s]}" \
      "$(ratio "${rps[$s]}" "${rps[node]:-}")" \
      "$(ratio "${cpu[$s]}" "${cpu[node]:-}")" \
      "$(ratio "${cpu[$s]}" "${cpu[hmac]:-}")" \
      "${half_rate[$s]}" "${half_rps[$s]}" "${half_cpu[$s]}" \
      "$(awk -v v="${p50[$s]}" 'BEGIN { print v / 1000 }')" \
      "$(awk -v v="${p99[$s]}" 'BEGIN { print v / 1000 }')" \
      "$(awk -v v="${p999[$s]}" 'BEGIN { print v / 1000 }')"
  done
  echo
  echo "Payload $payload_bytes bytes, 16 signed variants; wrk -t1 -c$connections, ${duration}s per run after ${warmup}s warm-up;" \
    "$( [ "$pin" = 1 ] && echo "wrk and devbroker on CPU $wrk_cpu, server on CPU $server_cpu" || echo "no CPU pinning")."
  if [ -n "${cpu[ingress]:-}" ]; then
    echo "devbroker ($brokers brokers, not counted above): ${dbus[ingress]} µs CPU per ingress request at max rate."
    [ -z "${kafka_half:-}" ] || echo "Kafka acknowledgement latency of the ingress at half rate: $kafka_half."
  fi
  for s in $servers; do
    echo "Pacing of $(name_of "$s") at half rate: ${late[$s]:-?} sends more than 1 ms behind schedule (max ${lagmax[$s]:-?} ms)."
  done
  if [ -n "${cpu[ingress]:-}" ] && [ -n "${cpu[node]:-}" ] && [ -n "${cpu[hmac]:-}" ]; then
    echo
    goal() { # text condition
      if awk "BEGIN { exit !($2) }"; then echo "- [met] $1"; else echo "- [NOT met] $1"; fi
    }
    goal "CPU per accepted webhook ≤ 1/3 of the Node peer's: ${cpu[ingress]} ≤ $(awk -v n="${cpu[node]}" 'BEGIN { printf "%.1f", n / 3 }') µs" \
      "${cpu[ingress]} <= ${cpu[node]} / 3"
    goal "CPU per accepted webhook ≤ 2× the HMAC-only ceiling's: ${cpu[ingress]} ≤ $(awk -v n="${cpu[hmac]}" 'BEGIN { printf "%.1f", n * 2 }') µs" \
      "${cpu[ingress]} <= ${cpu[hmac]} * 2"
    goal "throughput ≥ 3× the Node peer's: ${rps[ingress]} ≥ $(awk -v n="${rps[node]}" 'BEGIN { printf "%.0f", n * 3 }') req/s" \
      "${rps[ingress]} >= ${rps[node]} * 3"
    goal "p99 < 5 ms at half the maximum rate: $(awk -v v="${p99[ingress]}" 'BEGIN { print v / 1000 }') ms" \
      "${p99[ingress]} < 5000"
  fi
} >"$work/results.md"
echo
cat "$work/results.md"
mkdir -p "$(dirname "$out")"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  cat "$work/results.md"
} >"$out"
echo
echo "results written to $out"
