/* Tests for the command-line tools' plain-text messages. */
#include "eg/cli.h"
#include "eg/error.h"
#include "eg/process.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

#include <cmocka.h>

/* Messages go to a temporary file that the test reads back. */
static int out_fd = -1;
static char out_path[] = "/tmp/eg_test_cli_XXXXXX";

static int setup(void **state) {
  (void)state;
  out_fd = mkstemp(out_path);
  return out_fd >= 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  close(out_fd);
  unlink(out_path);
  return 0;
}

/* Returns what was written since the last call (static buffer). */
static const char *take(void) {
  static char buf[8192];
  off_t end = lseek(out_fd, 0, SEEK_CUR);
  ssize_t n;

  assert_true(end >= 0 && (size_t)end < sizeof(buf));
  n = pread(out_fd, buf, (size_t)end, 0);
  assert_int_equal(n, end);
  buf[n] = '\0';
  assert_int_equal(ftruncate(out_fd, 0), 0);
  assert_int_equal(lseek(out_fd, 0, SEEK_SET), 0);
  return buf;
}

static void test_levels(void **state) {
  (void)state;
  eg_cli_init("envgate-test", 0, out_fd, false);
  assert_int_equal(eg_cli_verbosity(), 0);
  eg_cli_error("cannot read %s", "envgate.events");
  eg_cli_warn("%d records skipped", 3);
  eg_cli_info("hidden");
  eg_cli_debug("hidden");
  assert_string_equal(take(),
                      "envgate-test: error: cannot read envgate.events\n"
                      "envgate-test: warning: 3 records skipped\n");
  eg_cli_init("envgate-test", 1, out_fd, false);
  eg_cli_info("read %d", 5);
  eg_cli_debug("hidden");
  assert_string_equal(take(), "envgate-test: read 5\n");
  eg_cli_init("envgate-test", 2, out_fd, false);
  eg_cli_debug("x=%s", "y");
  assert_string_equal(take(), "envgate-test: debug: x=y\n");
  eg_cli_init("envgate-test", -3, out_fd, false);
  assert_int_equal(eg_cli_verbosity(), 0);
}

static void test_one_line(void **state) {
  char big[6000];

  (void)state;
  eg_cli_init("p", 0, out_fd, false);
  eg_cli_error("a\nb\tc\033[31m%s", "\x7f");
  assert_string_equal(take(), "p: error: a?b?c?[31m?\n");
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  eg_cli_error("%s", big);
  {
    const char *got = take();
    size_t len = strlen(got);

    assert_int_equal(len, EG_CLI_LINE_MAX - 1);
    assert_int_equal(got[len - 1], '\n');
    assert_memory_equal(got, "p: error: xxx", 13);
  }
}

static void test_usage_error(void **state) {
  (void)state;
  eg_cli_init("envgate-audit", 0, out_fd, false);
  assert_int_equal(
      eg_cli_usage_error("--format %s: must be table, json or csv", "xml"),
      EG_EXIT_USAGE);
  assert_string_equal(take(), "envgate-audit: error: --format xml: must be "
                              "table, json or csv (see --help)\n");
}

static void test_load_config(void **state) {
  eg_config_t cfg;

  (void)state;
  eg_cli_init("envgate-audit", 0, out_fd, false);
  unsetenv("ENVGATE_WEBHOOK_SECRET");
  unsetenv("ENVGATE_WEBHOOK_SECRET_FILE");
  setenv("ENVGATE_LOG_LEVEL", "loud", 1);
  assert_int_equal(eg_cli_load_config(&cfg, EG_ROLE_AUDIT), EG_EXIT_USAGE);
  {
    const char *got = take();

    assert_non_null(
        strstr(got, "envgate-audit: error: ENVGATE_WEBHOOK_SECRET"));
    assert_non_null(
        strstr(got, "envgate-audit: error: ENVGATE_LOG_LEVEL=loud"));
  }
  setenv("ENVGATE_WEBHOOK_SECRET", "a-test-secret-of-some-length", 1);
  setenv("ENVGATE_LOG_LEVEL", "debug", 1);
  assert_int_equal(eg_cli_load_config(&cfg, EG_ROLE_AUDIT), EG_OK);
  assert_string_equal(take(), "");
  assert_int_equal(cfg.nwebhook_secrets, 1);
  assert_int_equal(eg_cli_verbosity(), 2);
  eg_config_cleanup(&cfg);
  unsetenv("ENVGATE_WEBHOOK_SECRET");
  unsetenv("ENVGATE_LOG_LEVEL");
}

static void test_progress(void **state) {
  (void)state;
  /* Quiet and not a terminal: nothing. */
  eg_cli_init("p", 0, out_fd, false);
  assert_false(eg_cli_progress_enabled());
  eg_cli_progress("reading t", 1, 2);
  eg_cli_progress_end();
  assert_string_equal(take(), "");

  /* -v, not a terminal: whole lines, at most one per 5 s. */
  eg_cli_init("p", 1, out_fd, false);
  assert_true(eg_cli_progress_enabled());
  eg_cli_progress("reading t", 1, 4);
  eg_cli_progress("reading t", 2, 4);
  eg_cli_progress_end();
  eg_cli_progress("reading u", 7, 0);
  eg_cli_progress_end();
  assert_string_equal(take(), "p: reading t: 1/4 (25%)\n"
                              "p: reading u: 7\n");

  /* A terminal: the line is redrawn in place and cleared at the end; a
   * message clears it first. */
  eg_cli_init("p", 0, out_fd, true);
  assert_true(eg_cli_progress_enabled());
  eg_cli_progress("reading t", 3, 3);
  eg_cli_warn("w");
  eg_cli_progress_end();
  assert_string_equal(take(), "\r\033[Kp: reading t: 3/3 (100%)"
                              "\r\033[Kp: warning: w\n"
                              "\r\033[K");
  eg_cli_progress_end();
  assert_string_equal(take(), "");
  eg_cli_progress(NULL, 1, 1);
  assert_string_equal(take(), "");
}

static void test_kafka_conf(void **state) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  char err[256];

  (void)state;
  eg_cli_init("p", 2, out_fd, false);
  eg_cli_kafka_conf(NULL);
  eg_cli_kafka_conf(conf);
  /* A client that cannot connect logs through the plain-text callback. */
  rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err));
  rd_kafka_conf_set(conf, "debug", "broker", err, sizeof(err));
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  assert_non_null(rk);
  rd_kafka_poll(rk, 500);
  rd_kafka_destroy(rk);
  assert_non_null(strstr(take(), "p: debug: kafka: "));
}

static void test_common_options(void **state) {
  char *argv[] = {"envgate-test", "--bogus", NULL};
  int verbosity = 0;
  int64_t ms = 0;

  (void)state;
  eg_cli_init("envgate-test", 0, out_fd, false);
  assert_int_equal(
      eg_cli_common_option('v', argv, "envgate-test", "usage\n", &verbosity),
      -1);
  assert_int_equal(verbosity, 1);
  optind = 2;
  assert_int_equal(
      eg_cli_common_option('?', argv, "envgate-test", "usage\n", &verbosity),
      EG_EXIT_USAGE);
  assert_string_equal(take(), "envgate-test: error: unknown or incomplete "
                              "option '--bogus' (see --help)\n");
  assert_int_equal(eg_cli_timeout_option("30s", 3600000, "1h", &ms), EG_OK);
  assert_int_equal(ms, 30000);
  assert_int_equal(eg_cli_timeout_option("2h", 3600000, "1h", &ms),
                   EG_EXIT_USAGE);
  assert_int_equal(eg_cli_timeout_option("10ms", 3600000, "1h", &ms),
                   EG_EXIT_USAGE);
  assert_string_equal(take(),
                      "envgate-test: error: --timeout 2h: expected a duration "
                      "between 100ms and 1h (see --help)\n"
                      "envgate-test: error: --timeout 10ms: expected a "
                      "duration between 100ms and 1h (see --help)\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_levels),         cmocka_unit_test(test_one_line),
      cmocka_unit_test(test_usage_error),    cmocka_unit_test(test_load_config),
      cmocka_unit_test(test_progress),       cmocka_unit_test(test_kafka_conf),
      cmocka_unit_test(test_common_options),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
