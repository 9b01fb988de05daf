/* envgate-ghsim: a GitHub REST API simulator for development and tests,
 * driven by a scenario file, with fault injection and an inspection API. */
#include "ghsim.h"

#include "eg/error.h"
#include "eg/http_server.h"
#include "eg/log.h"
#include "eg/parse.h"
#include "eg/process.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "envgate-ghsim"

static const char usage[] =
    "Usage: " PROG " [options]\n"
    "\n"
    "A GitHub REST API simulator for development and tests (never for\n"
    "production): App JWT -> installation tokens, workflow runs, jobs,\n"
    "deployments, deployment protection rule reviews, hook deliveries, with\n"
    "per-endpoint latency and fault injection and an inspection API under\n"
    "/_sim/. See tools/ghsim/README.md.\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT      address to serve on (default 127.0.0.1:0;\n"
    "                          port 0 picks a free port)\n"
    "  --addr-file PATH        write the base URL (http://127.0.0.1:PORT)\n"
    "                          to PATH once ready (temp file + rename)\n"
    "  --scenario FILE         scenario JSON (default: an empty scenario)\n"
    "  --app-public-key PEM    the App's public key file (overrides the\n"
    "                          scenario's app.public_key_file)\n"
    "  --app-id N              the App ID (overrides the scenario's)\n"
    "  --client-id ID          the App's client ID (overrides the scenario's)\n"
    "  --token-ttl SECONDS     installation token lifetime (default 3600)\n"
    "  --seed N                seed for faults and generated data (default 1)\n"
    "  --threads N             HTTP server threads (default 2)\n"
    "  --log-level LEVEL       debug, info, warn or error (default info)\n"
    "  --help                  show this help\n"
    "  --version               show the version\n"
    "\n"
    "The base URL is also printed on stdout. Exit status: 0 after a clean\n"
    "stop (SIGTERM/SIGINT), 1 on failure, 2 on bad usage or scenario.\n";

struct opts {
  const char *listen;
  const char *addr_file;
  struct gs_scenario_opts sc;
  uint64_t threads;
  eg_log_level_t level;
};

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, PROG ": error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see --help)\n");
  return EG_EXIT_USAGE;
}

/* @returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct opts *o) {
  o->listen = "127.0.0.1:0";
  o->sc.token_ttl_s = -1;
  o->sc.seed = 1;
  o->threads = 2;
  o->level = EG_LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return EG_EXIT_OK;
    }
    if (strcmp(a, "--version") == 0) {
      printf("%s %s\n", PROG, EG_VERSION);
      return EG_EXIT_OK;
    }
    if (strncmp(a, "--", 2) != 0)
      return usage_error("unexpected argument '%s'", a);
    if (v == NULL)
      return usage_error("%s needs a value", a);
    i++;
    if (strcmp(a, "--listen") == 0) {
      o->listen = v;
    } else if (strcmp(a, "--addr-file") == 0) {
      o->addr_file = v;
    } else if (strcmp(a, "--scenario") == 0) {
      o->sc.path = v;
    } else if (strcmp(a, "--app-public-key") == 0) {
      o->sc.public_key_path = v;
    } else if (strcmp(a, "--client-id") == 0) {
      o->sc.client_id = v;
    } else if (strcmp(a, "--app-id") == 0) {
      if (eg_parse_u64(v, 1, INT64_MAX, &o->sc.app_id) != EG_OK)
        return usage_error("--app-id %s: must be a positive integer", v);
    } else if (strcmp(a, "--token-ttl") == 0) {
      if (eg_parse_u64(v, 1, 365u * 86400u, &n) != EG_OK)
        return usage_error("--token-ttl %s: must be 1..31536000 seconds", v);
      o->sc.token_ttl_s = (int64_t)n;
    } else if (strcmp(a, "--seed") == 0) {
      if (eg_parse_u64(v, 0, UINT64_MAX, &o->sc.seed) != EG_OK)
        return usage_error("--seed %s: must be an unsigned integer", v);
    } else if (strcmp(a, "--threads") == 0) {
      if (eg_parse_u64(v, 1, 64, &o->threads) != EG_OK)
        return usage_error("--threads %s: must be 1..64", v);
    } else if (strcmp(a, "--log-level") == 0) {
      if (eg_log_parse_level(v, &o->level) != EG_OK)
        return usage_error("--log-level %s: must be debug, info, warn or error",
                           v);
    } else {
      return usage_error("unknown option '%s'", a);
    }
  }
  return -1;
}

/* The URL clients use: a wildcard listen address is reached on loopback. */
static void base_url(const char *listen, uint16_t port, char *out, size_t cap) {
  char host[256];
  uint16_t ignored;
  char tmp[300];
  const char *colon = strrchr(listen, ':');

  snprintf(tmp, sizeof(tmp), "%.*s:1",
           (int)(colon != NULL ? colon - listen : 0), listen);
  if (eg_parse_hostport(tmp, host, sizeof(host), &ignored) != EG_OK ||
      strcmp(host, "0.0.0.0") == 0 || strcmp(host, "localhost") == 0)
    snprintf(host, sizeof(host), "127.0.0.1");
  else if (strcmp(host, "::") == 0)
    snprintf(host, sizeof(host), "::1");
  if (strchr(host, ':') != NULL)
    snprintf(out, cap, "http://[%s]:%u", host, (unsigned)port);
  else
    snprintf(out, cap, "http://%s:%u", host, (unsigned)port);
}

static int write_addr_file(const char *path, const char *url) {
  char tmp[4096];
  FILE *f;
  int ok;

  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
      (int)sizeof(tmp))
    return -1;
  f = fopen(tmp, "w");
  if (f == NULL)
    return -1;
  ok = fprintf(f, "%s\n", url) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct opts o = {0};
  struct gs_scenario *sc = NULL;
  struct gs_sim sim;
  eg_http_server_t *srv = NULL;
  eg_http_options_t hopts = {0};
  char err[EG_ERRBUF_LEN];
  char url[320];
  uint64_t t0;
  int rc;

  rc = parse_args(argc, argv, &o);
  if (rc >= 0)
    return rc;
  eg_log_init("envgate-ghsim", o.level, 2);
  t0 = gs_now_ns();
  if (gs_scenario_load(&o.sc, &sc, err, sizeof(err)) != 0) {
    fprintf(stderr, PROG ": error: %s\n", err);
    return EG_EXIT_USAGE;
  }
  eg_log(EG_LOG_INFO, "scenario loaded",
         EG_LINT("ms", (gs_now_ns() - t0) / 1000000));
  if (sc->app.public_key_pem == NULL)
    eg_log(EG_LOG_WARN,
           "no App public key (--app-public-key or app.public_key_file): "
           "every App JWT will be refused");
  hopts.threads = (unsigned)o.threads;
  hopts.connection_limit = 4096;
  hopts.timeout_s = 120;
  if (eg_http_server_new(o.listen, &hopts, &srv, err, sizeof(err)) != EG_OK) {
    fprintf(stderr, PROG ": error: --listen %s\n", err);
    gs_scenario_free(sc);
    return EG_EXIT_USAGE;
  }
  if (gs_sim_init(&sim, sc, o.sc.seed, err, sizeof(err)) != 0) {
    fprintf(stderr, PROG ": error: %s\n", err);
    eg_http_server_free(srv);
    gs_scenario_free(sc);
    return EG_EXIT_USAGE;
  }
  rc = EG_EXIT_FAILURE;
  if (eg_http_server_route(srv, NULL, "/*", gs_sim_handle, &sim) != EG_OK ||
      eg_process_install_signals() != EG_OK ||
      eg_http_server_start(srv, err, sizeof(err)) != EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot start the HTTP server", EG_LSTR("error", err),
           EG_LSTR("listen", o.listen));
    goto out;
  }
  base_url(o.listen, eg_http_server_port(srv), url, sizeof(url));
  t0 = gs_now_ns();
  if (gs_sim_ready(&sim, url, err, sizeof(err)) != 0) {
    eg_log(EG_LOG_ERROR, "cannot build the responses", EG_LSTR("error", err));
    goto out;
  }
  eg_log(EG_LOG_INFO, "responses built",
         EG_LINT("ms", (gs_now_ns() - t0) / 1000000));
  if (o.addr_file != NULL && write_addr_file(o.addr_file, url) != 0) {
    eg_log(EG_LOG_ERROR, "cannot write the address file",
           EG_LSTR("path", o.addr_file));
    goto out;
  }
  printf("%s\n", url);
  fflush(stdout);
  eg_log(EG_LOG_INFO, "ready", EG_LSTR("url", url), EG_LINT("runs", sc->nruns),
         EG_LINT("jobs", sc->njobs), EG_LINT("deployments", sc->ndeps),
         EG_LINT("repositories", sc->nrepos),
         EG_LINT("installations", sc->ninsts),
         EG_LINT("seed", (long long)o.sc.seed));
  while (!eg_process_stop_requested()) {
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
  }
  eg_log(EG_LOG_INFO, "stopping", EG_LINT("held", gs_timer_pending(sim.timer)));
  /* Answer what the timer holds now, then let in-flight answers drain. */
  atomic_store(&sim.stopping, 1);
  gs_timer_flush(sim.timer);
  if (eg_http_server_quiesce(srv, 2000) != 0)
    eg_log(EG_LOG_WARN, "requests still unanswered at stop");
  rc = EG_EXIT_OK;
out:
  eg_http_server_free(srv);
  gs_sim_cleanup(&sim);
  gs_scenario_free(sc);
  if (o.addr_file != NULL && rc == EG_EXIT_OK)
    unlink(o.addr_file);
  eg_log(EG_LOG_INFO, "stopped", EG_LINT("exit", rc));
  return rc;
}
