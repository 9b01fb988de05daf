/* Tests for the librdkafka configuration builder. */
#include "eg/kafka.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void
expect_setting(rd_kafka_conf_t *conf, const char *key, const char *want) {
  char val[256];
  size_t len = sizeof(val);

  assert_int_equal(rd_kafka_conf_get(conf, key, val, &len), RD_KAFKA_CONF_OK);
  assert_string_equal(val, want);
}

static char *write_file(const char *text) {
  char *path = strdup("/tmp/eg_test_kafka_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void test_producer_defaults(void **state) {
  eg_config_t cfg = {.kafka_brokers = "127.0.0.1:9"};
  rd_kafka_conf_t *conf = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_PRODUCER, NULL, &conf, err, sizeof(err)),
      EG_OK);
  expect_setting(conf, "bootstrap.servers", "127.0.0.1:9");
  expect_setting(conf, "enable.idempotence", "true");
  expect_setting(conf, "acks", "-1");
  expect_setting(conf, "linger.ms", "0");
  rd_kafka_conf_destroy(conf);
}

/* The same guarantees with a linger; the extra file may still change it. */
static void test_batch_producer_defaults(void **state) {
  char *path = write_file("linger.ms=20\n");
  eg_config_t cfg = {.kafka_brokers = "127.0.0.1:9"};
  rd_kafka_conf_t *conf = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_kafka_conf_new(&cfg, EG_KAFKA_BATCH_PRODUCER, NULL, &conf,
                                     err, sizeof(err)),
                   EG_OK);
  expect_setting(conf, "enable.idempotence", "true");
  expect_setting(conf, "acks", "-1");
  expect_setting(conf, "message.timeout.ms", "30000");
  expect_setting(conf, "linger.ms", "5");
  rd_kafka_conf_destroy(conf);
  cfg.kafka_config_file = path;
  assert_int_equal(eg_kafka_conf_new(&cfg, EG_KAFKA_BATCH_PRODUCER, NULL, &conf,
                                     err, sizeof(err)),
                   EG_OK);
  expect_setting(conf, "linger.ms", "20");
  rd_kafka_conf_destroy(conf);
  unlink(path);
  free(path);
}

static void test_consumer_defaults(void **state) {
  eg_config_t cfg = {.kafka_brokers = "127.0.0.1:9"};
  rd_kafka_conf_t *conf = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_CONSUMER, NULL, &conf, err, sizeof(err)),
      EG_OK);
  expect_setting(conf, "group.id", "envgate-workers");
  /* librdkafka reports "earliest" by its alias. */
  expect_setting(conf, "auto.offset.reset", "smallest");
  expect_setting(conf, "enable.auto.offset.store", "false");
  rd_kafka_conf_destroy(conf);
}

static void test_extra_file(void **state) {
  char *path = write_file("# TLS for production\n\n"
                          "  security.protocol = plaintext \n"
                          "session.timeout.ms=6000\r\n");
  eg_config_t cfg = {.kafka_brokers = "b:9092", .kafka_config_file = path};
  rd_kafka_conf_t *conf = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_CONSUMER, "g", &conf, err, sizeof(err)),
      EG_OK);
  expect_setting(conf, "session.timeout.ms", "6000");
  expect_setting(conf, "group.id", "g");
  rd_kafka_conf_destroy(conf);
  unlink(path);
  free(path);
}

static void test_extra_file_errors(void **state) {
  static const struct {
    const char *text;
    const char *expect; /* substring of the error */
  } cases[] = {
      {"acks=1\n", "acks is set by envgate"},
      {"enable.idempotence=false\n", "enable.idempotence is set by envgate"},
      {"group.id=other\n", "group.id is set by envgate"},
      {"no equals sign\n", ":1: expected key=value"},
      {"# ok\nno.such.key=supersecretvalue\n", ":2: invalid setting for "
                                               "no.such.key"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *path = write_file(cases[i].text);
    eg_config_t cfg = {.kafka_brokers = "b:9092", .kafka_config_file = path};
    rd_kafka_conf_t *conf = NULL;
    char err[EG_ERRBUF_LEN] = "";

    assert_int_equal(eg_kafka_conf_new(&cfg, EG_KAFKA_PRODUCER, NULL, &conf,
                                       err, sizeof(err)),
                     EG_EINVAL);
    assert_null(conf);
    assert_non_null(strstr(err, cases[i].expect));
    /* Values never appear in errors: they may be passwords. */
    assert_null(strstr(err, "supersecretvalue"));
    unlink(path);
    free(path);
  }
}

static void test_missing_file_and_args(void **state) {
  eg_config_t cfg = {.kafka_brokers = "b:9092",
                     .kafka_config_file = "/nonexistent/kafka.conf"};
  rd_kafka_conf_t *conf = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_PRODUCER, NULL, &conf, err, sizeof(err)),
      EG_EIO);
  assert_null(conf);
  assert_int_equal(
      eg_kafka_conf_new(NULL, EG_KAFKA_PRODUCER, NULL, &conf, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_PRODUCER, NULL, NULL, err, sizeof(err)),
      EG_EINVAL);
}

static void test_ping_unreachable(void **state) {
  eg_config_t cfg = {.kafka_brokers = "127.0.0.1:1"};
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_t *rk = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_kafka_conf_new(&cfg, EG_KAFKA_PRODUCER, NULL, &conf, err, sizeof(err)),
      EG_OK);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  assert_int_equal(eg_kafka_new(RD_KAFKA_PRODUCER, conf, &rk, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(eg_kafka_ping(rk, 200), EG_EUNAVAIL);
  rd_kafka_destroy(rk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_producer_defaults),
      cmocka_unit_test(test_batch_producer_defaults),
      cmocka_unit_test(test_consumer_defaults),
      cmocka_unit_test(test_extra_file),
      cmocka_unit_test(test_extra_file_errors),
      cmocka_unit_test(test_missing_file_and_args),
      cmocka_unit_test(test_ping_unreachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
