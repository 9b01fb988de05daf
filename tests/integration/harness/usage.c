/* Command-line checks shared by the tools' integration tests. */
#include "harness.h"

#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

void eg_it_check_usage(eg_it_t *it,
                       const char *prog,
                       const eg_it_usage_case_t *cases,
                       size_t n,
                       const char *const *help_lines) {
  char version[128];

  for (size_t i = 0; i < n; i++) {
    const char *argv[7] = {prog};
    eg_it_spawn_opts_t o = {.name = "usage", .argv = argv};
    eg_it_proc_t *p;
    char *log;
    size_t len;
    int status;

    for (int j = 0; j < 5 && cases[i].args[j] != NULL; j++)
      argv[j + 1] = cases[i].args[j];
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &status, &p));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), &log, &len));
    assert_string_equal(log, cases[i].err);
    free(log);
  }
  snprintf(version, sizeof(version), "%s %s\n", prog, EG_VERSION);
  for (int k = 0; k < 2; k++) {
    const char *argv[] = {prog, k == 0 ? "--version" : "--help", NULL};
    eg_it_spawn_opts_t o = {.name = "usage", .argv = argv};
    eg_it_proc_t *p;
    char *text;
    size_t len;
    int status;

    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &status, &p));
    assert_int_equal(status, 0);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), &text, &len));
    if (k == 0)
      assert_string_equal(text, version);
    else
      for (size_t h = 0; help_lines[h] != NULL; h++)
        assert_non_null(strstr(text, help_lines[h]));
    free(text);
  }
}
