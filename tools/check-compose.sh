#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine, as CI does:
# 1. Debian's docker-compose (1.29) parses it and checks it against the
#    compose schema (`config -q`), with placeholder secret files in a
#    temporary copy of the project (secrets/ itself is never touched);
# 2. the required ENVGATE_APP_ID is really required;
# 3. consistency checks on the resolved file: every ENVGATE_*_FILE under
#    /run/secrets/ names a secret the service mounts, every secret has a file
#    under secrets/ documented in secrets/README.md, and the worker can scale
#    (no container name, no host port).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  echo "check-compose: installing docker-compose" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends docker-compose
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp docker-compose.yml "$tmp/"
mkdir -p "$tmp/config" "$tmp/secrets"
cp config/policy.json "$tmp/config/"
# Placeholders for every secret file the compose file names.
sed -n 's|^ *file: \./secrets/\([A-Za-z0-9_.-]*\) *$|\1|p' docker-compose.yml |
  while read -r name; do
    echo placeholder-not-a-secret >"$tmp/secrets/$name"
  done

echo "== docker-compose config -q ($(docker-compose version --short))"
(cd "$tmp" && ENVGATE_APP_ID=1 docker-compose -f docker-compose.yml config -q)

echo "== ENVGATE_APP_ID is required"
if (cd "$tmp" && env -u ENVGATE_APP_ID docker-compose -f docker-compose.yml \
  config -q) 2>"$tmp/err"; then
  echo "check-compose: config passed without ENVGATE_APP_ID" >&2
  exit 1
fi
grep -q ENVGATE_APP_ID "$tmp/err"

echo "== consistency of secrets, files and the worker service"
(cd "$tmp" && ENVGATE_APP_ID=1 docker-compose -f docker-compose.yml \
  --profile tools config) >"$tmp/resolved.yml"
python3 - "$tmp/resolved.yml" secrets/README.md <<'EOF'
import re
import sys

import yaml

with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
with open(sys.argv[2]) as f:
    readme = f.read()

problems = []
declared = doc.get("secrets", {})
for name, spec in declared.items():
    base = spec["file"].rsplit("/", 1)[-1]
    if "`%s`" % base not in readme:
        problems.append("secret file %s is not described in secrets/README.md" % base)

for svc_name, svc in doc["services"].items():
    mounted = set()
    for s in svc.get("secrets", []):
        mounted.add(s["source"] if isinstance(s, dict) else s)
    env = svc.get("environment", {}) or {}
    for key, value in env.items():
        if key.startswith("ENVGATE_") and key.endswith("_FILE"):
            m = re.fullmatch(r"/run/secrets/([A-Za-z0-9_.-]+)", str(value))
            if m is None:
                continue
            if m.group(1) not in mounted:
                problems.append("%s: %s=%s but the service does not mount secret %s"
                                % (svc_name, key, value, m.group(1)))
            if m.group(1) not in declared:
                problems.append("%s: secret %s is not declared" % (svc_name, m.group(1)))
    for s in mounted:
        if s not in declared:
            problems.append("%s: secret %s is not declared" % (svc_name, s))

worker = doc["services"].get("worker")
if worker is None:
    problems.append("no worker service")
else:
    if "container_name" in worker:
        problems.append("worker: container_name prevents --scale")
    if worker.get("ports"):
        problems.append("worker: host ports prevent --scale")

for p in problems:
    print("check-compose: " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print("services: " + ", ".join(sorted(doc["services"])))
EOF
echo "check-compose: ok"
