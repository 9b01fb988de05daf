/* envgate-redrive: moves dead letters back to envgate.events, with their
 * original body and headers, so that the workers try them again. Dry run
 * unless --apply. A letter already moved (an event on envgate.events names
 * it in envgate-redrive-source) is never moved again, which needs no state
 * besides the topics and survives crashes and restarts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eg/cli.h"
#include "eg/config.h"
#include "eg/envelope.h"
#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/process.h"
#include "eg/redrive.h"
#include "eg/strmap.h"
#include "eg/text.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"
#include "eg/topic_reader.h"

#define PROG        "envgate-redrive"
#define MAX_FILTERS 64

static const char usage_text[] =
    "usage: " PROG " [options]\n"
    "Moves dead letters (envgate.dlq) back to envgate.events with their "
    "original\n"
    "body and headers, so that the workers try them again. Without --apply "
    "it\n"
    "only prints what it would move. A letter is never moved twice.\n"
    "\n"
    "  --apply              move the letters (default: dry run)\n"
    "  --delivery ID        only this delivery (repeatable)\n"
    "  --repo OWNER/NAME    only letters of this repository\n"
    "  --error-class CLASS  only this class: permanent, exhausted, invalid or\n"
    "                       poison (repeatable, or comma-separated)\n"
    "  --since TIME         only letters dead-lettered at or after TIME: RFC "
    "3339,\n"
    "                       YYYY-MM-DD (UTC), or a duration ago (24h, 7d)\n"
    "  --until TIME         only letters dead-lettered before TIME\n"
    "  --timeout DURATION   give up when Kafka makes no progress for this "
    "long\n"
    "                       (default 30s)\n"
    "  -v, --verbose        progress and details on stderr; twice: "
    "librdkafka's\n"
    "                       logs too\n"
    "  --help, --version\n"
    "\n"
    "Each moved event carries envgate-redrive-source (the letter's\n"
    "<topic>/<partition>/<offset>), envgate-redrive-id (one per run) and\n"
    "envgate-redriven-at; the envgate-* headers the pipeline had added are\n"
    "dropped. Do not move 'invalid' letters without knowing where they came\n"
    "from: they did not verify.\n"
    "\n"
    "Environment: ENVGATE_KAFKA_BROKERS, ENVGATE_KAFKA_CONFIG_FILE,\n"
    "ENVGATE_TOPIC_PREFIX, ENVGATE_LOG_LEVEL (debug is like -vv).\n"
    "\n"
    "Exit status: 0 done (or nothing to do), 1 some letters could not be "
    "moved,\n"
    "2 bad usage or configuration, or the topics could not be read.\n";

struct options {
  bool apply;
  const char *deliveries[MAX_FILTERS];
  const char *classes[MAX_FILTERS];
  char class_buf[MAX_FILTERS][16];
  eg_redrive_filter_t filter;
  int64_t timeout_ms;
  int verbosity;
};

enum action { WOULD_MOVE, MOVED, FAILED, ALREADY_MOVED, NOT_SENT };

static const char *const action_names[] = {"would move", "moved", "failed",
                                           "already moved", "not sent"};

/* A matching dead letter, copied out of the consumer's message. */
struct letter {
  char ref[EG_ENVELOPE_REF_LEN];
  int64_t timestamp_ms;
  void *key;
  size_t key_len;
  bool has_key;
  void *value;
  size_t value_len;
  rd_kafka_headers_t *headers; /* NULL: none */
  char delivery[EG_ENVELOPE_ID_LEN];
  char repository[EG_EVENT_FULL_NAME_LEN];
  char error_class[EG_ENVELOPE_WORD_LEN];
  char error[EG_ENVELOPE_TEXT_LEN];
  enum action action;
  char detail[EG_ENVELOPE_REF_LEN + 64]; /* why it failed, who moved it */
};

struct letters {
  struct letter *v;
  size_t n, cap;
};

/* What the dlq pass needs. */
struct dlq_pass {
  const char *topic;
  const struct options *opt;
  eg_envelope_t *env;
  struct letters *letters;
  uint64_t records;
};

/* What the events pass needs: moved sources and who moved them. */
struct events_pass {
  const char *topic;
  eg_strmap_t *moved; /* source -> index in refs */
  char (*refs)[EG_ENVELOPE_REF_LEN];
  size_t nrefs, cap;
  eg_envelope_t *env;
  uint64_t records;
};

static int add_class(struct options *opt, const char *list) {
  const char *p = list;
  size_t len = strlen(list);

  /* Every comma separates two names. */
  if (len == 0 || list[len - 1] == ',')
    return EG_EINVAL;
  while (*p != '\0') {
    size_t n = strcspn(p, ",");
    char *c;

    if (opt->filter.nclasses == MAX_FILTERS)
      return EG_ERANGE;
    c = opt->class_buf[opt->filter.nclasses];
    if (n == 0 || n >= sizeof(opt->class_buf[0]))
      return EG_EINVAL;
    memcpy(c, p, n);
    c[n] = '\0';
    if (strcmp(c, "permanent") != 0 && strcmp(c, "exhausted") != 0 &&
        strcmp(c, "invalid") != 0 && strcmp(c, "poison") != 0)
      return EG_EINVAL;
    opt->classes[opt->filter.nclasses++] = c;
    p += n;
    if (*p == ',')
      p++;
  }
  return opt->filter.nclasses > 0 ? EG_OK : EG_EINVAL;
}

/* @returns -1 to run, else the exit code. */
static int parse_args(int argc, char **argv, struct options *opt) {
  static const struct option longopts[] = {
      {"apply", no_argument, NULL, 'a'},
      {"delivery", required_argument, NULL, 'd'},
      {"repo", required_argument, NULL, 'r'},
      {"error-class", required_argument, NULL, 'c'},
      {"since", required_argument, NULL, 's'},
      {"until", required_argument, NULL, 'u'},
      {"timeout", required_argument, NULL, 't'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int64_t now = eg_time_epoch_ms();
  int o;

  opt->filter.deliveries = opt->deliveries;
  opt->filter.classes = opt->classes;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
    switch (o) {
    case 'a':
      opt->apply = true;
      break;
    case 'd':
      if (optarg[0] == '\0')
        return eg_cli_usage_error("--delivery: must not be empty");
      if (opt->filter.ndeliveries == MAX_FILTERS)
        return eg_cli_usage_error("--delivery: at most %d", MAX_FILTERS);
      opt->deliveries[opt->filter.ndeliveries++] = optarg;
      break;
    case 'r':
      if (strchr(optarg, '/') == NULL || optarg[0] == '/')
        return eg_cli_usage_error("--repo %s: expected OWNER/NAME", optarg);
      opt->filter.repository = optarg;
      break;
    case 'c':
      if (add_class(opt, optarg) != EG_OK)
        return eg_cli_usage_error("--error-class %s: expected permanent, "
                                  "exhausted, invalid or poison",
                                  optarg);
      break;
    case 's':
      if (eg_timearg_parse_time(optarg, now, &opt->filter.since_ms) != EG_OK)
        return eg_cli_usage_error("--since %s: expected an RFC 3339 time, "
                                  "YYYY-MM-DD or a duration such as 24h",
                                  optarg);
      break;
    case 'u':
      if (eg_timearg_parse_time(optarg, now, &opt->filter.until_ms) != EG_OK)
        return eg_cli_usage_error("--until %s: expected an RFC 3339 time, "
                                  "YYYY-MM-DD or a duration such as 24h",
                                  optarg);
      break;
    case 't':
      if (eg_cli_timeout_option(optarg, 3600000, "1h", &opt->timeout_ms) !=
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
  if (opt->filter.since_ms > 0 && opt->filter.until_ms > 0 &&
      opt->filter.until_ms <= opt->filter.since_ms)
    return eg_cli_usage_error("--until must be later than --since");
  return -1;
}

static bool should_stop(void *ud) {
  (void)ud;
  return eg_process_stop_requested();
}

static void
on_progress(const char *topic, uint64_t done, uint64_t total, void *ud) {
  char what[256];

  (void)ud;
  snprintf(what, sizeof(what), "reading %s", topic);
  eg_cli_progress(what, done, total);
}

static void free_letters(struct letters *ls) {
  for (size_t i = 0; i < ls->n; i++) {
    free(ls->v[i].key);
    free(ls->v[i].value);
    if (ls->v[i].headers != NULL)
      rd_kafka_headers_destroy(ls->v[i].headers);
  }
  free(ls->v);
}

static void *copy_bytes(const void *p, size_t n) {
  void *c = malloc(n > 0 ? n : 1);

  if (c != NULL && n > 0)
    memcpy(c, p, n);
  return c;
}

/* Keeps a copy of each dead letter that passes the filters. */
static int on_letter(const rd_kafka_message_t *msg, void *ud) {
  struct dlq_pass *dp = ud;
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_timestamp_type_t tstype;
  int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
  struct letter *l;
  int rc;

  dp->records++;
  rc = eg_envelope_read(dp->env, msg);
  if (rc == EG_ENOMEM)
    return rc;
  if (!eg_redrive_matches(&dp->opt->filter, dp->env, ts))
    return EG_OK;
  if (dp->letters->n == dp->letters->cap) {
    size_t ncap = dp->letters->cap == 0 ? 16 : dp->letters->cap * 2;
    struct letter *v = realloc(dp->letters->v, ncap * sizeof(*v));

    if (v == NULL)
      return EG_ENOMEM;
    dp->letters->v = v;
    dp->letters->cap = ncap;
  }
  l = &dp->letters->v[dp->letters->n];
  memset(l, 0, sizeof(*l));
  rc = eg_envelope_format_source(dp->topic, msg->partition, msg->offset, l->ref,
                                 sizeof(l->ref));
  if (rc != EG_OK)
    return rc;
  l->timestamp_ms = ts;
  l->has_key = msg->key != NULL;
  l->key_len = msg->key_len;
  l->key = copy_bytes(msg->key, msg->key_len);
  l->value_len = msg->len;
  l->value = copy_bytes(msg->payload, msg->len);
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
    l->headers = rd_kafka_headers_copy(hdrs);
  if (l->key == NULL || l->value == NULL) {
    free(l->key);
    free(l->value);
    if (l->headers != NULL)
      rd_kafka_headers_destroy(l->headers);
    return EG_ENOMEM;
  }
  memcpy(l->delivery, dp->env->delivery, sizeof(l->delivery));
  memcpy(l->repository, dp->env->repository, sizeof(l->repository));
  memcpy(l->error_class, dp->env->error_class, sizeof(l->error_class));
  memcpy(l->error, dp->env->error, sizeof(l->error));
  dp->letters->n++;
  return EG_OK;
}

/* Notes every letter an event says it was moved from. */
static int on_event(const rd_kafka_message_t *msg, void *ud) {
  struct events_pass *ep = ud;
  rd_kafka_headers_t *hdrs = NULL;

  ep->records++;
  eg_envelope_init(ep->env);
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return EG_OK;
  eg_envelope_set_headers(ep->env, hdrs);
  if (ep->env->redrive_source[0] == '\0' ||
      eg_strmap_get(ep->moved, ep->env->redrive_source, NULL))
    return EG_OK;
  if (ep->nrefs == ep->cap) {
    size_t ncap = ep->cap == 0 ? 16 : ep->cap * 2;
    char(*v)[EG_ENVELOPE_REF_LEN] = realloc(ep->refs, ncap * sizeof(*v));

    if (v == NULL)
      return EG_ENOMEM;
    ep->refs = v;
    ep->cap = ncap;
  }
  if (eg_envelope_format_source(ep->topic, msg->partition, msg->offset,
                                ep->refs[ep->nrefs],
                                sizeof(ep->refs[0])) != EG_OK)
    return EG_OK;
  if (eg_strmap_put(ep->moved, ep->env->redrive_source, ep->nrefs) != EG_OK)
    return EG_ENOMEM;
  ep->nrefs++;
  return EG_OK;
}

/* Reads one topic; on failure says why and returns EG_EXIT_USAGE. */
static int read_topic(eg_topic_reader_t *tr,
                      const char *topic,
                      int64_t since_ms,
                      const struct options *opt,
                      eg_topic_reader_msg_fn fn,
                      void *ud) {
  eg_topic_reader_opts_t ropts = {.since_ms = since_ms,
                                  .timeout_ms = (int)opt->timeout_ms,
                                  .stop = should_stop,
                                  .progress = on_progress};
  char errbuf[EG_ERRBUF_LEN] = "";
  int rc;

  rc = eg_topic_reader_read(tr, topic, &ropts, fn, ud, errbuf, sizeof(errbuf));
  eg_cli_progress_end();
  if (rc == EG_EAGAIN) {
    eg_cli_error("stopped by a signal before anything was moved");
    return EG_EXIT_USAGE;
  }
  if (rc != EG_OK) {
    eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    return EG_EXIT_USAGE;
  }
  return EG_OK;
}

static int cmp_letter(const void *x, const void *y) {
  const struct letter *a = x, *b = y;

  if (a->timestamp_ms != b->timestamp_ms)
    return a->timestamp_ms < b->timestamp_ms ? -1 : 1;
  return strcmp(a->ref, b->ref);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  struct letter *l = msg->_private;

  (void)rk;
  (void)opaque;
  if (l == NULL)
    return;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    l->action = MOVED;
    l->detail[0] = '\0';
  } else {
    l->action = FAILED;
    snprintf(l->detail, sizeof(l->detail), "%s", rd_kafka_err2str(msg->err));
  }
}

/* Produces every letter still marked WOULD_MOVE to the events topic and
 * waits for each delivery report. */
static int move_letters(const eg_config_t *cfg,
                        const struct options *opt,
                        const char *events_topic,
                        struct letters *ls) {
  char id[EG_REDRIVE_ID_SIZE], at[EG_RFC3339_SIZE];
  char errbuf[EG_ERRBUF_LEN] = "";
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_t *rk = NULL;
  int rc;

  if (eg_redrive_new_id(id) != EG_OK ||
      eg_time_rfc3339(eg_time_epoch_ms(), at, sizeof(at)) != EG_OK) {
    eg_cli_error("cannot make a redrive id");
    return EG_EXIT_USAGE;
  }
  rc = eg_kafka_conf_new(cfg, EG_KAFKA_PRODUCER, NULL, &conf, errbuf,
                         sizeof(errbuf));
  if (rc == EG_OK) {
    eg_cli_kafka_conf(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rc = eg_kafka_new(RD_KAFKA_PRODUCER, conf, &rk, errbuf, sizeof(errbuf));
  }
  if (rc != EG_OK) {
    eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    return EG_EXIT_USAGE;
  }
  eg_cli_info("redrive id %s", id);
  for (size_t i = 0; i < ls->n; i++) {
    struct letter *l = &ls->v[i];
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_resp_err_t err;

    if (l->action != WOULD_MOVE)
      continue;
    if (eg_process_stop_requested()) {
      l->action = NOT_SENT;
      snprintf(l->detail, sizeof(l->detail), "stopped by a signal");
      continue;
    }
    if (eg_redrive_headers(l->headers, l->ref, id, at, &hdrs) != EG_OK) {
      l->action = FAILED;
      snprintf(l->detail, sizeof(l->detail), "out of memory");
      continue;
    }
    for (;;) {
      err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(events_topic),
          RD_KAFKA_V_KEY(l->has_key ? l->key : NULL, l->key_len),
          RD_KAFKA_V_VALUE(l->value, l->value_len),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_OPAQUE(l), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        break;
      rd_kafka_poll(rk, 100);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      /* The headers are still ours when producev fails. */
      rd_kafka_headers_destroy(hdrs);
      l->action = FAILED;
      snprintf(l->detail, sizeof(l->detail), "%s", rd_kafka_err2str(err));
      continue;
    }
    l->action = NOT_SENT; /* until its delivery report says otherwise */
    snprintf(l->detail, sizeof(l->detail), "no delivery report");
    rd_kafka_poll(rk, 0);
  }
  /* Reports arrive through poll; flush polls. A stop request shortens the
   * wait to what is already in flight. */
  {
    long long deadline = (long long)eg_time_mono_ms() + opt->timeout_ms;

    while (rd_kafka_outq_len(rk) > 0 && (long long)eg_time_mono_ms() < deadline)
      rd_kafka_flush(rk, 100);
    if (rd_kafka_outq_len(rk) > 0)
      eg_cli_error("%d events still unacknowledged after %lld ms",
                   rd_kafka_outq_len(rk), (long long)opt->timeout_ms);
  }
  rd_kafka_destroy(rk);
  return EG_OK;
}

/* Prints one row per letter, aligned, then the summary line. */
static void
print_plan(const struct letters *ls, bool apply, const char *events_topic) {
  static const char *const heads[] = {"ACTION",     "LETTER", "DELIVERY",
                                      "REPOSITORY", "CLASS",  "ERROR"};
  size_t w[6], counts[5] = {0};

  for (int c = 0; c < 6; c++)
    w[c] = strlen(heads[c]);
  for (size_t i = 0; i < ls->n; i++) {
    const struct letter *l = &ls->v[i];
    const char *cells[5] = {action_names[l->action], l->ref, l->delivery,
                            l->repository, l->error_class};

    for (int c = 0; c < 5; c++) {
      size_t cw = eg_text_width(cells[c][0] != '\0' ? cells[c] : "-");
      if (cw > w[c])
        w[c] = cw;
    }
  }
  if (ls->n > 0) {
    for (int c = 0; c < 6; c++)
      eg_text_cell(stdout, heads[c], c < 5 ? w[c] + 2 : 0);
    fputc('\n', stdout);
  }
  for (size_t i = 0; i < ls->n; i++) {
    const struct letter *l = &ls->v[i];
    const char *cells[6] = {action_names[l->action],
                            l->ref,
                            l->delivery,
                            l->repository,
                            l->error_class,
                            l->detail[0] != '\0' ? l->detail : l->error};

    counts[l->action]++;
    for (int c = 0; c < 6; c++)
      eg_text_cell(stdout, cells[c][0] != '\0' ? cells[c] : "-",
                   c < 5 ? w[c] + 2 : 0);
    fputc('\n', stdout);
  }
  if (ls->n == 0)
    printf("no dead letters match\n");
  else if (!apply)
    printf("dry run: %zu of %zu matching dead letters would be moved to %s "
           "(%zu already moved); use --apply to move them\n",
           counts[WOULD_MOVE], ls->n, events_topic, counts[ALREADY_MOVED]);
  else
    printf("moved %zu of %zu matching dead letters to %s (%zu already moved, "
           "%zu failed)\n",
           counts[MOVED], ls->n, events_topic, counts[ALREADY_MOVED],
           counts[FAILED] + counts[NOT_SENT]);
}

static int run(const eg_config_t *cfg, const struct options *opt) {
  char dlq_topic[256], events_topic[256], errbuf[EG_ERRBUF_LEN] = "";
  struct letters ls = {0};
  struct events_pass ep = {0};
  eg_topic_reader_t *tr = NULL;
  rd_kafka_conf_t *conf = NULL;
  eg_envelope_t *env = NULL;
  int64_t since = 0;
  int rc, exit_code = EG_EXIT_USAGE;

  if (eg_config_topic(cfg, "dlq", dlq_topic, sizeof(dlq_topic)) != EG_OK ||
      eg_config_topic(cfg, "events", events_topic, sizeof(events_topic)) !=
          EG_OK) {
    eg_cli_error("ENVGATE_TOPIC_PREFIX: too long");
    return EG_EXIT_USAGE;
  }
  env = malloc(sizeof(*env));
  if (env == NULL || eg_strmap_new(&ep.moved) != EG_OK) {
    eg_cli_error("out of memory");
    goto done;
  }
  rc = eg_kafka_conf_new(cfg, EG_KAFKA_READER, NULL, &conf, errbuf,
                         sizeof(errbuf));
  if (rc == EG_OK) {
    eg_cli_kafka_conf(conf);
    rc = eg_topic_reader_new(conf, &tr, errbuf, sizeof(errbuf));
  }
  if (rc != EG_OK) {
    eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    goto done;
  }

  /* The letters first, then the events written since the oldest of them:
   * an event moved from a letter is always newer than the letter. */
  {
    struct dlq_pass dp = {
        .topic = dlq_topic, .opt = opt, .env = env, .letters = &ls};

    if (read_topic(tr, dlq_topic, opt->filter.since_ms, opt, on_letter, &dp) !=
        EG_OK)
      goto done;
    eg_cli_info("%zu of %llu dead letters match", ls.n,
                (unsigned long long)dp.records);
  }
  if (ls.n > 0) {
    since = ls.v[0].timestamp_ms;
    for (size_t i = 0; i < ls.n; i++)
      if (ls.v[i].timestamp_ms < since)
        since = ls.v[i].timestamp_ms;
    ep.topic = events_topic;
    ep.env = env;
    if (read_topic(tr, events_topic, since > 0 ? since : 0, opt, on_event,
                   &ep) != EG_OK)
      goto done;
    eg_cli_info("%zu letters were moved before", eg_strmap_count(ep.moved));
  }
  if (ls.n > 1)
    qsort(ls.v, ls.n, sizeof(*ls.v), cmp_letter);
  for (size_t i = 0; i < ls.n; i++) {
    size_t by;

    if (eg_strmap_get(ep.moved, ls.v[i].ref, &by)) {
      ls.v[i].action = ALREADY_MOVED;
      snprintf(ls.v[i].detail, sizeof(ls.v[i].detail), "already moved: %s",
               ep.refs[by]);
    } else {
      ls.v[i].action = WOULD_MOVE;
    }
  }
  exit_code = EG_EXIT_OK;
  if (opt->apply) {
    exit_code = move_letters(cfg, opt, events_topic, &ls);
    for (size_t i = 0; i < ls.n; i++)
      if (ls.v[i].action == FAILED || ls.v[i].action == NOT_SENT)
        exit_code = EG_EXIT_FAILURE;
  }
  print_plan(&ls, opt->apply, events_topic);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    eg_cli_error("cannot write the report");
    exit_code = EG_EXIT_USAGE;
  }
  if (exit_code == EG_EXIT_FAILURE)
    eg_cli_error("some dead letters were not moved (see the report)");

done:
  eg_topic_reader_free(tr);
  free_letters(&ls);
  eg_strmap_free(ep.moved);
  free(ep.refs);
  free(env);
  return exit_code;
}

int main(int argc, char **argv) {
  struct options opt = {.timeout_ms = 30000};
  eg_config_t cfg;
  int rc;

  eg_cli_init(PROG, 0, 2, isatty(2) == 1);
  rc = parse_args(argc, argv, &opt);
  if (rc >= 0)
    return rc;
  if (eg_cli_start(PROG, opt.verbosity, EG_ROLE_REDRIVE, &cfg) != EG_OK)
    return EG_EXIT_USAGE;
  rc = run(&cfg, &opt);
  eg_config_cleanup(&cfg);
  return rc;
}
