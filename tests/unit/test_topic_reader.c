/* Tests for the topic replay reader, against librdkafka's in-process mock
 * cluster. */
#include "eg/topic_reader.h"
#include "eg/error.h"
#include "eg/kafka.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka_mock.h>

#define NPART 3
#define NMSG  30

struct fixture {
  rd_kafka_t *producer; /* owns the mock cluster */
  rd_kafka_mock_cluster_t *mc;
  char bootstrap[256];
};

struct seen {
  int n;
  int64_t last_offset[NPART];
  int values[NMSG * 2];
  int stop_after; /* fn fails with EG_EEXIST after this many; 0: never */
  struct fixture *fx;
  bool produce_more; /* produce while reading */
  uint64_t progress_total;
  uint64_t progress_done;
  int progress_calls;
};

static int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof(*fx));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[256];

  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  fx->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  assert_non_null(fx->producer);
  fx->mc = rd_kafka_mock_cluster_new(fx->producer, 1);
  assert_non_null(fx->mc);
  snprintf(fx->bootstrap, sizeof(fx->bootstrap), "%s",
           rd_kafka_mock_cluster_bootstraps(fx->mc));
  assert_int_equal(rd_kafka_mock_topic_create(fx->mc, "t", NPART, 1), 0);
  assert_int_equal(rd_kafka_mock_topic_create(fx->mc, "empty", 2, 1), 0);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;

  rd_kafka_mock_cluster_destroy(fx->mc);
  rd_kafka_destroy(fx->producer);
  free(fx);
  return 0;
}

/* Produces values first..first+n-1 round-robin over the partitions through a
 * producer bootstrapped to the mock cluster, with timestamps 1000 * value. */
static void produce(struct fixture *fx, int first, int n) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  char err[256];

  assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", fx->bootstrap,
                                     err, sizeof(err)),
                   RD_KAFKA_CONF_OK);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  assert_non_null(rk);
  for (int i = first; i < first + n; i++) {
    char v[16];

    snprintf(v, sizeof(v), "%d", i);
    assert_int_equal(
        rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_PARTITION(i % NPART),
            RD_KAFKA_V_VALUE(v, strlen(v)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP((int64_t)(1000 + i) * 1000), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

static eg_topic_reader_t *new_reader(const char *bootstrap) {
  eg_config_t cfg = {.kafka_brokers = (char *)bootstrap};
  rd_kafka_conf_t *conf = NULL;
  eg_topic_reader_t *tr = NULL;
  char err[EG_ERRBUF_LEN];

  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_READER, NULL, &conf, err, sizeof(err)),
      EG_OK);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  assert_int_equal(eg_topic_reader_new(conf, &tr, err, sizeof(err)), EG_OK);
  return tr;
}

static int on_msg(const rd_kafka_message_t *msg, void *ud) {
  struct seen *s = ud;
  char v[16] = {0};

  assert_true(msg->err == RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_true(msg->partition >= 0 && msg->partition < NPART);
  /* In order within a partition. */
  assert_true(msg->offset > s->last_offset[msg->partition]);
  s->last_offset[msg->partition] = msg->offset;
  assert_true(msg->len < sizeof(v));
  memcpy(v, msg->payload, msg->len);
  assert_true(s->n < NMSG * 2);
  s->values[s->n++] = (int)strtol(v, NULL, 10);
  if (s->produce_more && s->n == 1)
    produce(s->fx, NMSG, 6);
  if (s->stop_after > 0 && s->n >= s->stop_after)
    return EG_EEXIST;
  return EG_OK;
}

static void
on_progress(const char *topic, uint64_t done, uint64_t total, void *ud) {
  struct seen *s = ud;

  assert_string_equal(topic, "t");
  assert_true(done <= total);
  assert_true(done >= s->progress_done);
  s->progress_done = done;
  s->progress_total = total;
  s->progress_calls++;
}

static void init_seen(struct seen *s, struct fixture *fx) {
  memset(s, 0, sizeof(*s));
  s->fx = fx;
  for (int p = 0; p < NPART; p++)
    s->last_offset[p] = -1;
}

static void test_read_all(void **state) {
  struct fixture *fx = *state;
  eg_topic_reader_t *tr;
  struct seen s;
  bool have[NMSG] = {false};
  char err[EG_ERRBUF_LEN];
  eg_topic_reader_opts_t opts = {.progress = on_progress};

  produce(fx, 0, NMSG);
  tr = new_reader(fx->bootstrap);
  init_seen(&s, fx);
  opts.progress_ud = &s;
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_OK);
  assert_int_equal(s.n, NMSG);
  for (int i = 0; i < s.n; i++) {
    assert_true(s.values[i] >= 0 && s.values[i] < NMSG);
    assert_false(have[s.values[i]]);
    have[s.values[i]] = true;
  }
  assert_int_equal(s.progress_total, NMSG);
  assert_int_equal(s.progress_done, NMSG);
  assert_true(s.progress_calls >= 2);

  /* Messages written during a read are left for the next read. */
  init_seen(&s, fx);
  s.produce_more = true;
  assert_int_equal(
      eg_topic_reader_read(tr, "t", NULL, on_msg, &s, err, sizeof(err)), EG_OK);
  assert_int_equal(s.n, NMSG);
  init_seen(&s, fx);
  assert_int_equal(
      eg_topic_reader_read(tr, "t", NULL, on_msg, &s, err, sizeof(err)), EG_OK);
  assert_int_equal(s.n, NMSG + 6);

  /* --since: the mock cluster answers offsets-for-times. */
  init_seen(&s, fx);
  opts = (eg_topic_reader_opts_t){.since_ms = (1000 + 20) * 1000};
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_OK);
  assert_int_equal(s.n, NMSG + 6 - 20);
  for (int i = 0; i < s.n; i++)
    assert_true(s.values[i] >= 20);
  /* A start after every message reads nothing. */
  init_seen(&s, fx);
  opts.since_ms = 4000000;
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_OK);
  assert_int_equal(s.n, 0);

  /* The callback's error stops the read and is returned. */
  init_seen(&s, fx);
  s.stop_after = 5;
  assert_int_equal(
      eg_topic_reader_read(tr, "t", NULL, on_msg, &s, err, sizeof(err)),
      EG_EEXIST);
  assert_int_equal(s.n, 5);
  eg_topic_reader_free(tr);
}

static void test_empty_and_missing(void **state) {
  struct fixture *fx = *state;
  eg_topic_reader_t *tr = new_reader(fx->bootstrap);
  eg_topic_reader_opts_t opts = {.timeout_ms = 5000};
  struct seen s;
  char err[EG_ERRBUF_LEN];

  init_seen(&s, fx);
  assert_int_equal(
      eg_topic_reader_read(tr, "empty", &opts, on_msg, &s, err, sizeof(err)),
      EG_OK);
  assert_int_equal(s.n, 0);
  /* The mock cluster creates unknown topics when asked for them; make it
   * answer as Kafka does for a topic that does not exist. */
  rd_kafka_mock_topic_set_error(fx->mc, "no-such-topic",
                                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  err[0] = '\0';
  assert_int_equal(eg_topic_reader_read(tr, "no-such-topic", &opts, on_msg, &s,
                                        err, sizeof(err)),
                   EG_ENOENT);
  assert_string_equal(err, "topic no-such-topic does not exist");
  assert_int_equal(
      eg_topic_reader_read(tr, NULL, &opts, on_msg, &s, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_topic_reader_read(tr, "", &opts, on_msg, &s, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, NULL, &s, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_topic_reader_read(NULL, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_EINVAL);
  assert_non_null(eg_topic_reader_handle(tr));
  assert_null(eg_topic_reader_handle(NULL));
  eg_topic_reader_free(tr);
}

static bool stop_now(void *ud) {
  int *calls = ud;
  return ++*calls > 0;
}

static void test_stop_and_timeout(void **state) {
  struct fixture *fx = *state;
  eg_topic_reader_t *tr;
  int calls = 0;
  eg_topic_reader_opts_t opts = {.stop = stop_now, .stop_ud = &calls};
  struct seen s;
  char err[EG_ERRBUF_LEN];
  long long t0;

  tr = new_reader(fx->bootstrap);
  init_seen(&s, fx);
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_EAGAIN);
  assert_true(calls > 0);
  eg_topic_reader_free(tr);

  /* Nothing listens on port 1. */
  tr = new_reader("127.0.0.1:1");
  opts = (eg_topic_reader_opts_t){.timeout_ms = 700};
  t0 = (long long)time(NULL);
  assert_int_equal(
      eg_topic_reader_read(tr, "t", &opts, on_msg, &s, err, sizeof(err)),
      EG_ETIMEDOUT);
  assert_true((long long)time(NULL) - t0 < 10);
  assert_non_null(strstr(err, "topic t: no metadata within 700 ms"));
  eg_topic_reader_free(tr);
}

static void test_new_args(void **state) {
  eg_topic_reader_t *tr = (eg_topic_reader_t *)1;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_topic_reader_new(NULL, &tr, err, sizeof(err)), EG_EINVAL);
  assert_null(tr);
  /* conf is consumed even when out is NULL. */
  assert_int_equal(eg_topic_reader_new(conf, NULL, err, sizeof(err)),
                   EG_EINVAL);
  /* librdkafka refuses to create a client whose TLS setup fails. */
  conf = rd_kafka_conf_new();
  assert_int_equal(
      rd_kafka_conf_set(conf, "security.protocol", "ssl", err, sizeof(err)),
      RD_KAFKA_CONF_OK);
  assert_int_equal(rd_kafka_conf_set(conf, "ssl.ca.location",
                                     "/nonexistent/ca.pem", err, sizeof(err)),
                   RD_KAFKA_CONF_OK);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  err[0] = '\0';
  assert_int_equal(eg_topic_reader_new(conf, &tr, err, sizeof(err)), EG_EINVAL);
  assert_null(tr);
  assert_non_null(strstr(err, "kafka client: "));
  eg_topic_reader_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_all),
      cmocka_unit_test(test_empty_and_missing),
      cmocka_unit_test(test_stop_and_timeout),
      cmocka_unit_test(test_new_args),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
