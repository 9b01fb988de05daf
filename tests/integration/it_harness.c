/* The integration-test harness itself: child process control and its
 * failure paths, environment handling, scratch directory lifecycle, the
 * death of children with the test, and the HTTP client (against an
 * in-process libmicrohttpd server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>

#include "eg/error.h"
#include "harness.h"

static bool path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void test_missing_binary_is_an_error(void **state) {
  eg_it_t *it = *state;
  const char *argv[] = {"envgate-no-such-binary", NULL};
  eg_it_spawn_opts_t o = {.name = "missing", .argv = argv};
  eg_it_proc_t *p = (eg_it_proc_t *)1;

  assert_int_equal(eg_it_spawn(it, &o, &p), EG_ENOENT);
  assert_null(p);
  assert_non_null(strstr(eg_it_errmsg(it), "envgate-no-such-binary: not "
                                           "found"));
  assert_non_null(strstr(eg_it_errmsg(it), EG_IT_BIN_DIR));
  eg_it_pass(it);
}

static void test_early_exit_and_ready_timeout(void **state) {
  eg_it_t *it = *state;
  eg_it_proc_t *p;
  long long t0;

  {
    const char *argv[] = {"sh", "-c", "echo boom >&2; exit 3", NULL};
    eg_it_spawn_opts_t o = {.name = "early",
                            .argv = argv,
                            .ready_file = eg_it_path(it, "never.addr")};
    assert_int_equal(eg_it_spawn(it, &o, &p), EG_EUNAVAIL);
    assert_non_null(strstr(eg_it_errmsg(it), "exited with status 3 before"));
    assert_int_equal(eg_it_proc_log_count(p, "boom"), 1);
  }
  {
    const char *argv[] = {"sleep", "30", NULL};
    eg_it_spawn_opts_t o = {.name = "slow",
                            .argv = argv,
                            .ready_log = "never printed",
                            .ready_timeout_ms = 300};
    t0 = eg_it_now_ms();
    assert_int_equal(eg_it_spawn(it, &o, &p), EG_ETIMEDOUT);
    assert_true(eg_it_now_ms() - t0 >= eg_it_timeout_ms(300));
    assert_non_null(strstr(eg_it_errmsg(it), "never printed"));
    assert_true(eg_it_proc_is_running(p));
    /* sleep dies of SIGTERM: collected here, so teardown stays clean. */
    assert_int_equal(eg_it_proc_stop(p, 5000, NULL), EG_OK);
  }
  eg_it_pass(it);
}

static void test_ready_file_and_logs(void **state) {
  eg_it_t *it = *state;
  const char *addr = eg_it_path(it, "child.addr");
  char script[768];
  eg_it_proc_t *p;
  int wstatus;

  /* Writes the address through rename, logs, then waits for SIGTERM. */
  snprintf(script, sizeof(script),
           "trap 'echo bye >&2; exit 0' TERM; echo 127.0.0.1:4242 > %s.tmp; "
           "mv %s.tmp %s; echo '{\"msg\":\"other\",\"port\":1}' >&2; "
           "echo '{\"msg\":\"listening\",\"port\":4343}' >&2; "
           "echo '{\"msg\":\"no port\"}' >&2; "
           "echo '{\"msg\":\"x\",\"port\":9}' >&2; "
           "echo started >&2; echo out; "
           "while :; do sleep 0.05; done",
           addr, addr, addr);
  {
    const char *argv[] = {"sh", "-c", script, NULL};
    eg_it_spawn_opts_t o = {.name = "child",
                            .argv = argv,
                            .ready_file = addr,
                            .ready_log = "started"};
    EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
  }
  assert_string_equal(eg_it_proc_addr(p), "127.0.0.1:4242");
  assert_true(eg_it_proc_is_running(p));
  assert_int_equal(eg_it_proc_log_count(p, "started"), 1);
  assert_int_equal(eg_it_proc_log_count(p, "out"), 0); /* stdout is apart */
  /* The port of the line with that message, not of another line. */
  assert_int_equal(eg_it_proc_log_port(p, "listening"), 4343);
  assert_int_equal(eg_it_proc_log_port(p, "no port"), 0);
  assert_int_equal(eg_it_proc_log_port(p, "never logged"), 0);
  assert_int_equal(eg_it_proc_wait_log(p, "no such line", 200), EG_ETIMEDOUT);
  assert_int_equal(eg_it_proc_wait(p, 100, &wstatus), EG_ETIMEDOUT);
  EG_IT_MUST(it, eg_it_proc_signal(p, SIGTERM));
  EG_IT_MUST(it, eg_it_proc_wait_log(p, "bye", 5000));
  EG_IT_MUST(it, eg_it_proc_wait(p, 5000, &wstatus));
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), 0);
  assert_false(eg_it_proc_is_running(p));
  assert_int_equal(eg_it_proc_signal(p, SIGTERM), EG_EINVAL);
  assert_int_equal(eg_it_proc_wait_log(p, "never", 1000), EG_EUNAVAIL);
  {
    char *text = NULL;
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &text, NULL));
    assert_string_equal(text, "out\n");
    free(text);
  }
  eg_it_pass(it);
}

static void test_stop_kills_a_child_ignoring_sigterm(void **state) {
  eg_it_t *it = *state;
  const char *argv[] = {"sh", "-c",
                        "trap '' TERM; echo up >&2; while :; do sleep 0.05; "
                        "done",
                        NULL};
  eg_it_spawn_opts_t o = {.name = "stubborn", .argv = argv, .ready_log = "up"};
  eg_it_proc_t *p;
  int wstatus = 0;

  EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
  assert_int_equal(eg_it_proc_stop(p, 300, &wstatus), EG_ETIMEDOUT);
  assert_true(WIFSIGNALED(wstatus));
  assert_int_equal(WTERMSIG(wstatus), SIGKILL);
  assert_false(eg_it_proc_is_running(p));
  eg_it_pass(it);
}

static void test_environment(void **state) {
  eg_it_t *it = *state;
  const char *argv[] = {"sh", "-c", "env | sort", NULL};
  const char *env[] = {
      "EG_IT_ADDED=yes",         "EG_IT_OVERRIDE=new",   "EG_IT_GONE",
      "ENVGATE_LOG_LEVEL=debug", "EG_IT_TWICE=first",    "EG_IT_TWICE=second",
      "EG_IT_SET_THEN_UNSET=on", "EG_IT_SET_THEN_UNSET", NULL};
  eg_it_spawn_opts_t o = {.name = "env", .argv = argv, .env = env};
  eg_it_proc_t *p;
  char *text = NULL;
  int wstatus;

  setenv("ENVGATE_APP_ID", "from-the-developer-shell", 1);
  setenv("EG_IT_OVERRIDE", "old", 1);
  setenv("EG_IT_GONE", "present", 1);
  EG_IT_MUST(it, eg_it_run(it, &o, 5000, &wstatus, &p));
  unsetenv("ENVGATE_APP_ID");
  unsetenv("EG_IT_OVERRIDE");
  unsetenv("EG_IT_GONE");
  assert_int_equal(WEXITSTATUS(wstatus), 0);
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &text, NULL));
  assert_non_null(strstr(text, "EG_IT_ADDED=yes\n"));
  assert_non_null(strstr(text, "EG_IT_OVERRIDE=new\n"));
  assert_null(strstr(text, "EG_IT_OVERRIDE=old"));
  assert_null(strstr(text, "EG_IT_GONE"));
  assert_null(strstr(text, "ENVGATE_APP_ID"));
  assert_non_null(strstr(text, "ENVGATE_LOG_LEVEL=debug\n"));
  /* The last entry for a variable wins, as eg_it_stack_worker's overrides
   * need. */
  assert_non_null(strstr(text, "EG_IT_TWICE=second\n"));
  assert_null(strstr(text, "EG_IT_TWICE=first"));
  assert_null(strstr(text, "EG_IT_SET_THEN_UNSET"));
  assert_non_null(strstr(text, "PATH="));
  free(text);
  eg_it_pass(it);
}

static void test_scratch_lifecycle(void **state) {
  eg_it_t *it = *state;
  eg_it_t *inner;
  char kept[4096];
  const char *path;
  char *text = NULL;
  size_t len = 0;

  EG_IT_MUST(it, eg_it_write_file(it, "policy.json", "{}", 2, &path));
  EG_IT_MUST(it, eg_it_read_file(it, path, &text, &len));
  assert_int_equal(len, 2);
  assert_string_equal(text, "{}");
  free(text);
  assert_int_equal(eg_it_read_file(it, eg_it_path(it, "absent"), &text, &len),
                   EG_ENOENT);

  /* Passed and clean: the directory goes. */
  assert_int_equal(eg_it_begin("inner-pass", &inner), EG_OK);
  snprintf(kept, sizeof(kept), "%s", eg_it_dir(inner));
  assert_true(path_exists(kept));
  eg_it_pass(inner);
  assert_int_equal(eg_it_end(inner), 0);
  assert_false(path_exists(kept));

  /* Not passed: kept for a post-mortem. */
  assert_int_equal(eg_it_begin("inner-fail", &inner), EG_OK);
  snprintf(kept, sizeof(kept), "%s", eg_it_dir(inner));
  assert_int_equal(eg_it_end(inner), 0);
  assert_true(path_exists(kept));
  assert_int_equal(rmdir(kept), 0);

  /* Passed, but a child died badly and nobody looked: teardown fails and
   * the directory is kept. */
  assert_int_equal(eg_it_begin("inner-crash", &inner), EG_OK);
  snprintf(kept, sizeof(kept), "%s", eg_it_dir(inner));
  {
    const char *argv[] = {"sh", "-c", "exit 7", NULL};
    eg_it_spawn_opts_t o = {.name = "crasher", .argv = argv};
    eg_it_proc_t *p;
    EG_IT_MUST(inner, eg_it_spawn(inner, &o, &p));
    while (eg_it_proc_is_running(p))
      eg_it_sleep_ms(10);
  }
  eg_it_pass(inner);
  assert_int_equal(eg_it_end(inner), -1);
  assert_true(path_exists(kept));
  {
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kept);
    assert_int_equal(system(cmd), 0);
  }
  eg_it_pass(it);
}

/* A sanitizer report in a child's log fails the teardown, even when the
 * child exited with the status the test expected (UBSan exits with 1, as
 * our tools do on failure). */
static void test_sanitizer_reports_fail_the_test(void **state) {
  static const char *const reports[] = {
      "==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x1",
      "==7==ERROR: LeakSanitizer: detected memory leaks",
      "AddressSanitizer:DEADLYSIGNAL",
      "common/src/x.c:1:2: runtime error: signed integer overflow"};
  eg_it_t *it = *state;

  for (size_t i = 0; i <= sizeof(reports) / sizeof(reports[0]); i++) {
    /* The last round is a clean log, which passes. */
    bool clean = i == sizeof(reports) / sizeof(reports[0]);
    char script[256];
    const char *argv[] = {"sh", "-c", script, NULL};
    eg_it_spawn_opts_t o = {.name = "reporter", .argv = argv};
    eg_it_t *inner;
    eg_it_proc_t *p;
    char kept[4096];
    char cmd[4200];
    int wstatus;

    snprintf(script, sizeof(script),
             "echo '{\"msg\":\"starting\"}' >&2; echo '%s' >&2; exit 1",
             clean ? "{\"msg\":\"runtime\"}" : reports[i]);
    assert_int_equal(eg_it_begin("inner-report", &inner), EG_OK);
    snprintf(kept, sizeof(kept), "%s", eg_it_dir(inner));
    EG_IT_MUST(inner, eg_it_run(inner, &o, 5000, &wstatus, &p));
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1);
    eg_it_pass(inner);
    assert_int_equal(eg_it_end(inner), clean ? 0 : -1);
    assert_int_equal(path_exists(kept), !clean);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kept);
    assert_int_equal(system(cmd), 0);
  }
  eg_it_pass(it);
}

/* EG_IT_VALGRIND runs our binaries under memcheck, with its report in
 * <name>.valgrind; a build with EG_SANITIZE refuses it. */
static void test_valgrind_wrapper(void **state) {
  eg_it_t *it = *state;
  const char *argv[] = {"envgate-audit", "--version", NULL};
  eg_it_spawn_opts_t o = {.name = "vg", .argv = argv};
  eg_it_proc_t *p;
  int wstatus;
  int rc;

  assert_int_equal(setenv("EG_IT_VALGRIND", "1", 1), 0);
  rc = eg_it_run(it, &o, 60000, &wstatus, &p);
  unsetenv("EG_IT_VALGRIND");
#ifdef __SANITIZE_ADDRESS__
  assert_int_equal(rc, EG_EINVAL);
  assert_non_null(strstr(eg_it_errmsg(it), "without EG_SANITIZE"));
#else
  {
    char *text = NULL;

    EG_IT_MUST(it, rc);
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    EG_IT_MUST(it,
               eg_it_read_file(it, eg_it_path(it, "vg.valgrind"), &text, NULL));
    assert_non_null(strstr(text, "Memcheck"));
    assert_non_null(strstr(text, "ERROR SUMMARY: 0 errors"));
    free(text);
    /* The program's own output is untouched. */
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &text, NULL));
    assert_non_null(strstr(text, EG_VERSION));
    free(text);
  }
#endif
  eg_it_pass(it);
}

/* A test process that dies without any cleanup takes its children along
 * (PR_SET_PDEATHSIG). */
static void test_children_die_with_the_test(void **state) {
  eg_it_t *it = *state;
  const char *pidfile = eg_it_path(it, "grandchild.pid");
  long long deadline;
  char *text = NULL;
  pid_t sub;
  pid_t child;
  int wstatus;

  sub = fork();
  assert_true(sub >= 0);
  if (sub == 0) {
    eg_it_t *inner;
    eg_it_proc_t *p;
    const char *argv[] = {"sleep", "60", NULL};
    eg_it_spawn_opts_t o = {.name = "orphan", .argv = argv};
    FILE *f;

    if (eg_it_begin("inner-killed", &inner) != EG_OK ||
        eg_it_spawn(inner, &o, &p) != EG_OK)
      _exit(1);
    f = fopen(pidfile, "w");
    if (f == NULL)
      _exit(1);
    fprintf(f, "%ld\n%s\n", (long)eg_it_proc_pid(p), eg_it_dir(inner));
    fclose(f);
    raise(SIGKILL); /* no atexit, no teardown */
    _exit(1);
  }
  assert_int_equal(waitpid(sub, &wstatus, 0), sub);
  assert_true(WIFSIGNALED(wstatus));
  EG_IT_MUST(it, eg_it_read_file(it, pidfile, &text, NULL));
  child = (pid_t)strtol(text, NULL, 10);
  assert_true(child > 0);
  /* The orphan is re-parented and reaped by init once killed. */
  deadline = eg_it_now_ms() + eg_it_timeout_ms(5000);
  while (kill(child, 0) == 0 && eg_it_now_ms() < deadline)
    eg_it_sleep_ms(10);
  assert_int_equal(kill(child, 0), -1);
  assert_int_equal(errno, ESRCH);
  {
    const char *nl = strchr(text, '\n');
    char dir[4096];
    char cmd[4200];

    assert_non_null(nl);
    snprintf(dir, sizeof(dir), "%s", nl + 1);
    dir[strcspn(dir, "\n")] = '\0';
    assert_true(dir[0] == '/' && path_exists(dir));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
  }
  free(text);
  eg_it_pass(it);
}

/* ---- HTTP, against an in-process server ---- */

struct server {
  struct MHD_Daemon *d;
  int port;
  int ready_calls; /* GET /ready answers 503 three times, then 200 */
};

struct upload {
  char buf[8192];
  size_t len;
};

static enum MHD_Result handle(void *cls,
                              struct MHD_Connection *conn,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *data,
                              size_t *data_size,
                              void **con_cls) {
  struct server *srv = cls;
  struct upload *up = *con_cls;
  struct MHD_Response *resp;
  const char *ctype;
  const char *expect;
  const char *xtest;
  char body[9000];
  unsigned status = MHD_HTTP_OK;
  enum MHD_Result ret;

  (void)version;
  if (up == NULL) {
    up = calloc(1, sizeof(*up));
    if (up == NULL)
      return MHD_NO;
    *con_cls = up;
    return MHD_YES;
  }
  if (*data_size > 0) {
    size_t n = *data_size;
    if (n > sizeof(up->buf) - 1 - up->len)
      n = sizeof(up->buf) - 1 - up->len;
    memcpy(up->buf + up->len, data, n);
    up->len += n;
    *data_size = 0;
    return MHD_YES;
  }
  ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
  xtest = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
  /* Scaled as the client's timeout is, so that 300 ms stays too short
   * under any EG_TEST_TIMEOUT_MULTIPLIER. */
  if (strcmp(url, "/slow") == 0)
    eg_it_sleep_ms(eg_it_timeout_ms(1500));
  if (strcmp(url, "/ready") == 0 && ++srv->ready_calls <= 3)
    status = MHD_HTTP_SERVICE_UNAVAILABLE;
  if (strcmp(method, "POST") == 0)
    status = MHD_HTTP_CREATED;
  snprintf(body, sizeof(body), "%s %s ctype=%s expect=%s xtest=%s len=%zu",
           method, url, ctype != NULL ? ctype : "-",
           expect != NULL ? expect : "-", xtest != NULL ? xtest : "-", up->len);
  resp = MHD_create_response_from_buffer(strlen(body), body,
                                         MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(resp, "X-Echo", "yes");
  ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void completed(void *cls,
                      struct MHD_Connection *conn,
                      void **con_cls,
                      enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)conn;
  (void)code;
  free(*con_cls);
  *con_cls = NULL;
}

static void server_start(struct server *srv) {
  const union MHD_DaemonInfo *info;

  memset(srv, 0, sizeof(*srv));
  srv->d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
      NULL, handle, srv, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
      MHD_OPTION_END);
  assert_non_null(srv->d);
  info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
  assert_non_null(info);
  srv->port = info->port;
  assert_true(srv->port > 0);
}

static void test_http_client(void **state) {
  eg_it_t *it = *state;
  struct server srv;
  eg_it_http_resp_t r;
  char url[128];
  char big[2000];
  int port;

  server_start(&srv);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", srv.port);
  EG_IT_MUST(it, eg_it_http(it, "GET", url, NULL, NULL, 0, 5000, &r));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "GET /hello ctype=- expect=- xtest=- len=0");
  assert_int_equal(r.body_len, strlen(r.body));
  assert_string_equal(eg_it_http_header(&r, "x-echo"), "yes");
  assert_null(eg_it_http_header(&r, "X-Missing"));
  eg_it_http_resp_cleanup(&r);

  /* A large body goes without Expect: 100-continue or a form type. */
  memset(big, 'a', sizeof(big));
  {
    const char *headers[] = {"X-Test: 42", NULL};
    EG_IT_MUST(
        it, eg_it_http(it, "POST", url, headers, big, sizeof(big), 5000, &r));
  }
  assert_int_equal(r.status, 201);
  assert_string_equal(r.body, "POST /hello ctype=- expect=- xtest=42 len=2000");
  eg_it_http_resp_cleanup(&r);
  {
    const char *headers[] = {"Content-Type: application/json", NULL};
    EG_IT_MUST(it, eg_it_http(it, "PUT", url, headers, "{}", 2, 5000, &r));
  }
  assert_int_equal(r.status, 200);
  assert_string_equal(
      r.body, "PUT /hello ctype=application/json expect=- xtest=- len=2");
  eg_it_http_resp_cleanup(&r);

  /* Failures: too slow, nobody listening. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", srv.port);
  assert_int_equal(eg_it_http(it, "GET", url, NULL, NULL, 0, 300, &r),
                   EG_ETIMEDOUT);
  assert_null(r.body);
  EG_IT_MUST(it, eg_it_free_port(it, &port));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
  assert_int_equal(eg_it_http(it, "GET", url, NULL, NULL, 0, 2000, &r),
                   EG_EUNAVAIL);

  /* ready_url waits through the 503s. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/ready", srv.port);
  {
    const char *argv[] = {"sleep", "30", NULL};
    eg_it_spawn_opts_t o = {.name = "web", .argv = argv, .ready_url = url};
    eg_it_proc_t *p;
    EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
    assert_int_equal(srv.ready_calls, 4);
    assert_int_equal(eg_it_proc_stop(p, 5000, NULL), EG_OK);
  }
  MHD_stop_daemon(srv.d);
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_missing_binary_is_an_error,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_early_exit_and_ready_timeout,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_ready_file_and_logs, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_stop_kills_a_child_ignoring_sigterm,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_environment, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_scratch_lifecycle, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_sanitizer_reports_fail_the_test,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_valgrind_wrapper, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_children_die_with_the_test,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_http_client, eg_it_setup,
                                      eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
