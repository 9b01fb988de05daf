/* envgate-devbroker end to end: topics, produce and read back, fault
 * injection through the control socket and the ctl subcommand, a consumer
 * group, usage errors and a graceful stop; plus redis-server through the
 * harness. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "eg/error.h"
#include "harness.h"

#define NMSG 24

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Produces n records with keys "k<i>", values "v<i>" and two headers. */
static int produce_n(eg_it_t *it,
                     const char *bootstrap,
                     const char *topic,
                     int first,
                     int n,
                     const char *const *conf,
                     int timeout_ms) {
  static const char *const headers[] = {
      "github-event", "deployment_protection_rule", "github-delivery",
      "5f3c1a2e-0000-4000-8000-000000000001", NULL};
  eg_it_kafka_rec_t recs[NMSG];
  char keys[NMSG][16];
  char values[NMSG][16];

  assert_true(n <= NMSG);
  for (int i = 0; i < n; i++) {
    snprintf(keys[i], sizeof(keys[i]), "k%d", first + i);
    snprintf(values[i], sizeof(values[i]), "v%d", first + i);
    recs[i] = (eg_it_kafka_rec_t){.key = keys[i],
                                  .value = values[i],
                                  .value_len = strlen(values[i]),
                                  .headers = headers};
  }
  return eg_it_kafka_produce(it, bootstrap, topic, recs, (size_t)n, conf,
                             timeout_ms);
}

static void test_topics_and_roundtrip(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_kafka_msgs_t msgs;
  char reply[4096];
  bool seen[NMSG] = {false};
  int partitions_used = 0;
  int last_partition = -1;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  assert_non_null(strstr(db.bootstrap, "127.0.0.1:"));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "brokers=3 down=- rtt=-"));
  assert_non_null(strstr(reply, "topics=envgate.events:12,envgate.retry:12,"
                                "envgate.dlq:3,envgate.decisions:3"));

  EG_IT_MUST(
      it, produce_n(it, db.bootstrap, "envgate.events", 0, NMSG, NULL, 10000));
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, db.bootstrap, "envgate.events",
                                         15000, &msgs));
  assert_int_equal(msgs.n, NMSG);
  for (size_t i = 0; i < msgs.n; i++) {
    const eg_it_kafka_msg_t *m = &msgs.v[i];
    const eg_it_kafka_header_t *h = eg_it_kafka_msg_header(m, "github-event");
    char want[16];
    int k;

    assert_non_null(m->key);
    assert_int_equal(sscanf(m->key, "k%d", &k), 1);
    assert_true(k >= 0 && k < NMSG);
    assert_false(seen[k]);
    seen[k] = true;
    assert_int_equal(m->value_len, strlen(m->value));
    snprintf(want, sizeof(want), "v%d", k);
    assert_string_equal(m->value, want);
    assert_int_equal(m->nheaders, 2);
    assert_non_null(h);
    assert_string_equal(h->value, "deployment_protection_rule");
    assert_string_equal(eg_it_kafka_msg_header(m, "github-delivery")->value,
                        "5f3c1a2e-0000-4000-8000-000000000001");
    assert_true(m->partition >= 0 && m->partition < 12);
    if (m->partition != last_partition) {
      partitions_used++;
      last_partition = m->partition;
    }
  }
  /* 24 distinct keys over 12 partitions land on more than one. */
  assert_true(partitions_used > 1);
  eg_it_kafka_msgs_cleanup(&msgs);

  /* Reading again replays everything: nothing was committed. */
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, db.bootstrap, "envgate.events",
                                        NMSG, 15000, &msgs));
  assert_int_equal(msgs.n, NMSG);
  eg_it_kafka_msgs_cleanup(&msgs);

  EG_IT_MUST(it, eg_it_kafka_consume_all(it, db.bootstrap, "envgate.dlq", 15000,
                                         &msgs));
  assert_int_equal(msgs.n, 0);
  assert_int_equal(
      eg_it_kafka_consume_all(it, db.bootstrap, "no.such.topic", 5000, &msgs),
      EG_ENOENT);
  assert_int_equal(msgs.n, 0);
  eg_it_pass(it);
}

static void test_fault_injection(void **state) {
  static const char *const short_timeout[] = {"message.timeout.ms=1500", NULL};
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_kafka_msgs_t msgs;
  char reply[4096];
  long long t0;
  int rc;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 0, 1, NULL, 10000));

  /* Every broker down: nothing is acknowledged before the timeout. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-down", NULL, 0));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "down=1,2,3"));
  t0 = eg_it_now_ms();
  rc = produce_n(it, db.bootstrap, "envgate.events", 1, 1, short_timeout, 1500);
  assert_int_equal(rc, EG_ETIMEDOUT);
  assert_non_null(strstr(eg_it_errmsg(it), "not delivered"));
  assert_true(eg_it_now_ms() - t0 >= 1400);

  /* Back up: the same producer settings deliver again. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-up", NULL, 0));
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 2, 1, NULL, 10000));

  /* One broker down and up again is reflected in status. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "broker-down 2", NULL, 0));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "down=2 "));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "broker-up 2", NULL, 0));

  /* Retriable errors are retried by the idempotent producer... */
  EG_IT_MUST(
      it, eg_it_devbroker_ctl(
              it, &db, "push-errors Produce 3 NOT_ENOUGH_REPLICAS", NULL, 0));
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 3, 1, NULL, 10000));
  /* ...a permanent one fails the message. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db,
                                     "push-errors 0 1 "
                                     "TOPIC_AUTHORIZATION_FAILED",
                                     NULL, 0));
  rc = produce_n(it, db.bootstrap, "envgate.events", 4, 1, NULL, 10000);
  assert_int_equal(rc, EG_EUNAVAIL);
  assert_non_null(strstr(eg_it_errmsg(it), "uthoriz"));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "clear-errors", NULL, 0));

  /* Added round-trip time slows every acknowledgement. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "rtt all 400", NULL, 0));
  t0 = eg_it_now_ms();
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 5, 1, NULL, 10000));
  assert_true(eg_it_now_ms() - t0 >= 400);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "rtt all 0", NULL, 0));

  /* Exactly the delivered messages are in the topic. */
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, db.bootstrap, "envgate.events",
                                         15000, &msgs));
  assert_int_equal(msgs.n, 4);
  for (size_t i = 0; i < msgs.n; i++) {
    assert_string_not_equal(msgs.v[i].key, "k1");
    assert_string_not_equal(msgs.v[i].key, "k4");
  }
  eg_it_kafka_msgs_cleanup(&msgs);

  /* Bad commands are answered with a reason, and change nothing. */
  assert_int_equal(
      eg_it_devbroker_ctl(it, &db, "broker-down 9", reply, sizeof(reply)),
      EG_EINVAL);
  assert_string_equal(reply, "error: broker 9: ids are 1..3");
  assert_int_equal(
      eg_it_devbroker_ctl(it, &db, "explode", reply, sizeof(reply)), EG_EINVAL);
  assert_non_null(strstr(reply, "unknown command"));
  assert_int_equal(eg_it_devbroker_ctl(it, &db, "push-errors Produce 1 NOPE",
                                       reply, sizeof(reply)),
                   EG_EINVAL);
  assert_non_null(strstr(reply, "unknown error code 'NOPE'"));
  assert_int_equal(eg_it_devbroker_ctl(it, &db,
                                       "topic-error no.such.topic "
                                       "LEADER_NOT_AVAILABLE",
                                       reply, sizeof(reply)),
                   EG_EINVAL);
  assert_non_null(strstr(reply, "unknown topic"));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "down=- rtt=-"));
  eg_it_pass(it);
}

static void test_ctl_subcommand(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_proc_t *p;
  char *out = NULL;
  int wstatus;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  {
    const char *argv[] = {"envgate-devbroker", "ctl", "--control", db.control,
                          "broker-down",       "3",   NULL};
    eg_it_spawn_opts_t o = {.name = "ctl-ok", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &out, NULL));
    assert_string_equal(out, "ok\n");
    free(out);
  }
  {
    const char *argv[] = {"envgate-devbroker", "ctl", "--control", db.control,
                          "broker-down",       "42",  NULL};
    eg_it_spawn_opts_t o = {.name = "ctl-err", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 1);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &out, NULL));
    assert_string_equal(out, "error: broker 42: ids are 1..3\n");
    free(out);
  }
  {
    const char *argv[] = {"envgate-devbroker", "ctl", "status", NULL};
    eg_it_spawn_opts_t o = {.name = "ctl-usage", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 2);
    assert_int_equal(eg_it_proc_log_count(p, "--control PATH is required"), 1);
  }
  {
    const char *argv[] = {"envgate-devbroker",           "ctl",    "--control",
                          eg_it_path(it, "nobody.sock"), "status", NULL};
    eg_it_spawn_opts_t o = {.name = "ctl-nobody", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 1);
    assert_int_equal(eg_it_proc_log_count(p, "cannot connect"), 1);
  }
  /* The broker taken down through ctl shows in status. */
  {
    char reply[4096];
    EG_IT_MUST(it,
               eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
    assert_non_null(strstr(reply, "down=3 "));
  }
  eg_it_pass(it);
}

/* Polls c until want messages arrived or the time is up. */
static int poll_count(rd_kafka_t *c, int want, int timeout_ms) {
  long long deadline = eg_it_now_ms() + eg_it_timeout_ms(timeout_ms);
  int got = 0;

  while (got < want && eg_it_now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
    if (m == NULL)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      got++;
    rd_kafka_message_destroy(m);
  }
  return got;
}

static rd_kafka_t *group_consumer(const char *bootstrap) {
  static const char *const settings[][2] = {
      {"group.id", "it-devbroker-group"},   {"session.timeout.ms", "6000"},
      {"reconnect.backoff.max.ms", "1000"}, {"auto.offset.reset", "earliest"},
      {"enable.auto.commit", "false"},      {"log_level", "3"}};
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *topics;
  char errstr[256];
  rd_kafka_t *c;

  assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap,
                                     errstr, sizeof(errstr)),
                   RD_KAFKA_CONF_OK);
  for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
    assert_int_equal(rd_kafka_conf_set(conf, settings[i][0], settings[i][1],
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
  c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  assert_non_null(c);
  rd_kafka_poll_set_consumer(c);
  topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "envgate.events",
                                    RD_KAFKA_PARTITION_UA);
  assert_int_equal(rd_kafka_subscribe(c, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  return c;
}

static void test_consumer_group(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  rd_kafka_t *c;
  int got;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 0, 10, NULL, 10000));

  /* A group member with the session timeout tests use gets every
   * partition, reads everything from the earliest offset and commits. */
  c = group_consumer(db.bootstrap);
  got = poll_count(c, 10, 20000);
  if (got == 10)
    got = rd_kafka_commit(c, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR ? 10 : -1;
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  assert_int_equal(got, 10);

  /* The committed offsets survive the member: a new member of the same
   * group sees only what came later. */
  EG_IT_MUST(it,
             produce_n(it, db.bootstrap, "envgate.events", 10, 2, NULL, 10000));
  c = group_consumer(db.bootstrap);
  got = poll_count(c, 2, 20000);
  if (got == 2)
    got += poll_count(c, 1, 1000); /* nothing more may arrive */
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  assert_int_equal(got, 2);
  eg_it_pass(it);
}

static void test_usage_and_stop(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_proc_t *p;
  char *text = NULL;
  size_t len = 0;
  int wstatus;

  {
    const char *argv[] = {"envgate-devbroker", "--brokers", "0", NULL};
    eg_it_spawn_opts_t o = {.name = "bad-brokers", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 2);
    EG_IT_MUST(it, eg_it_proc_read_log(p, &text, &len));
    assert_string_equal(text, "envgate-devbroker: error: --brokers 0: must be "
                              "between 1 and 16 (see --help)\n");
    free(text);
  }
  {
    const char *argv[] = {"envgate-devbroker", "--topic-prefix", "bad/prefix",
                          NULL};
    eg_it_spawn_opts_t o = {.name = "bad-prefix", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 2);
  }
  {
    const char *argv[] = {"envgate-devbroker", "--version", NULL};
    eg_it_spawn_opts_t o = {.name = "version", .argv = argv};
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &text, NULL));
    assert_non_null(strstr(text, "envgate-devbroker " EG_VERSION));
    free(text);
  }

  /* --partitions sizes events and retry; --brokers the cluster. */
  {
    const char *args[] = {"--partitions", "4", "--brokers", "1", NULL};
    char reply[4096];
    EG_IT_MUST(it, eg_it_devbroker_start(it, args, &db));
    EG_IT_MUST(it,
               eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
    assert_non_null(strstr(reply, "brokers=1 "));
    assert_non_null(strstr(reply, "envgate.events:4,envgate.retry:4,"));
  }

  /* SIGTERM: exit 0, log "stopped", remove the bootstrap file and socket. */
  EG_IT_MUST(it, eg_it_proc_stop(db.proc, 10000, &wstatus));
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), 0);
  assert_int_equal(eg_it_proc_log_count(db.proc, "\"msg\":\"stopped\""), 1);
  assert_false(file_exists(db.control));
  assert_false(file_exists(eg_it_path(it, "devbroker.bootstrap")));
  eg_it_pass(it);
}

static void test_topic_prefix_env(void **state) {
  eg_it_t *it = *state;
  const char *argv[] = {
      "envgate-devbroker",           "--brokers", "1", "--bootstrap-file",
      eg_it_path(it, "p.bootstrap"), NULL};
  const char *env[] = {"ENVGATE_TOPIC_PREFIX=stage.", NULL};
  eg_it_spawn_opts_t o = {.name = "prefixed",
                          .argv = argv,
                          .env = env,
                          .ready_file = eg_it_path(it, "p.bootstrap")};
  eg_it_kafka_msgs_t msgs;
  eg_it_proc_t *p;

  EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, eg_it_proc_addr(p),
                                         "stage.decisions", 15000, &msgs));
  assert_int_equal(msgs.n, 0);
  assert_int_equal(eg_it_kafka_consume_all(it, eg_it_proc_addr(p),
                                           "envgate.events", 5000, &msgs),
                   EG_ENOENT);
  assert_int_equal(eg_it_proc_log_count(p, "\"topic\":\"stage.events\""), 1);
  eg_it_pass(it);
}

/* Sends raw bytes on a fresh control connection, half-closes, and reads
 * everything the devbroker answers into out. */
static void raw_control(const char *path,
                        const char *bytes,
                        size_t len,
                        char *out,
                        size_t out_len) {
  struct sockaddr_un sa;
  size_t got = 0;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);

  assert_true(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
  shutdown(fd, SHUT_WR);
  for (;;) {
    ssize_t n = recv(fd, out + got, out_len - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  out[got] = '\0';
  close(fd);
}

static void test_control_protocol_and_topics(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_kafka_msgs_t msgs;
  char reply[8192];
  char longline[1100];

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));

  /* Several commands on one connection, CRLF, blank lines, and a last line
   * without a newline are each answered once, in order. */
  {
    const char *cmds = "status\r\n\nbroker-up 1\nnope\nall-up";
    raw_control(db.control, cmds, strlen(cmds), reply, sizeof(reply));
  }
  assert_non_null(strstr(reply, "ok bootstrap="));
  assert_non_null(strstr(reply, "\nok\nerror: unknown command 'nope' (try: "
                                "help)\nok\n"));
  /* A line over 1024 bytes is refused and the connection closed. */
  memset(longline, 'x', sizeof(longline));
  raw_control(db.control, longline, sizeof(longline), reply, sizeof(reply));
  assert_string_equal(reply, "error: command line too long\n");

  /* create-topic, leader. */
  EG_IT_MUST(it,
             eg_it_devbroker_ctl(it, &db, "create-topic it.extra 2", NULL, 0));
  assert_int_equal(eg_it_devbroker_ctl(it, &db, "create-topic it.extra 2",
                                       reply, sizeof(reply)),
                   EG_EINVAL);
  assert_string_equal(reply, "error: topic it.extra exists");
  assert_int_equal(eg_it_devbroker_ctl(it, &db, "create-topic bad/name 2",
                                       reply, sizeof(reply)),
                   EG_EINVAL);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "leader it.extra 1 2", NULL, 0));
  assert_int_equal(
      eg_it_devbroker_ctl(it, &db, "leader it.extra 2 1", reply, sizeof(reply)),
      EG_EINVAL);
  assert_string_equal(reply,
                      "error: partition 2: it.extra has partitions 0..1");
  EG_IT_MUST(
      it, eg_it_kafka_consume_all(it, db.bootstrap, "it.extra", 15000, &msgs));
  assert_int_equal(msgs.n, 0);

  /* topic-error makes metadata report the topic as missing until
   * clear-errors. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db,
                                     "topic-error it.extra "
                                     "UNKNOWN_TOPIC_OR_PART",
                                     NULL, 0));
  assert_int_equal(
      eg_it_kafka_consume_all(it, db.bootstrap, "it.extra", 5000, &msgs),
      EG_ENOENT);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "topic_errors=it.extra:UNKNOWN_TOPIC_OR_PART"));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "clear-errors", NULL, 0));
  EG_IT_MUST(
      it, eg_it_kafka_consume_all(it, db.bootstrap, "it.extra", 15000, &msgs));
  assert_int_equal(msgs.n, 0);

  /* ApiKeys and error codes by number; bad counts. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "push-errors 3 2 5", NULL, 0));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "clear-errors", NULL, 0));
  assert_int_equal(eg_it_devbroker_ctl(it, &db,
                                       "push-errors Produce 0 "
                                       "NOT_LEADER_FOR_PARTITION",
                                       reply, sizeof(reply)),
                   EG_EINVAL);
  assert_non_null(strstr(reply, "count '0'"));
  assert_int_equal(eg_it_devbroker_ctl(it, &db, "push-errors Nope 1 5", reply,
                                       sizeof(reply)),
                   EG_EINVAL);
  assert_non_null(strstr(reply, "unknown ApiKey 'Nope'"));
  assert_int_equal(
      eg_it_devbroker_ctl(it, &db, "rtt 1 -5", reply, sizeof(reply)),
      EG_EINVAL);
  assert_int_equal(
      eg_it_devbroker_ctl(it, &db, "status now", reply, sizeof(reply)),
      EG_EINVAL);
  assert_string_equal(reply, "error: usage: status (no arguments)");
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "help", reply, sizeof(reply)));
  assert_non_null(strstr(reply, "push-errors <api> <count> <error>..."));
  eg_it_pass(it);
}

/* Expects a devbroker started with argv to exit with code before it is
 * ready, logging text. */
static void expect_startup_failure(eg_it_t *it,
                                   const char *name,
                                   const char *const *argv,
                                   int code,
                                   const char *text) {
  eg_it_spawn_opts_t o = {.name = name, .argv = argv};
  eg_it_proc_t *p;
  int wstatus;

  EG_IT_MUST(it, eg_it_run(it, &o, 10000, &wstatus, &p));
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), code);
  if (eg_it_proc_log_count(p, text) == 0)
    fail_msg("%s: log lacks '%s' (see %s)", name, text, eg_it_proc_log_path(p));
}

static void test_control_socket_files(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  const char *plain;
  char longpath[200];

  /* A regular file where the socket should go is never removed. */
  EG_IT_MUST(it, eg_it_write_file(it, "plain", "x", 1, &plain));
  {
    const char *argv[] = {"envgate-devbroker", "--control", plain, NULL};
    expect_startup_failure(it, "on-file", argv, 1,
                           "exists and is not a socket");
  }
  assert_true(file_exists(plain));

  /* A live devbroker's socket is not stolen. */
  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  {
    const char *argv[] = {"envgate-devbroker", "--control", db.control, NULL};
    expect_startup_failure(it, "second", argv, 1,
                           "another process is listening on it");
  }
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "status", NULL, 0));

  /* A stale socket (its owner was killed) is replaced. */
  {
    const char *stale = eg_it_path(it, "stale.sock");
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    const char *argv[] = {"envgate-devbroker",
                          "--brokers",
                          "1",
                          "--control",
                          stale,
                          "--bootstrap-file",
                          eg_it_path(it, "stale.bootstrap"),
                          NULL};
    eg_it_spawn_opts_t o = {.name = "on-stale",
                            .argv = argv,
                            .ready_file = eg_it_path(it, "stale.bootstrap")};
    eg_it_devbroker_t db2 = {0};

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_true(file_exists(stale));
    EG_IT_MUST(it, eg_it_spawn(it, &o, &db2.proc));
    db2.control = stale;
    EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db2, "status", NULL, 0));
  }

  /* Unwritable bootstrap file; over-long socket path. */
  {
    const char *argv[] = {"envgate-devbroker", "--bootstrap-file",
                          eg_it_path(it, "no/such/dir/bootstrap"), NULL};
    expect_startup_failure(it, "bad-bootstrap", argv, 1, "startup failed");
  }
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[0] = '/';
  longpath[sizeof(longpath) - 1] = '\0';
  {
    const char *argv[] = {"envgate-devbroker", "--control", longpath, NULL};
    expect_startup_failure(it, "long-path", argv, 2, "path must be 1..107");
  }
  eg_it_pass(it);
}

static void test_redis(void **state) {
  eg_it_t *it = *state;
  eg_it_redis_t r;
  redisContext *rc;
  redisReply *reply;

  EG_IT_MUST(it, eg_it_redis_start(it, &r));
  assert_true(r.port > 0);
  rc = redisConnect("127.0.0.1", r.port);
  assert_non_null(rc);
  assert_int_equal(rc->err, 0);
  reply = redisCommand(rc, "PING");
  assert_non_null(reply);
  assert_string_equal(reply->str, "PONG");
  freeReplyObject(reply);
  reply = redisCommand(rc, "SET %s %s", "envgate:it", "1");
  assert_non_null(reply);
  freeReplyObject(reply);
  reply = redisCommand(rc, "GET %s", "envgate:it");
  assert_non_null(reply);
  assert_string_equal(reply->str, "1");
  freeReplyObject(reply);
  redisFree(rc);
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_topics_and_roundtrip, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_fault_injection, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_ctl_subcommand, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_consumer_group, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_usage_and_stop, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_topic_prefix_env, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_control_protocol_and_topics,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_control_socket_files, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_redis, eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
