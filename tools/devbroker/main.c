/* envgate-devbroker: a development/test Kafka cluster (librdkafka's mock
 * brokers) in its own process, with the contract's topics and a control
 * socket for fault injection. Test infrastructure only. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "command.h"
#include "control.h"
#include "ctl.h"
#include "eg/error.h"
#include "eg/log.h"
#include "eg/parse.h"
#include "util.h"

#define PROG               "envgate-devbroker"
#define DEFAULT_PREFIX     "envgate."
#define DEFAULT_BROKERS    3
#define DEFAULT_PARTITIONS 12
/* dead letters and decisions are low-volume, read-everything topics. */
#define SMALL_TOPIC_PARTITIONS 3
#define MAX_PREFIX_LEN         200

static volatile sig_atomic_t stop_requested = 0;

struct options {
  int brokers;
  int partitions;
  const char *prefix;
  const char *bootstrap_file;
  const char *control;
  eg_log_level_t log_level;
};

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: " PROG " [options]\n"
      "       " PROG " ctl --control PATH COMMAND [ARG...]\n"
      "Runs a development/test Kafka cluster (librdkafka %s mock brokers "
      "on 127.0.0.1)\n"
      "with the topics <prefix>events and <prefix>retry (--partitions "
      "each),\n"
      "<prefix>dlq and <prefix>decisions (3 partitions each). Prints the "
      "bootstrap\n"
      "address on stdout. Not a real Kafka: see docs/devbroker.md.\n"
      "\n"
      "  --brokers N            brokers, 1..16 (default 3)\n"
      "  --partitions N         partitions of events and retry, 1..1000 "
      "(default 12)\n"
      "  --topic-prefix P       topic prefix (default $ENVGATE_TOPIC_PREFIX "
      "or envgate.)\n"
      "  --bootstrap-file PATH  also write the bootstrap address there "
      "(atomically)\n"
      "  --control PATH         Unix socket taking fault-injection "
      "commands\n"
      "  --log-level L          debug|info|warn|error (default "
      "$ENVGATE_LOG_LEVEL or info)\n"
      "  --help, --version\n"
      "\n"
      "Control commands (one per line, answered 'ok ...' or 'error: "
      "...'):\n  %s\n",
      rd_kafka_version_str(), DBK_COMMAND_SUMMARY);
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, PROG ": error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see --help)\n");
  return 2;
}

static bool is_prefix_ok(const char *prefix) {
  char probe[MAX_PREFIX_LEN + 16];

  if (strlen(prefix) > MAX_PREFIX_LEN)
    return false;
  /* An empty prefix is allowed: topics are then "events" and so on. */
  snprintf(probe, sizeof(probe), "%sdecisions", prefix);
  return dbk_is_topic_name(probe);
}

/* Parses the command line into opt. @returns -1 to run, else an exit code. */
static int parse_args(int argc, char **argv, struct options *opt) {
  static const struct option longopts[] = {
      {"brokers", required_argument, NULL, 'b'},
      {"partitions", required_argument, NULL, 'p'},
      {"topic-prefix", required_argument, NULL, 'P'},
      {"bootstrap-file", required_argument, NULL, 'f'},
      {"control", required_argument, NULL, 'c'},
      {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  const char *env;
  uint64_t v;
  int o;

  /* The environment is read once, here; options override it. */
  env = getenv("ENVGATE_TOPIC_PREFIX");
  if (env != NULL && env[0] != '\0')
    opt->prefix = env;
  env = getenv("ENVGATE_LOG_LEVEL");
  if (env != NULL && env[0] != '\0' &&
      eg_log_parse_level(env, &opt->log_level) != EG_OK)
    return usage_error("ENVGATE_LOG_LEVEL=%s: must be debug, info, warn or "
                       "error",
                       env);

  opterr = 0;
  while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (o) {
    case 'b':
      if (eg_parse_u64(optarg, 1, DBK_MAX_BROKERS, &v) != EG_OK)
        return usage_error("--brokers %s: must be between 1 and 16", optarg);
      opt->brokers = (int)v;
      break;
    case 'p':
      if (eg_parse_u64(optarg, 1, DBK_MAX_PARTITIONS, &v) != EG_OK)
        return usage_error("--partitions %s: must be between 1 and 1000",
                           optarg);
      opt->partitions = (int)v;
      break;
    case 'P':
      opt->prefix = optarg;
      break;
    case 'f':
      if (optarg[0] == '\0')
        return usage_error("--bootstrap-file%s: must not be empty", "");
      opt->bootstrap_file = optarg;
      break;
    case 'c':
      if (optarg[0] == '\0' || strlen(optarg) > DBK_CONTROL_PATH_MAX)
        return usage_error("--control %s: path must be 1..107 bytes (a Unix "
                           "socket limit)",
                           optarg);
      opt->control = optarg;
      break;
    case 'l':
      if (eg_log_parse_level(optarg, &opt->log_level) != EG_OK)
        return usage_error("--log-level %s: must be debug, info, warn or "
                           "error",
                           optarg);
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf(PROG " %s (librdkafka %s)\n", EG_VERSION, rd_kafka_version_str());
      return 0;
    default:
      return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  if (!is_prefix_ok(opt->prefix))
    return usage_error("topic prefix '%s': must be at most 200 of "
                       "[A-Za-z0-9._-]",
                       opt->prefix);
  return -1;
}

/* Writes text to path through a temporary file and rename(2), so a reader
 * polling for path sees nothing or everything. */
static int write_file_atomic(const char *path,
                             const char *text,
                             char *errbuf,
                             size_t errbuf_len) {
  char tmp[4096];
  char etext[128];
  FILE *f;
  int n;

  n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "%s: path too long", path);
  f = fopen(tmp, "w");
  if (f == NULL)
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "%s: %s", tmp,
                      dbk_errno_str(errno, etext, sizeof(etext)));
  if (fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
    dbk_errno_str(errno, etext, sizeof(etext));
    fclose(f);
    unlink(tmp);
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "%s: %s", tmp, etext);
  }
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    dbk_errno_str(errno, etext, sizeof(etext));
    unlink(tmp);
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "%s: %s", path, etext);
  }
  return EG_OK;
}

static void
run_command(const char *line, char *reply, size_t reply_len, void *ud) {
  dbk_command_run(ud, line, reply, reply_len);
}

static int create_topics(dbk_cluster_t *c,
                         const struct options *opt,
                         char *errbuf,
                         size_t errbuf_len) {
  static const struct {
    const char *name;
    bool big;
  } topics[] = {
      {"events", true}, {"retry", true}, {"dlq", false}, {"decisions", false}};

  for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
    char name[MAX_PREFIX_LEN + 16];
    int rc;

    snprintf(name, sizeof(name), "%s%s", opt->prefix, topics[i].name);
    rc = dbk_cluster_create_topic(
        c, name, topics[i].big ? opt->partitions : SMALL_TOPIC_PARTITIONS,
        errbuf, errbuf_len);
    if (rc != EG_OK)
      return rc;
  }
  return EG_OK;
}

static int install_signals(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
    return EG_EIO;
  /* A control client or stdout reader that went away must not kill us. */
  sa.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &sa, NULL) != 0)
    return EG_EIO;
  return EG_OK;
}

static int run(const struct options *opt) {
  char errbuf[EG_ERRBUF_LEN] = "";
  dbk_cluster_t *c = NULL;
  dbk_control_t *ctl = NULL;
  int rc;

  if (install_signals() != EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot install signal handlers");
    return 1;
  }
  rc =
      dbk_cluster_new(opt->brokers, opt->log_level, &c, errbuf, sizeof(errbuf));
  if (rc == EG_OK)
    rc = create_topics(c, opt, errbuf, sizeof(errbuf));
  /* The control socket is up before the address is published, so whoever
   * waits for the bootstrap file can send commands at once. */
  if (rc == EG_OK && opt->control != NULL)
    rc = dbk_control_open(opt->control, run_command, c, &ctl, errbuf,
                          sizeof(errbuf));
  if (rc == EG_OK && opt->bootstrap_file != NULL)
    rc = write_file_atomic(opt->bootstrap_file, dbk_cluster_bootstraps(c),
                           errbuf, sizeof(errbuf));
  if (rc != EG_OK) {
    eg_log(EG_LOG_ERROR, "startup failed", EG_LSTR("error", errbuf));
    dbk_control_close(ctl);
    dbk_cluster_free(c);
    return 1;
  }
  printf("%s\n", dbk_cluster_bootstraps(c));
  fflush(stdout);
  eg_log(EG_LOG_INFO, "ready", EG_LSTR("bootstrap", dbk_cluster_bootstraps(c)),
         EG_LINT("brokers", opt->brokers), EG_LSTR("topic_prefix", opt->prefix),
         EG_LSTR("control", opt->control),
         EG_LSTR("librdkafka", rd_kafka_version_str()));

  while (!stop_requested) {
    if (ctl != NULL)
      dbk_control_poll(ctl, 100);
    else
      usleep(100 * 1000);
  }

  eg_log(EG_LOG_INFO, "stopping");
  dbk_control_close(ctl);
  /* A stale bootstrap file would point scripts at a dead cluster. */
  if (opt->bootstrap_file != NULL)
    unlink(opt->bootstrap_file);
  dbk_cluster_free(c);
  eg_log(EG_LOG_INFO, "stopped");
  return 0;
}

int main(int argc, char **argv) {
  struct options opt = {.brokers = DEFAULT_BROKERS,
                        .partitions = DEFAULT_PARTITIONS,
                        .prefix = DEFAULT_PREFIX,
                        .log_level = EG_LOG_INFO};
  int rc;

  if (argc > 1 && strcmp(argv[1], "ctl") == 0)
    return dbk_ctl_main(argc - 1, argv + 1);
  rc = parse_args(argc, argv, &opt);
  if (rc >= 0)
    return rc;
  eg_log_init(PROG, opt.log_level, 2);
  return run(&opt);
}
