/* Integration-test harness: a scratch directory per test, child processes
 * (envgate-devbroker, redis-server, envgate-ghsim, our binaries) that never
 * outlive the test, and small HTTP, Kafka and devbroker-control clients.
 *
 * Conventions: functions returning int give EG_OK or a negative EG_E* code
 * and leave a one-line reason in eg_it_errmsg(it). A missing prerequisite
 * (binary not built, redis-server not installed) is an error, never a skip.
 * Every timeout passed in is scaled by $EG_TEST_TIMEOUT_MULTIPLIER.
 * Spawn processes from the test's main thread only: the child's
 * PR_SET_PDEATHSIG fires when the thread that forked it exits.
 *
 * Typical test:
 *   static void test_x(void **state) {
 *     eg_it_t *it = *state;
 *     eg_it_devbroker_t db;
 *     EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
 *     ...
 *     eg_it_pass(it);
 *   }
 *   ... cmocka_unit_test_setup_teardown(test_x, eg_it_setup, eg_it_teardown)
 */
#ifndef EG_HARNESS_H
#define EG_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Compile definitions set by tests/integration/CMakeLists.txt:
 * EG_IT_BIN_DIR (build/bin), EG_FIXTURES_DIR (GitHub fixtures) and
 * EG_SOURCE_DIR (the source tree). */

typedef struct eg_it_s eg_it_t;
typedef struct eg_it_proc_s eg_it_proc_t;

/* Fails the running cmocka test with the harness's reason when call does not
 * return EG_OK. Use in test bodies (needs <cmocka.h>). */
#define EG_IT_MUST(it, call)                                                   \
  do {                                                                         \
    int eg_it_rc_ = (call);                                                    \
    if (eg_it_rc_ != 0)                                                        \
      fail_msg("%s: %s", #call, eg_it_errmsg(it));                             \
  } while (0)

/* ---- Test context and scratch directory ---- */

/* Creates the context of one test and its scratch directory
 * $TMPDIR/eg-it-<name>-XXXXXX (TMPDIR defaults to /tmp). Checks
 * $EG_TEST_TIMEOUT_MULTIPLIER. On failure prints the reason to stderr.
 * @returns EG_OK, EG_EINVAL or EG_EIO. Free with eg_it_end(). */
int eg_it_begin(const char *name, eg_it_t **out);

/* Marks the test as passed; call as the test body's last statement. A test
 * that fails never reaches it (cmocka longjmps out), so eg_it_end() knows. */
void eg_it_pass(eg_it_t *it);

/* Stops every child still running (SIGTERM, then SIGKILL to its process
 * group after 10 s), then: if the test passed and every child exited
 * cleanly (status 0, or its status was already collected by the test), the
 * scratch directory is removed; otherwise it is kept, its path and the tail
 * of each child's log are printed to stderr.
 * @returns 0 when clean, -1 otherwise (so cmocka reports a teardown
 * failure). NULL returns 0. */
int eg_it_end(eg_it_t *it);

/* cmocka fixtures around eg_it_begin()/eg_it_end(); the test name is the
 * program's name. *state becomes the eg_it_t *. */
int eg_it_setup(void **state);
int eg_it_teardown(void **state);

/* The reason of the last failure, "" if none. Owned by it. */
const char *eg_it_errmsg(const eg_it_t *it);

/* The scratch directory. Owned by it. */
const char *eg_it_dir(const eg_it_t *it);

/* Returns "<scratch>/<name>". Owned by it, valid until eg_it_end(); NULL only
 * when out of memory. */
const char *eg_it_path(eg_it_t *it, const char *name);

/* Writes len bytes of data to <scratch>/<name> (mode 0600) and, if path is
 * not NULL, sets *path to its path (owned by it).
 * @returns EG_OK or EG_EIO. */
int eg_it_write_file(eg_it_t *it,
                     const char *name,
                     const void *data,
                     size_t len,
                     const char **path);

/* Reads a whole file. *data is NUL-terminated; the caller frees it with
 * free(). @returns EG_OK, EG_ENOENT, EG_EIO or EG_ETOOBIG (over 64 MiB). */
int eg_it_read_file(eg_it_t *it, const char *path, char **data, size_t *len);

/* base_ms scaled by $EG_TEST_TIMEOUT_MULTIPLIER (default 1). */
int eg_it_timeout_ms(int base_ms);

/* Monotonic clock in ms, and a sleep. */
long long eg_it_now_ms(void);
void eg_it_sleep_ms(int ms);

/* Picks a free TCP port on 127.0.0.1 by binding port 0 and closing the
 * socket. Racy: another process may take the port before the caller binds
 * it; prefer servers that bind port 0 themselves and report their address.
 * @returns EG_OK or EG_EIO. */
int eg_it_free_port(eg_it_t *it, int *port);

/* ---- Child processes ---- */

typedef struct eg_it_spawn_opts_s {
  /* Names the logs <scratch>/<name>.log (stderr) and <name>.out (stdout);
   * made unique ("name-2") if already used in this test. Required. */
  const char *name;
  /* NULL-terminated. argv[0] is a path, or a bare name looked up first in
   * EG_IT_BIN_DIR, then in $PATH. Required. */
  const char *const *argv;
  /* NULL-terminated "NAME=value" entries set in the child, or "NAME" to
   * unset. The child inherits the test's environment except ENVGATE_*
   * variables, so a developer's shell cannot change a test. May be NULL. */
  const char *const *env;
  /* Send stdout to the .log file too (for servers that log on stdout). */
  bool merge_stdout;
  /* Readiness, checked in this order; all set ones must hold:
   * ready_file: a file the child writes (ideally through rename) holding
   *   its address; its first line becomes eg_it_proc_addr().
   * ready_url: an HTTP GET on it answers 200.
   * ready_log: the .log file contains this text. */
  const char *ready_file;
  const char *ready_url;
  const char *ready_log;
  /* How long to wait for readiness; 0 means 10000. Scaled. */
  int ready_timeout_ms;
} eg_it_spawn_opts_t;

/* Starts a child in its own process group, stdin from /dev/null, stdout and
 * stderr to its log files, with PR_SET_PDEATHSIG(SIGKILL) so it dies with the
 * test; then waits for readiness. A child exiting before it is ready fails
 * the call with its exit status and the tail of its log.
 * Example for the GitHub simulator:
 *   const char *argv[] = {"envgate-ghsim", "--listen", "127.0.0.1:0",
 *                         "--addr-file", eg_it_path(it, "ghsim.addr"),
 *                         "--scenario", path, NULL};
 *   eg_it_spawn_opts_t o = {.name = "ghsim", .argv = argv,
 *                           .ready_file = eg_it_path(it, "ghsim.addr")};
 *   EG_IT_MUST(it, eg_it_spawn(it, &o, &gh));
 * @returns EG_OK, EG_EINVAL, EG_ENOENT (binary not found), EG_EIO,
 * EG_ETIMEDOUT or EG_EUNAVAIL (exited early). *out is owned by it. */
int eg_it_spawn(eg_it_t *it,
                const eg_it_spawn_opts_t *opts,
                eg_it_proc_t **out);

/* Spawns (without readiness checks) and waits up to timeout_ms for the
 * exit; for --help, --version and bad-usage checks.
 * @returns EG_OK with *wstatus set, or what eg_it_spawn/eg_it_proc_wait
 * return. out may be NULL. */
int eg_it_run(eg_it_t *it,
              const eg_it_spawn_opts_t *opts,
              int timeout_ms,
              int *wstatus,
              eg_it_proc_t **out);

pid_t eg_it_proc_pid(const eg_it_proc_t *p);

/* First line of ready_file, or NULL if none was waited for. Owned by p. */
const char *eg_it_proc_addr(const eg_it_proc_t *p);

/* Paths of the child's stderr log and stdout file. Owned by p. */
const char *eg_it_proc_log_path(const eg_it_proc_t *p);
const char *eg_it_proc_out_path(const eg_it_proc_t *p);

/* Sends sig to the child. @returns EG_OK, or EG_EINVAL if it has exited. */
int eg_it_proc_signal(eg_it_proc_t *p, int sig);

/* Waits up to timeout_ms (scaled) for the child to exit and sets *wstatus
 * (may be NULL) to its waitpid(2) status; also once it has exited already.
 * @returns EG_OK or EG_ETIMEDOUT. */
int eg_it_proc_wait(eg_it_proc_t *p, int timeout_ms, int *wstatus);

/* SIGTERM, waits up to timeout_ms (scaled), then SIGKILLs the process group.
 * @returns EG_OK (exited on SIGTERM; *wstatus set) or EG_ETIMEDOUT (had to be
 * killed; *wstatus set too). */
int eg_it_proc_stop(eg_it_proc_t *p, int timeout_ms, int *wstatus);

/* True while the child has not exited. */
bool eg_it_proc_is_running(eg_it_proc_t *p);

/* Reads the child's .log file. *text is NUL-terminated; free it with free().
 * @returns EG_OK, EG_EIO or EG_ETOOBIG. */
int eg_it_proc_read_log(eg_it_proc_t *p, char **text, size_t *len);

/* Number of occurrences of needle in the .log file (0 when unreadable). */
size_t eg_it_proc_log_count(eg_it_proc_t *p, const char *needle);

/* The "port" field of the first log line whose "msg" is msg: where a
 * server that listened on port 0 says it listens. @returns the port, or 0
 * when no such line (with a port) was logged yet. */
int eg_it_proc_log_port(eg_it_proc_t *p, const char *msg);

/* Waits up to timeout_ms (scaled) until the .log file contains needle.
 * @returns EG_OK, EG_ETIMEDOUT, or EG_EUNAVAIL if the child exited without
 * writing it. */
int eg_it_proc_wait_log(eg_it_proc_t *p, const char *needle, int timeout_ms);

/* ---- envgate-devbroker ---- */

typedef struct eg_it_devbroker_s {
  eg_it_proc_t *proc;
  const char *bootstrap; /* "127.0.0.1:port,..."; owned by the context */
  const char *control;   /* control socket path; owned by the context */
} eg_it_devbroker_t;

/* Starts envgate-devbroker (3 brokers, default topics envgate.events/retry
 * with 12 partitions, dlq/decisions with 3) with a control socket in the
 * scratch directory and waits for its bootstrap file. extra_args (NULL-
 * terminated, may be NULL) are appended, e.g. {"--brokers", "1", NULL}.
 * @returns EG_OK or as eg_it_spawn(). */
int eg_it_devbroker_start(eg_it_t *it,
                          const char *const *extra_args,
                          eg_it_devbroker_t *out);

/* Sends one command ("broker-down 1", "all-up", "push-errors Produce 3
 * NOT_LEADER_FOR_PARTITION", "status", ...) and copies the reply line into
 * reply (may be NULL).
 * @returns EG_OK for "ok ...", EG_EINVAL for "error: ..." (the reply is also
 * in eg_it_errmsg), EG_EIO when the socket fails. */
int eg_it_devbroker_ctl(eg_it_t *it,
                        const eg_it_devbroker_t *db,
                        const char *command,
                        char *reply,
                        size_t reply_len);

/* ---- redis-server ---- */

typedef struct eg_it_redis_s {
  eg_it_proc_t *proc;
  int port;
  const char *url; /* "redis://127.0.0.1:<port>/0"; owned by the context */
} eg_it_redis_t;

/* Starts redis-server (from $PATH) on a free 127.0.0.1 port, no
 * persistence, working directory in the scratch dir, and waits until it
 * answers PING and reports the child's own pid (so a server that grabbed
 * the port first is never mistaken for ours). Retries with another port when
 * the picked one was taken meanwhile.
 * @returns EG_OK, EG_ENOENT (not installed) or as eg_it_spawn(). */
int eg_it_redis_start(eg_it_t *it, eg_it_redis_t *out);

/* ---- HTTP client (libcurl) ---- */

typedef struct eg_it_http_header_s {
  char *name;
  char *value;
} eg_it_http_header_t;

typedef struct eg_it_http_resp_s {
  long status;
  char *body; /* NUL-terminated; body_len excludes the NUL */
  size_t body_len;
  eg_it_http_header_t *headers; /* of the final response */
  size_t nheaders;
} eg_it_http_resp_t;

/* Performs one request. headers is a NULL-terminated list of "Name: value"
 * (may be NULL); curl adds no Content-Type or Expect of its own. body may be
 * NULL. Any HTTP status is a success of this call.
 * @returns EG_OK with *resp filled (free with eg_it_http_resp_cleanup),
 * EG_EUNAVAIL (cannot connect), EG_ETIMEDOUT, EG_ETOOBIG (body over 64 MiB)
 * or EG_EIO. */
int eg_it_http(eg_it_t *it,
               const char *method,
               const char *url,
               const char *const *headers,
               const void *body,
               size_t body_len,
               int timeout_ms,
               eg_it_http_resp_t *resp);

/* Value of the last header called name (any case), or NULL. Owned by resp. */
const char *eg_it_http_header(const eg_it_http_resp_t *resp, const char *name);

/* Frees what eg_it_http() filled in. NULL is a no-op. */
void eg_it_http_resp_cleanup(eg_it_http_resp_t *resp);

/* ---- Kafka ---- */

typedef struct eg_it_kafka_header_s {
  char *name;
  char *value; /* NUL-terminated; NULL for a null value */
  size_t value_len;
} eg_it_kafka_header_t;

typedef struct eg_it_kafka_msg_s {
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;
  char *key; /* NUL-terminated; NULL for a null key */
  size_t key_len;
  char *value; /* NUL-terminated; NULL for a null value */
  size_t value_len;
  eg_it_kafka_header_t *headers;
  size_t nheaders;
} eg_it_kafka_msg_t;

typedef struct eg_it_kafka_msgs_s {
  eg_it_kafka_msg_t *v; /* sorted by partition, then offset */
  size_t n;
} eg_it_kafka_msgs_t;

/* Reads every message of topic: assigns all its partitions at the beginning
 * (no consumer group, nothing committed) and reads until end of partition on
 * each.
 * @returns EG_OK with *out filled (free with eg_it_kafka_msgs_cleanup),
 * EG_ENOENT (no such topic), EG_ETIMEDOUT or EG_EUNAVAIL. */
int eg_it_kafka_consume_all(eg_it_t *it,
                            const char *bootstrap,
                            const char *topic,
                            int timeout_ms,
                            eg_it_kafka_msgs_t *out);

/* eg_it_kafka_consume_all() that also waits, with the same consumer, until
 * topic exists and holds at least min messages, or timeout_ms (scaled)
 * passes.
 * @returns EG_OK with *out filled, or EG_ETIMEDOUT (with the count seen in
 * eg_it_errmsg). */
int eg_it_kafka_wait_count(eg_it_t *it,
                           const char *bootstrap,
                           const char *topic,
                           size_t min,
                           int timeout_ms,
                           eg_it_kafka_msgs_t *out);

/* Frees what the consume calls filled in. NULL is a no-op. */
void eg_it_kafka_msgs_cleanup(eg_it_kafka_msgs_t *msgs);

/* The last header called name (exact case), or NULL. Owned by m. */
const eg_it_kafka_header_t *eg_it_kafka_msg_header(const eg_it_kafka_msg_t *m,
                                                   const char *name);

/* The value of header name as a string, "" when m has no such header. */
const char *eg_it_kafka_header_str(const eg_it_kafka_msg_t *m,
                                   const char *name);

typedef struct eg_it_kafka_rec_s {
  const char *key;   /* NULL for a null key */
  const void *value; /* NULL for a null value */
  size_t value_len;
  /* NULL-terminated name, value, name, value, ... (may be NULL) */
  const char *const *headers;
  bool use_partition; /* false: the partitioner picks from the key */
  int32_t partition;
} eg_it_kafka_rec_t;

/* Produces n records with an idempotent acks=all producer and waits for
 * every delivery report. conf is a NULL-terminated list of extra
 * "key=value" librdkafka settings (may be NULL); message.timeout.ms defaults
 * to timeout_ms (scaled).
 * @returns EG_OK when all were delivered, EG_EINVAL (bad conf),
 * EG_ETIMEDOUT or EG_EUNAVAIL (how many failed, and why, in eg_it_errmsg). */
int eg_it_kafka_produce(eg_it_t *it,
                        const char *bootstrap,
                        const char *topic,
                        const eg_it_kafka_rec_t *recs,
                        size_t n,
                        const char *const *conf,
                        int timeout_ms);

/* ---- Command-line checks ---- */

/* One bad command line of a tool and the exact stderr it must write. */
typedef struct eg_it_usage_case_s {
  const char *args[5]; /* NULL-terminated */
  const char *err;
} eg_it_usage_case_t;

/* Runs prog (from EG_IT_BIN_DIR) with each case's arguments and fails the
 * cmocka test unless it exits 2 writing exactly err to stderr; then checks
 * that --version prints "<prog> <version>" and --help prints every line of
 * help_lines (NULL-terminated),
 * both exiting 0. */
void eg_it_check_usage(eg_it_t *it,
                       const char *prog,
                       const eg_it_usage_case_t *cases,
                       size_t n,
                       const char *const *help_lines);

#endif /* EG_HARNESS_H */
