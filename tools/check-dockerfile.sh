#!/usr/bin/env bash
# Builds the Dockerfile without a Docker engine and checks the result: each
# stage runs in a chroot of a fresh Debian 12 minbase (debootstrap, cached in
# build-docker/), its FROM/ARG/WORKDIR/COPY/RUN/USER instructions carried out
# in order, the build context being the tracked files minus .dockerignore.
# Then, in the final stage, as its USER: every /usr/local/bin/envgate-*
# answers --version, no library is missing, and the HEALTHCHECK command
# passes against a running envgate-ingress.
#
#   tools/check-dockerfile.sh [--build-arg NAME=VALUE]...
#
# Needs root (chroot), debootstrap (installed if missing) and the Debian
# mirror. Takes a few minutes; not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "check-dockerfile: must run as root (chroot)" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

work=$root/build-docker
base=$work/base
if [ ! -x "$base/bin/sh" ]; then
  rm -rf "$base"
  mkdir -p "$work"
  echo "== debootstrap bookworm minbase (once, cached in $base)"
  debootstrap --variant=minbase bookworm "$base" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
fi

exec python3 - "$root" "$work" "$@" <<'EOF'
import fnmatch, os, shlex, shutil, subprocess, sys, time

root, work, args = sys.argv[1], sys.argv[2], sys.argv[3:]
build_args = {}
while args:
    if args[0] == "--build-arg" and len(args) > 1 and "=" in args[1]:
        k, v = args[1].split("=", 1)
        build_args[k] = v
        args = args[2:]
    else:
        sys.exit("usage: check-dockerfile.sh [--build-arg NAME=VALUE]...")

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def instructions(path):
    """(keyword, rest) pairs with continuations joined, comments dropped."""
    out, buf = [], ""
    for line in open(path):
        line = line.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        kw, _, rest = buf.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        buf = ""
    return out


def context_files():
    ignore = [p.strip() for p in open(os.path.join(root, ".dockerignore"))
              if p.strip() and not p.startswith("#")]
    files = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True,
                           capture_output=True).stdout.decode().split("\0")
    keep = []
    for f in filter(None, files):
        parts = f.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pat.rstrip("/").replace("**/", "*"))
               or fnmatch.fnmatch(p, pat.rstrip("/"))
               for pat in ignore for p in prefixes):
            continue
        if os.path.exists(os.path.join(root, f)):
            keep.append(f)
    return keep


def chroot(fs, cmd, env, cwd="/", user=None, **kw):
    argv = ["chroot"] + (["--userspec=" + user] if user else []) + [fs]
    argv += ["/usr/bin/env", "-i", "PATH=" + PATH, "HOME=/root",
             "DEBIAN_FRONTEND=noninteractive"]
    argv += ["%s=%s" % kv for kv in env.items()]
    argv += ["/bin/sh", "-c", "cd %s && %s" % (shlex.quote(cwd), cmd)]
    return subprocess.run(argv, **kw)


stages, names = [], {}
for kw, rest in instructions(os.path.join(root, "Dockerfile")):
    if kw == "FROM":
        words = rest.split()
        if words[0] != "debian:bookworm-slim":
            sys.exit("check-dockerfile: only debian:bookworm-slim is emulated")
        fs = os.path.join(work, "stage%d" % len(stages))
        shutil.rmtree(fs, ignore_errors=True)
        subprocess.run(["cp", "-a", os.path.join(work, "base"), fs], check=True)
        shutil.copy("/etc/resolv.conf", os.path.join(fs, "etc/resolv.conf"))
        st = {"fs": fs, "env": {}, "cwd": "/", "user": None, "health": None}
        if len(words) == 3 and words[1].upper() == "AS":
            names[words[2]] = st
        stages.append(st)
        print("== FROM %s (%s)" % (rest, fs), flush=True)
        continue
    st = stages[-1]
    if kw == "ARG":
        k, _, v = rest.partition("=")
        st["env"][k] = build_args.get(k, v.strip('"'))
    elif kw == "ENV":
        k, _, v = rest.partition("=")
        st["env"][k] = v.strip('"')
    elif kw == "WORKDIR":
        st["cwd"] = rest
        os.makedirs(st["fs"] + rest, exist_ok=True)
    elif kw == "COPY":
        words = rest.split()
        if words[0].startswith("--from="):
            src = names[words[0][7:]]["fs"] + words[1]
            dst = st["fs"] + words[2]
            subprocess.run(["cp", "-a", src.rstrip("/") + "/.", dst], check=True)
        elif words == [".", "."]:
            dst = st["fs"] + st["cwd"]
            for f in context_files():
                os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
                shutil.copy2(os.path.join(root, f), os.path.join(dst, f))
        else:
            sys.exit("check-dockerfile: COPY %s is not emulated" % rest)
    elif kw == "RUN":
        print("== RUN %s" % rest[:100], flush=True)
        log = os.path.join(work, "run.log")
        with open(log, "w") as lf:
            r = chroot(st["fs"], rest, st["env"], st["cwd"], stdout=lf,
                       stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stderr.write(open(log).read()[-4000:])
            sys.exit("check-dockerfile: RUN failed (%d)" % r.returncode)
    elif kw == "USER":
        st["user"] = rest
    elif kw == "HEALTHCHECK":
        st["health"] = rest.split(" CMD ", 1)[1]
    elif kw in ("LABEL", "EXPOSE", "STOPSIGNAL", "CMD"):
        pass
    else:
        sys.exit("check-dockerfile: %s is not emulated" % kw)

final = stages[-1]
fs, user = final["fs"], final["user"]
problems = []
if user in (None, "root", "0", "0:0"):
    problems.append("the final stage runs as root")
bins = sorted(b for b in os.listdir(fs + "/usr/local/bin") if b.startswith("envgate-"))
if not bins:
    problems.append("no envgate-* binary in /usr/local/bin")
for b in bins:
    r = chroot(fs, "%s --version" % b, {}, user=user, capture_output=True, text=True)
    ok = r.returncode == 0 and r.stdout.startswith(b + " ")
    print("%-20s --version: %s" % (b, r.stdout.strip() if ok else "FAILED"))
    if not ok:
        problems.append("%s --version: exit %d %s" % (b, r.returncode, r.stderr.strip()))
    r = chroot(fs, "ldd /usr/local/bin/%s" % b, {}, capture_output=True, text=True)
    if "not found" in r.stdout:
        problems.append("%s: missing libraries:\n%s" % (b, r.stdout))
for tool in ("curl", "run-every"):
    if chroot(fs, "command -v %s" % tool, {}, capture_output=True).returncode != 0:
        problems.append("%s is missing" % tool)

if "envgate-ingress" in bins and final["health"]:
    secret = os.path.join(fs, "run/secrets/webhook_secret")
    os.makedirs(os.path.dirname(secret), exist_ok=True)
    with open(secret, "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    os.chown(secret, 0, int(user.split(":")[1]) if ":" in user else 0)
    os.chmod(secret, 0o640)
    port = "18089"
    env = {"ENVGATE_LISTEN": "127.0.0.1:" + port, "ENVGATE_HEALTH_PORT": port,
           "ENVGATE_WEBHOOK_SECRET_FILE": "/run/secrets/webhook_secret",
           "ENVGATE_KAFKA_BROKERS": "127.0.0.1:1"}
    argv = ["chroot", "--userspec=" + user, fs, "/usr/bin/env", "-i",
            "PATH=" + PATH] + ["%s=%s" % kv for kv in env.items()] + ["envgate-ingress"]
    ing = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    healthy = False
    for _ in range(50):
        if chroot(fs, final["health"], env, user=user,
                  capture_output=True).returncode == 0:
            healthy = True
            break
        time.sleep(0.1)
    ing.terminate()
    rc = ing.wait(timeout=30)
    print("HEALTHCHECK against envgate-ingress: %s; exit on SIGTERM: %d"
          % ("ok" if healthy else "FAILED", rc))
    if not healthy:
        problems.append("HEALTHCHECK failed against a running envgate-ingress")
    if rc != 0:
        problems.append("envgate-ingress exited %d on SIGTERM" % rc)

for p in problems:
    print("check-dockerfile: " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print("check-dockerfile: ok")
EOF
