/* envgate-audit: replays envgate's topics, re-verifies every event's
 * signature and reports each gate request's fate (contract,
 * "envgate-audit output"). Reading is here; the join is eg/audit.h and the
 * rendering eg/audit_report.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eg/audit.h"
#include "eg/audit_report.h"
#include "eg/cli.h"
#include "eg/config.h"
#include "eg/envelope.h"
#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/process.h"
#include "eg/signature.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"
#include "eg/topic_reader.h"

#define PROG "envgate-audit"

static const char usage_text[] =
    "usage: " PROG " [options]\n"
    "Replays envgate's topics (decisions, dlq, retry, events) from the "
    "beginning,\n"
    "re-verifies the signature of every event and reports the fate of each "
    "gate\n"
    "request: approved, rejected, retrying, dead-lettered or pending.\n"
    "\n"
    "  --since TIME         only records written at or after TIME: RFC 3339,\n"
    "                       YYYY-MM-DD (UTC), or a duration ago (24h, 7d)\n"
    "  --grace DURATION     how long a request may wait for an outcome "
    "before\n"
    "                       it is an anomaly (default 15m)\n"
    "  --format FORMAT      table (default), json or csv\n"
    "  --repo OWNER/NAME    only requests of this repository\n"
    "  --environment NAME   only requests for this environment\n"
    "  --state FATE[,FATE]  only requests with these fates\n"
    "  --delivery ID        only this delivery (X-GitHub-Delivery)\n"
    "  --timeout DURATION   give up when Kafka makes no progress for this "
    "long\n"
    "                       (default 30s)\n"
    "  -v, --verbose        progress and details on stderr; twice: "
    "librdkafka's\n"
    "                       logs too (progress is shown on a terminal "
    "anyway)\n"
    "  --help, --version\n"
    "\n"
    "Anomalies: an event with no outcome after --grace, a decision without a\n"
    "verified event, two reviews posted for one gate, a signature that does "
    "not\n"
    "verify, a record that cannot be read. They are listed in the report.\n"
    "\n"
    "Environment: ENVGATE_WEBHOOK_SECRET or ENVGATE_WEBHOOK_SECRET_FILE "
    "(required;\n"
    "one secret per line), ENVGATE_KAFKA_BROKERS, ENVGATE_KAFKA_CONFIG_FILE,\n"
    "ENVGATE_TOPIC_PREFIX, ENVGATE_LOG_LEVEL (debug is like -vv).\n"
    "\n"
    "Exit status: 0 no anomalies, 1 anomalies, 2 bad usage or configuration, "
    "or\n"
    "the topics could not be read.\n";

struct options {
  int64_t since_ms; /* 0: from the beginning */
  int64_t grace_ms;
  int64_t timeout_ms;
  eg_audit_format_t format;
  eg_audit_filter_t filter;
  int verbosity;
};

/* What reading one topic needs. */
struct reading {
  eg_audit_t *audit;
  const eg_signature_verifier_t *sv;
  eg_envelope_t *env;
  const char *topic;
  bool decisions;
  eg_audit_source_t source;
  uint64_t records;
};

/* Parses "FATE[,FATE...]" into bits (1u << fate); no empty names. */
static int parse_fates(const char *arg, unsigned *fates) {
  const char *p = arg;

  *fates = 0;
  for (;;) {
    size_t n = strcspn(p, ",");
    char name[32];
    eg_audit_fate_t f;

    if (n == 0 || n >= sizeof(name))
      return EG_EINVAL;
    memcpy(name, p, n);
    name[n] = '\0';
    if (eg_audit_fate_parse(name, &f) != EG_OK)
      return EG_EINVAL;
    *fates |= 1u << f;
    if (p[n] == '\0')
      return EG_OK;
    p += n + 1;
  }
}

/* @returns -1 to run, else the exit code. */
static int parse_args(int argc, char **argv, struct options *opt) {
  static const struct option longopts[] = {
      {"since", required_argument, NULL, 's'},
      {"grace", required_argument, NULL, 'g'},
      {"format", required_argument, NULL, 'f'},
      {"repo", required_argument, NULL, 'r'},
      {"environment", required_argument, NULL, 'e'},
      {"state", required_argument, NULL, 'S'},
      {"delivery", required_argument, NULL, 'd'},
      {"timeout", required_argument, NULL, 't'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int o;

  opterr = 0;
  while ((o = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
    switch (o) {
    case 's':
      if (eg_timearg_parse_time(optarg, eg_time_epoch_ms(), &opt->since_ms) !=
          EG_OK)
        return eg_cli_usage_error("--since %s: expected an RFC 3339 time, "
                                  "YYYY-MM-DD or a duration such as 24h",
                                  optarg);
      break;
    case 'g':
      if (eg_timearg_parse_duration(optarg, &opt->grace_ms) != EG_OK)
        return eg_cli_usage_error("--grace %s: expected a duration such as "
                                  "15m",
                                  optarg);
      break;
    case 'f':
      if (eg_audit_format_parse(optarg, &opt->format) != EG_OK)
        return eg_cli_usage_error("--format %s: must be table, json or csv",
                                  optarg);
      break;
    case 'r':
      if (strchr(optarg, '/') == NULL || optarg[0] == '/')
        return eg_cli_usage_error("--repo %s: expected OWNER/NAME", optarg);
      opt->filter.repository = optarg;
      break;
    case 'e':
      if (optarg[0] == '\0')
        return eg_cli_usage_error("--environment: must not be empty");
      opt->filter.environment = optarg;
      break;
    case 'S':
      if (parse_fates(optarg, &opt->filter.fates) != EG_OK)
        return eg_cli_usage_error("--state %s: expected approved, rejected, "
                                  "retrying, dead-lettered or pending "
                                  "(comma-separated)",
                                  optarg);
      break;
    case 'd':
      if (optarg[0] == '\0')
        return eg_cli_usage_error("--delivery: must not be empty");
      opt->filter.delivery = optarg;
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

/* The record's Kafka key as a string (cut at a NUL or at the buffer). */
static const char *
kafka_key(const rd_kafka_message_t *msg, char *buf, size_t len) {
  size_t n;

  if (msg->key == NULL)
    return NULL;
  n = msg->key_len < len - 1 ? msg->key_len : len - 1;
  memcpy(buf, msg->key, n);
  buf[n] = '\0';
  return buf;
}

static int on_message(const rd_kafka_message_t *msg, void *ud) {
  struct reading *rd = ud;
  char ref[EG_ENVELOPE_REF_LEN], keybuf[EG_EVENT_KEY_LEN];
  rd_kafka_timestamp_type_t tstype;
  int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
  const char *key = kafka_key(msg, keybuf, sizeof(keybuf));
  eg_audit_copy_t copy;
  int rc;

  rd->records++;
  rc = eg_envelope_format_source(rd->topic, msg->partition, msg->offset, ref,
                                 sizeof(ref));
  if (rc != EG_OK)
    return rc;
  if (rd->decisions)
    return eg_audit_add_decision(rd->audit, ref, ts, key, msg->payload,
                                 msg->len);

  rc = eg_envelope_read(rd->env, msg);
  if (rc == EG_ENOMEM)
    return rc;
  if (!rd->env->body_ok)
    eg_cli_debug("%s: body not understood: %s", ref, rd->env->body_error);
  copy = (eg_audit_copy_t){.source = rd->source,
                           .ref = ref,
                           .timestamp_ms = ts,
                           .kafka_key = key,
                           .env = rd->env,
                           .signature_ok = false};
  if (rd->env->signature[0] != '\0') {
    rc = eg_signature_verify(rd->sv, rd->env->signature, msg->payload, msg->len,
                             NULL);
    if (rc == EG_ENOMEM || rc == EG_ECRYPTO)
      return rc;
    copy.signature_ok = rc == EG_OK;
  }
  return eg_audit_add_copy(rd->audit, &copy);
}

/* Reads the four topics into audit: decisions first and events last, so
 * that every decision, retry and dead letter read has its event in a later
 * (larger) snapshot even while the pipeline keeps writing. */
static int read_topics(const eg_config_t *cfg,
                       const struct options *opt,
                       eg_topic_reader_t *tr,
                       const eg_signature_verifier_t *sv,
                       eg_audit_t *audit) {
  static const struct {
    const char *name;
    bool decisions;
    eg_audit_source_t source;
  } topics[] = {{"decisions", true, EG_AUDIT_EVENTS},
                {"dlq", false, EG_AUDIT_DLQ},
                {"retry", false, EG_AUDIT_RETRY},
                {"events", false, EG_AUDIT_EVENTS}};
  eg_topic_reader_opts_t ropts = {.since_ms = opt->since_ms,
                                  .timeout_ms = (int)opt->timeout_ms,
                                  .stop = should_stop,
                                  .progress = on_progress};
  eg_envelope_t *env = malloc(sizeof(*env));
  int rc = EG_OK;

  if (env == NULL) {
    eg_cli_error("out of memory");
    return EG_EXIT_USAGE;
  }
  for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
    char topic[256], errbuf[EG_ERRBUF_LEN] = "";
    struct reading rd = {.audit = audit,
                         .sv = sv,
                         .env = env,
                         .topic = topic,
                         .decisions = topics[i].decisions,
                         .source = topics[i].source};

    if (eg_config_topic(cfg, topics[i].name, topic, sizeof(topic)) != EG_OK) {
      eg_cli_error("ENVGATE_TOPIC_PREFIX: too long");
      rc = EG_EXIT_USAGE;
      break;
    }
    rc = eg_topic_reader_read(tr, topic, &ropts, on_message, &rd, errbuf,
                              sizeof(errbuf));
    eg_cli_progress_end();
    if (rc == EG_EAGAIN) {
      eg_cli_error("stopped by a signal before the replay ended");
      rc = EG_EXIT_USAGE;
      break;
    }
    if (rc != EG_OK) {
      eg_cli_error("%s", errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
      rc = EG_EXIT_USAGE;
      break;
    }
    eg_cli_info("read %llu records from %s", (unsigned long long)rd.records,
                topic);
  }
  free(env);
  return rc;
}

static int run(const eg_config_t *cfg, const struct options *opt) {
  eg_signature_verifier_t *sv = NULL;
  eg_topic_reader_t *tr = NULL;
  rd_kafka_conf_t *conf = NULL;
  eg_audit_t *audit = NULL;
  eg_audit_summary_t sum;
  eg_audit_opts_t aopts;
  char errbuf[EG_ERRBUF_LEN] = "";
  int rc, exit_code = EG_EXIT_USAGE;

  rc = eg_signature_verifier_new((const char *const *)cfg->webhook_secrets,
                                 cfg->nwebhook_secrets, &sv, errbuf,
                                 sizeof(errbuf));
  if (rc != EG_OK) {
    eg_cli_error("ENVGATE_WEBHOOK_SECRET: %s",
                 errbuf[0] != '\0' ? errbuf : eg_strerror(rc));
    return EG_EXIT_USAGE;
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
  if (eg_audit_new(&audit) != EG_OK) {
    eg_cli_error("out of memory");
    goto done;
  }
  rc = read_topics(cfg, opt, tr, sv, audit);
  if (rc != EG_OK)
    goto done;
  aopts = (eg_audit_opts_t){.now_ms = eg_time_epoch_ms(),
                            .grace_ms = opt->grace_ms,
                            .partial = opt->since_ms > 0};
  if (eg_audit_finish(audit, &aopts) != EG_OK ||
      eg_audit_summarize(audit, &opt->filter, &sum) != EG_OK) {
    eg_cli_error("out of memory");
    goto done;
  }
  rc = eg_audit_report_write(stdout, audit, &opt->filter, opt->format);
  if (rc != EG_OK) {
    eg_cli_error("cannot write the report: %s", eg_strerror(rc));
    goto done;
  }
  exit_code = sum.anomalies > 0 ? EG_EXIT_FAILURE : EG_EXIT_OK;
  if (sum.anomalies > 0) {
    eg_cli_error("%zu anomal%s in %zu requests%s", sum.anomalies,
                 sum.anomalies == 1 ? "y" : "ies", sum.requests,
                 opt->format == EG_AUDIT_FORMAT_CSV ? ":"
                                                    : " (see the report)");
    if (opt->format == EG_AUDIT_FORMAT_CSV)
      eg_audit_report_anomalies(stderr, audit, &opt->filter);
  }

done:
  eg_audit_free(audit);
  eg_topic_reader_free(tr);
  eg_signature_verifier_free(sv);
  return exit_code;
}

int main(int argc, char **argv) {
  struct options opt = {.grace_ms = 15 * 60000, .timeout_ms = 30000};
  eg_config_t cfg;
  int rc;

  eg_cli_init(PROG, 0, 2, isatty(2) == 1);
  rc = parse_args(argc, argv, &opt);
  if (rc >= 0)
    return rc;
  if (eg_cli_start(PROG, opt.verbosity, EG_ROLE_AUDIT, &cfg) != EG_OK)
    return EG_EXIT_USAGE;
  rc = run(&cfg, &opt);
  eg_config_cleanup(&cfg);
  return rc;
}
