/* envgate-redeliver: GitHub's documented recovery for missed webhooks
 * (GITHUB-FACTS.md section 3.3). With the App's JWT it pages
 * GET /app/hook/deliveries back to the newest delivery the last run saw
 * (kept in Redis), and asks GitHub to redeliver every
 * deployment_protection_rule delivery that never succeeded. Meant for cron:
 * exit 0 when nothing failed. The plan itself is eg/redeliver.h's. */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eg/cli.h"
#include "eg/config.h"
#include "eg/error.h"
#include "eg/gh_client.h"
#include "eg/jwt.h"
#include "eg/parse.h"
#include "eg/process.h"
#include "eg/redeliver.h"
#include "eg/redis.h"
#include "eg/retry_policy.h"
#include "eg/text.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#define PROG "envgate-redeliver"
/* Where the newest delivered_at seen is kept between runs. */
#define STATE_KEY "envgate:redeliver:v1:last_delivered_at"
/* How far back a first run looks. GitHub keeps deliveries for 3 days. */
#define FIRST_LOOKBACK_MS (24 * 3600 * 1000LL)
#define ATTEMPTS          3
#define MAX_RETRY_WAIT_MS 5000

static const char usage_text[] =
    "usage: " PROG " [options]\n"
    "Asks GitHub to redeliver the App's deployment_protection_rule webhook\n"
    "deliveries that never succeeded (GitHub does not retry them itself). "
    "It\n"
    "pages GET /app/hook/deliveries back to the newest delivery the last run\n"
    "saw (kept in Redis; a first run looks back 24h), groups the deliveries "
    "by\n"
    "guid and, for each guid without a successful attempt, calls\n"
    "POST /app/hook/deliveries/{id}/attempts once. Suitable for cron.\n"
    "\n"
    "  --dry-run            only print what would be redelivered; Redis is "
    "read\n"
    "                       but not written\n"
    "  --since TIME         look back to TIME instead of the last run: RFC "
    "3339,\n"
    "                       YYYY-MM-DD (UTC), or a duration ago (24h, 3d)\n"
    "  --max-pages N        read at most N pages of 100 deliveries (default "
    "100)\n"
    "  --timeout DURATION   each GitHub call's time limit (default 30s)\n"
    "  -v, --verbose        details on stderr\n"
    "  --help, --version\n"
    "\n"
    "Environment: ENVGATE_APP_ID, ENVGATE_APP_PRIVATE_KEY_FILE (required),\n"
    "ENVGATE_GITHUB_API_URL, ENVGATE_REDIS_URL[_FILE], ENVGATE_LOG_LEVEL.\n"
    "\n"
    "Exit status: 0 nothing failed, 1 GitHub or Redis failed or a "
    "redelivery\n"
    "was refused, 2 bad usage or configuration.\n";

struct options {
  bool dry_run;
  int64_t since_ms; /* 0: from the last run */
  uint64_t max_pages;
  int64_t timeout_ms;
  int verbosity;
};

struct ctx {
  const eg_config_t *cfg;
  const struct options *opt;
  eg_jwt_signer_t *signer;
  eg_gh_client_t *gh;
  eg_redis_t *redis;
};

enum outcome { WOULD, DONE, FAILED, SKIPPED };

static const char *const outcome_names[] = {"would redeliver", "redelivered",
                                            "failed", "not sent"};

/* @returns -1 to run, else the exit code. */
static int parse_args(int argc, char **argv, struct options *opt) {
  static const struct option longopts[] = {
      {"dry-run", no_argument, NULL, 'n'},
      {"since", required_argument, NULL, 's'},
      {"max-pages", required_argument, NULL, 'p'},
      {"timeout", required_argument, NULL, 't'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int o;

  opterr = 0;
  while ((o = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
    switch (o) {
    case 'n':
      opt->dry_run = true;
      break;
    case 's':
      if (eg_timearg_parse_time(optarg, eg_time_epoch_ms(), &opt->since_ms) !=
              EG_OK ||
          opt->since_ms == 0)
        return eg_cli_usage_error("--since %s: expected an RFC 3339 time, "
                                  "YYYY-MM-DD or a duration such as 24h",
                                  optarg);
      break;
    case 'p':
      if (eg_parse_u64(optarg, 1, 100000, &opt->max_pages) != EG_OK)
        return eg_cli_usage_error("--max-pages %s: must be between 1 and "
                                  "100000",
                                  optarg);
      break;
    case 't':
      if (eg_cli_timeout_option(optarg, 600000, "10m", &opt->timeout_ms) !=
          EG_OK)
        return EG_EXIT_USAGE;
      break;
    default: {
      int rc = eg_cli_common_option(o, argv, PROG, usage_text, &opt->verbosity);
      if (rc >= 0)
        return rc;
      break;
    }
    }
  }
  if (optind < argc)
    return eg_cli_usage_error("unexpected argument '%s'", argv[optind]);
  return -1;
}

/* Waits ms, waking every 100 ms for a stop request. @returns false when
 * stopped. */
static bool wait_ms(uint64_t ms) {
  while (ms > 0 && !eg_process_stop_requested()) {
    uint64_t step = ms < 100 ? ms : 100;
    struct timespec ts = {0, (long)step * 1000000L};

    nanosleep(&ts, NULL);
    ms -= step;
  }
  return !eg_process_stop_requested();
}

/* One GitHub call with a fresh App JWT, retried (ATTEMPTS in all) while the
 * answer is transient. On EG_OK resp holds a 2xx answer; otherwise why
 * (one line) is in errbuf and resp holds the last answer, if any. */
static int call_github(struct ctx *c,
                       eg_gh_method_t method,
                       const char *path,
                       eg_gh_response_t *resp,
                       char *errbuf,
                       size_t errbuf_len) {
  for (unsigned attempt = 1;; attempt++) {
    char jwt[EG_JWT_SIZE];
    eg_gh_call_t call = {.method = method,
                         .path = path,
                         .token = jwt,
                         .timeout_ms = (unsigned)c->opt->timeout_ms};
    eg_retry_t rt;
    uint64_t rnd = 0;
    int rc;

    rc = eg_jwt_mint(c->signer, c->cfg->app_id, (int64_t)time(NULL), jwt,
                     sizeof(jwt), errbuf, errbuf_len);
    if (rc != EG_OK)
      return rc;
    eg_gh_request(c->gh, &call, resp, NULL, 0);
    OPENSSL_cleanse(jwt, sizeof(jwt));
    RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
    eg_retry_classify(resp, attempt, (int64_t)time(NULL), rnd, &rt);
    if (rt.cls == EG_RETRY_OK)
      return EG_OK;
    if (resp->err == EG_OK)
      snprintf(errbuf, errbuf_len, "%s %s: HTTP %d (%s)",
               method == EG_GH_GET ? "GET" : "POST", path, resp->status,
               rt.reason);
    else
      snprintf(errbuf, errbuf_len, "%s %s: %.200s",
               method == EG_GH_GET ? "GET" : "POST", path, resp->errmsg);
    if (rt.cls == EG_RETRY_PERMANENT || attempt == ATTEMPTS)
      return resp->err == EG_OK ? EG_EPERM : EG_EUNAVAIL;
    eg_cli_info("%s; trying again", errbuf);
    if (!wait_ms(rt.delay_ms < MAX_RETRY_WAIT_MS ? rt.delay_ms
                                                 : MAX_RETRY_WAIT_MS)) {
      snprintf(errbuf, errbuf_len, "stopped by a signal");
      return EG_EAGAIN;
    }
    eg_gh_response_cleanup(resp);
  }
}

/* The start time: --since, else the last run's newest delivery, else a day
 * ago. @returns EG_OK or an error already reported. */
static int start_time(struct ctx *c, int64_t *since) {
  const char *argv[] = {"GET", STATE_KEY};
  size_t argvlen[] = {3, sizeof(STATE_KEY) - 1};
  char errbuf[EG_ERRBUF_LEN] = "", when[EG_RFC3339_SIZE];
  redisReply *reply = NULL;
  int rc;

  if (c->opt->since_ms > 0) {
    *since = c->opt->since_ms;
    return EG_OK;
  }
  rc = eg_redis_command(c->redis, 2, argv, argvlen, &reply, errbuf,
                        sizeof(errbuf));
  if (rc != EG_OK) {
    eg_cli_error("cannot read the last run from Redis: %s",
                 errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    return rc;
  }
  if (reply->type == REDIS_REPLY_STRING &&
      eg_time_parse_rfc3339(reply->str, since) == EG_OK) {
    eg_cli_info("last run saw deliveries up to %s", reply->str);
  } else {
    if (reply->type != REDIS_REPLY_NIL)
      eg_cli_warn("%s in Redis is not a time; looking back 24h", STATE_KEY);
    *since = eg_time_epoch_ms() - FIRST_LOOKBACK_MS;
    eg_time_rfc3339(*since, when, sizeof(when));
    eg_cli_info("no previous run recorded: looking back to %s", when);
  }
  freeReplyObject(reply);
  return EG_OK;
}

/* Pages the deliveries into plan. @returns EG_OK or an error reported. */
static int list_deliveries(struct ctx *c, eg_redeliver_t *plan) {
  char path[EG_GH_PATH_MAX] = "/app/hook/deliveries?per_page=100";
  uint64_t pages = 0;

  for (;;) {
    char errbuf[EG_ERRBUF_LEN] = "";
    eg_gh_response_t resp;
    bool more = false;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = call_github(c, EG_GH_GET, path, &resp, errbuf, sizeof(errbuf));
    if (rc == EG_OK)
      rc = eg_redeliver_add_page(plan, resp.body, resp.body_len, &more, errbuf,
                                 sizeof(errbuf));
    if (rc != EG_OK) {
      if (resp.status == 401)
        eg_cli_error("%s: GitHub refused the App's JWT; check ENVGATE_APP_ID "
                     "and ENVGATE_APP_PRIVATE_KEY_FILE",
                     errbuf);
      else
        eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
      eg_gh_response_cleanup(&resp);
      return rc;
    }
    pages++;
    eg_cli_info("page %" PRIu64 ": %zu deliveries in the window so far", pages,
                eg_redeliver_seen(plan));
    if (!more || !resp.hdr.has_next) {
      eg_gh_response_cleanup(&resp);
      return EG_OK;
    }
    if (pages == c->opt->max_pages) {
      eg_cli_warn("stopped after %" PRIu64 " pages (--max-pages): older "
                  "deliveries were not looked at",
                  pages);
      eg_gh_response_cleanup(&resp);
      return EG_OK;
    }
    snprintf(path, sizeof(path), "%s", resp.hdr.next);
    eg_gh_response_cleanup(&resp);
    if (eg_process_stop_requested()) {
      eg_cli_error("stopped by a signal");
      return EG_EAGAIN;
    }
  }
}

/* Asks for each planned redelivery (unless --dry-run); outcomes[i] and
 * details[i] say what happened to item i. @returns how many failed. */
static size_t redeliver(struct ctx *c,
                        const eg_redeliver_t *plan,
                        enum outcome *outcomes,
                        char (*details)[EG_ERRBUF_LEN]) {
  size_t failed = 0;

  for (size_t i = 0; i < eg_redeliver_count(plan); i++) {
    const eg_redeliver_item_t *x = eg_redeliver_item(plan, i);
    char path[96];
    eg_gh_response_t resp;
    int rc;

    details[i][0] = '\0';
    if (c->opt->dry_run) {
      outcomes[i] = WOULD;
      continue;
    }
    if (eg_process_stop_requested()) {
      outcomes[i] = SKIPPED;
      snprintf(details[i], EG_ERRBUF_LEN, "stopped by a signal");
      failed++;
      continue;
    }
    snprintf(path, sizeof(path), "/app/hook/deliveries/%" PRIu64 "/attempts",
             x->id);
    memset(&resp, 0, sizeof(resp));
    rc = call_github(c, EG_GH_POST, path, &resp, details[i], EG_ERRBUF_LEN);
    eg_gh_response_cleanup(&resp);
    if (rc == EG_OK) {
      outcomes[i] = DONE;
    } else {
      outcomes[i] = FAILED;
      failed++;
    }
  }
  return failed;
}

static void print_table(const eg_redeliver_t *plan,
                        const enum outcome *outcomes,
                        char (*details)[EG_ERRBUF_LEN]) {
  static const char *const heads[] = {"ACTION", "GUID",     "DELIVERY",
                                      "STATUS", "ATTEMPTS", "LAST ATTEMPT",
                                      "DETAIL"};
  size_t n = eg_redeliver_count(plan), w[7];

  if (n == 0)
    return;
  for (int k = 0; k < 7; k++)
    w[k] = strlen(heads[k]);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      for (int k = 0; k < 7; k++)
        eg_text_cell(stdout, heads[k], k < 6 ? w[k] + 2 : 0);
      fputc('\n', stdout);
    }
    for (size_t i = 0; i < n; i++) {
      const eg_redeliver_item_t *x = eg_redeliver_item(plan, i);
      char id[24], status[24], attempts[24];
      const char *cells[7];

      snprintf(id, sizeof(id), "%" PRIu64, x->id);
      snprintf(status, sizeof(status), "%d", x->status_code);
      snprintf(attempts, sizeof(attempts), "%zu", x->attempts);
      cells[0] = outcome_names[outcomes[i]];
      cells[1] = x->guid;
      cells[2] = id;
      cells[3] = status;
      cells[4] = attempts;
      cells[5] = x->delivered_at;
      cells[6] = details[i][0] != '\0' ? details[i] : x->status;
      for (int k = 0; k < 7; k++) {
        const char *s = cells[k][0] != '\0' ? cells[k] : "-";

        if (pass == 0 && eg_text_width(s) > w[k])
          w[k] = eg_text_width(s);
        if (pass == 1)
          eg_text_cell(stdout, s, k < 6 ? w[k] + 2 : 0);
      }
      if (pass == 1)
        fputc('\n', stdout);
    }
  }
}

/* Records the newest delivery seen, for the next run. */
static int save_state(struct ctx *c, int64_t newest_ms) {
  char when[EG_RFC3339_SIZE], errbuf[EG_ERRBUF_LEN] = "";
  const char *argv[3] = {"SET", STATE_KEY, when};
  size_t argvlen[3] = {3, sizeof(STATE_KEY) - 1, 0};
  redisReply *reply = NULL;
  int rc;

  if (eg_time_rfc3339(newest_ms, when, sizeof(when)) != EG_OK)
    return EG_EINVAL;
  argvlen[2] = strlen(when);
  rc = eg_redis_command(c->redis, 3, argv, argvlen, &reply, errbuf,
                        sizeof(errbuf));
  if (rc != EG_OK) {
    eg_cli_error("cannot record this run in Redis: %s",
                 errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    return rc;
  }
  freeReplyObject(reply);
  eg_cli_info("recorded deliveries up to %s", when);
  return EG_OK;
}

static int run(struct ctx *c) {
  eg_redeliver_t *plan = NULL;
  enum outcome *outcomes = NULL;
  char(*details)[EG_ERRBUF_LEN] = NULL;
  char since_text[EG_RFC3339_SIZE];
  int64_t since = 0;
  size_t n, failed;
  int exit_code = EG_EXIT_FAILURE;

  if (start_time(c, &since) != EG_OK)
    return EG_EXIT_FAILURE;
  eg_time_rfc3339(since, since_text, sizeof(since_text));
  if (eg_redeliver_new(since, &plan) != EG_OK) {
    eg_cli_error("out of memory");
    return EG_EXIT_FAILURE;
  }
  if (list_deliveries(c, plan) != EG_OK)
    goto done;
  if (eg_redeliver_plan(plan) != EG_OK) {
    eg_cli_error("out of memory");
    goto done;
  }
  n = eg_redeliver_count(plan);
  outcomes = calloc(n > 0 ? n : 1, sizeof(*outcomes));
  details = calloc(n > 0 ? n : 1, sizeof(*details));
  if (outcomes == NULL || details == NULL) {
    eg_cli_error("out of memory");
    goto done;
  }
  failed = redeliver(c, plan, outcomes, details);
  print_table(plan, outcomes, details);
  if (n == 0)
    printf("nothing to redeliver: %zu deliveries since %s, none of them a "
           "failed " EG_REDELIVER_EVENT "\n",
           eg_redeliver_seen(plan), since_text);
  else if (c->opt->dry_run)
    printf("dry run: %zu failed " EG_REDELIVER_EVENT " deliveries since %s "
           "would be redelivered\n",
           n, since_text);
  else
    printf("redelivered %zu of %zu failed " EG_REDELIVER_EVENT " deliveries "
           "since %s\n",
           n - failed, n, since_text);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    eg_cli_error("cannot write the report");
    goto done;
  }
  if (failed > 0) {
    /* The state stays: the next run looks at the same window again. */
    eg_cli_error("%zu redeliveries failed (see the report)", failed);
    goto done;
  }
  if (!c->opt->dry_run && eg_redeliver_newest_ms(plan) >= 0 &&
      save_state(c, eg_redeliver_newest_ms(plan)) != EG_OK)
    goto done;
  exit_code = EG_EXIT_OK;

done:
  free(outcomes);
  free(details);
  eg_redeliver_free(plan);
  return exit_code;
}

int main(int argc, char **argv) {
  struct options opt = {.max_pages = 100, .timeout_ms = 30000};
  char errbuf[EG_ERRBUF_LEN] = "";
  struct ctx c = {.opt = &opt};
  eg_config_t cfg;
  int rc;

  eg_cli_init(PROG, 0, 2, isatty(2) == 1);
  rc = parse_args(argc, argv, &opt);
  if (rc >= 0)
    return rc;
  if (eg_cli_start(PROG, opt.verbosity, EG_ROLE_REDELIVER, &cfg) != EG_OK)
    return EG_EXIT_USAGE;
  c.cfg = &cfg;
  rc = eg_jwt_signer_new_file(cfg.app_private_key_file, &c.signer, errbuf,
                              sizeof(errbuf));
  if (rc != EG_OK) {
    eg_cli_error("ENVGATE_APP_PRIVATE_KEY_FILE: %s",
                 errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    eg_config_cleanup(&cfg);
    return EG_EXIT_USAGE;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    eg_cli_error("cannot initialise libcurl");
    rc = EG_EXIT_USAGE;
    goto out;
  }
  {
    eg_gh_client_options_t gopts = {.base_url = cfg.github_api_url,
                                    .pool_size = 1};

    rc = eg_gh_client_new(&gopts, &c.gh, errbuf, sizeof(errbuf));
  }
  if (rc == EG_OK)
    rc = eg_redis_new(cfg.redis_url, NULL, &c.redis, errbuf, sizeof(errbuf));
  if (rc != EG_OK) {
    eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    rc = EG_EXIT_USAGE;
  } else {
    rc = run(&c);
  }
  eg_redis_free(c.redis);
  eg_gh_client_free(c.gh);
  curl_global_cleanup();
out:
  eg_jwt_signer_free(c.signer);
  eg_config_cleanup(&cfg);
  return rc;
}
