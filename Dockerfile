# envgate: one image for every role. The container command picks the role:
#   envgate-ingress (default), envgate-worker, envgate-audit, envgate-redrive,
#   envgate-redeliver (see docker-compose.yml).
# Configuration comes from the environment at run time (README.md,
# "Configuration"); secrets are mounted as files (ENVGATE_*_FILE), never
# baked into the image.
#
#   docker build -t envgate .
# Without a Docker engine, tools/check-dockerfile.sh builds and checks it in
# debootstrap chroots.

# ---- build stage: compilers and -dev packages, never shipped ----
FROM debian:bookworm-slim AS build

# The build dependencies of tools/setup-deps.sh without the test-only tools.
# libcmocka-dev stays: CMakeLists.txt requires it at configure time, although
# no test is built here.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      librdkafka-dev libcurl4-openssl-dev libssl-dev libjansson-dev \
      libhiredis-dev libmicrohttpd-dev libsimdjson-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*

# The binaries the image ships; override with --build-arg to build fewer.
ARG ENVGATE_BINARIES="envgate-ingress envgate-worker envgate-audit envgate-redrive envgate-redeliver"

WORKDIR /src
COPY . .
# Release build of the listed targets only (no tests). CI builds the same
# sources with -Werror; here a new compiler warning must not break an image.
# ENVGATE_BINARIES is split into words on purpose.
# hadolint ignore=SC2086
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DEG_WERROR=OFF \
 && cmake --build /build -j"$(nproc)" --target ${ENVGATE_BINARIES} \
 && mkdir -p /out \
 && for b in ${ENVGATE_BINARIES}; do install -m 0755 "/build/bin/$b" /out/; done \
 && install -m 0755 tools/docker/run-every /out/run-every

# ---- runtime stage: shared libraries only ----
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="envgate" \
      org.opencontainers.image.description="GitHub App that gates GitHub Actions deployments (custom deployment protection rule)"

# Runtime libraries of the -dev packages above, CA certificates for
# api.github.com, and curl for container health checks.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 libcurl4 libssl3 libjansson4 libhiredis0.14 \
      libmicrohttpd12 libsimdjson14 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid, so that secret files on the host can be
# made readable to it (secrets/README.md): root:10001, mode 0640.
RUN groupadd --gid 10001 envgate \
 && useradd --no-log-init --uid 10001 --gid 10001 \
      --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin envgate

COPY --from=build /out/ /usr/local/bin/

USER 10001:10001
WORKDIR /

# 8080: ingress (webhooks, /healthz, /readyz, /metrics).
# 9090: worker (/healthz, /readyz, /metrics).
EXPOSE 8080 9090

# Every binary stops gracefully on SIGTERM within ENVGATE_SHUTDOWN_TIMEOUT_MS
# (default 20 s): give containers a longer stop timeout than that.
STOPSIGNAL SIGTERM

# Liveness of the ingress by default. Other roles set their own check
# (docker-compose.yml), or ENVGATE_HEALTH_PORT=9090 for a worker.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -m 2 -o /dev/null "http://127.0.0.1:${ENVGATE_HEALTH_PORT:-8080}/healthz" || exit 1

CMD ["envgate-ingress"]
