#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# whole envgate stack on 127.0.0.1 until Ctrl-C:
#   envgate-devbroker (Kafka), redis-server, envgate-ingress, two workers,
# and, without GitHub App credentials, envgate-ghsim with a demo scenario plus
# two signed demo deliveries (one approved, one rejected).
# With ENVGATE_APP_ID, ENVGATE_APP_PRIVATE_KEY_FILE, ENVGATE_WEBHOOK_SECRET
# (or _FILE) and ENVGATE_POLICY_FILE set, it uses real GitHub instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.local"
bin="$root/build/bin"
pids=()

say() { printf '\033[1m%s\033[0m\n' "$*"; }

stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping ${#pids[@]} processes..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  say "stopped. Logs are in $state/."
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

tools/setup-deps.sh
say "building..."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

rm -rf "$state"
mkdir -p "$state"

free_port() {
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

wait_for() { # wait_for WHAT COMMAND...
  local what=$1
  shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "run-local: error: $what did not start; see $state/" >&2
  exit 1
}

# Kafka: the development broker (librdkafka's mock cluster).
"$bin/envgate-devbroker" --bootstrap-file "$state/bootstrap" \
  >"$state/devbroker.out" 2>"$state/devbroker.log" &
pids+=($!)
wait_for "envgate-devbroker" test -s "$state/bootstrap"
export ENVGATE_KAFKA_BROKERS=$(head -1 "$state/bootstrap")

# Redis, without persistence.
redis_port=$(free_port 16379)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
  --appendonly no --dir "$state" >"$state/redis.log" 2>&1 &
pids+=($!)
wait_for "redis-server" redis-cli -p "$redis_port" ping
export ENVGATE_REDIS_URL="redis://127.0.0.1:$redis_port/0"

cat >"$state/kafka.conf" <<'CONF'
# Quick group joins on the development broker (docs/devbroker.md).
session.timeout.ms=6000
reconnect.backoff.max.ms=1000
CONF
export ENVGATE_KAFKA_CONFIG_FILE="$state/kafka.conf"

demo=0
if [ -z "${ENVGATE_APP_ID:-}" ]; then
  demo=1
  say "no GitHub App configured: using envgate-ghsim with a demo scenario"
  openssl genrsa -out "$state/app-key.pem" 2048 2>/dev/null
  openssl rsa -in "$state/app-key.pem" -pubout -out "$state/app-pub.pem" 2>/dev/null
  "$bin/envgate-ghsim" --listen 127.0.0.1:0 --addr-file "$state/ghsim.addr" \
    --scenario tools/ghsim/scenarios/demo.json \
    --app-public-key "$state/app-pub.pem" --app-id 123456 \
    >"$state/ghsim.out" 2>"$state/ghsim.log" &
  pids+=($!)
  wait_for "envgate-ghsim" test -s "$state/ghsim.addr"
  export ENVGATE_GITHUB_API_URL=$(head -1 "$state/ghsim.addr")
  export ENVGATE_APP_ID=123456
  export ENVGATE_APP_PRIVATE_KEY_FILE="$state/app-key.pem"
  openssl rand -hex 32 >"$state/webhook-secret"
  export ENVGATE_WEBHOOK_SECRET_FILE="$state/webhook-secret"
  unset ENVGATE_WEBHOOK_SECRET
  export ENVGATE_POLICY_FILE="$root/config/policy.json"
fi

ingress_listen=${ENVGATE_LISTEN:-127.0.0.1:8080}
ENVGATE_LISTEN=$ingress_listen "$bin/envgate-ingress" 2>"$state/ingress.log" &
pids+=($!)
wait_for "envgate-ingress" curl -sf "http://$ingress_listen/healthz"

for n in 1 2; do
  port=$(free_port $((9089 + n)))
  ENVGATE_METRICS_LISTEN="127.0.0.1:$port" "$bin/envgate-worker" \
    2>"$state/worker$n.log" &
  pids+=($!)
  wait_for "envgate-worker $n" curl -sf "http://127.0.0.1:$port/healthz"
  say "worker $n: metrics on http://127.0.0.1:$port/metrics"
done
say "ingress: POST http://$ingress_listen/webhook  (metrics: /metrics)"

# Prints every review as it happens, in plain words.
tail -q -n +1 -F "$state"/worker1.log "$state"/worker2.log 2>/dev/null |
  sed -un 's/.*"msg":"reviewed".*"repository":"\([^"]*\)","run_id":\([0-9]*\),"environment":"\([^"]*\)","state":"\([^"]*\)","comment":"\([^"]*\)".*/review: \1 run \2 (\3) -> \4: \5/p;
           s/.*"msg":"dead-lettered".*"delivery":"\([^"]*\)".*"error":"\([^"]*\)".*/dead letter: delivery \1: \2/p' &
pids+=($!)

if [ "$demo" = 1 ]; then
  send() { # send RUN SHA DEPLOYMENT DELIVERY
    local body sig
    body=$(printf '{"action":"requested","environment":"release","event":"workflow_dispatch","deployment_callback_url":"%s/repos/octo-org/octo-repo/actions/runs/%s/deployment_protection_rule","deployment":{"id":%s,"environment":"release"},"pull_requests":[],"sha":"%s","ref":"main","repository":{"id":1296269,"name":"octo-repo","full_name":"octo-org/octo-repo","owner":{"login":"octo-org"}},"sender":{"login":"octocat"},"installation":{"id":4242},"workflow_run":{"id":%s}}' \
      "$ENVGATE_GITHUB_API_URL" "$1" "$3" "$2" "$1")
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$(cat "$ENVGATE_WEBHOOK_SECRET_FILE")" -r | cut -d' ' -f1)
    curl -s -o /dev/null -w "sent delivery $4 for run $1: HTTP %{http_code}\n" \
      -H "Content-Type: application/json" -H "X-GitHub-Event: deployment_protection_rule" \
      -H "X-GitHub-Delivery: $4" -H "X-Hub-Signature-256: sha256=$sig" \
      --data-binary "$body" "http://$ingress_listen/webhook"
  }
  say "sending two demo deliveries (run 30433642 should be approved, 30433643 rejected)..."
  send 30433642 acb5820ced9479c074f688cc328bf03f341a511d 5001 "$(cat /proc/sys/kernel/random/uuid)"
  send 30433643 f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0 5002 "$(cat /proc/sys/kernel/random/uuid)"
fi

say "running; press Ctrl-C to stop. Logs: $state/"
while :; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "run-local: a process exited unexpectedly; see $state/" >&2
      exit 1
    fi
  done
  sleep 1
done
