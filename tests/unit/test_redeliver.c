/* Tests for the redelivery plan: paging back to a start time, grouping by
 * guid, and which deliveries GitHub is asked to redeliver. */
#include "eg/redeliver.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "oom_inject.h"
#include "jansson_fail.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

/* One delivery as GitHub lists it. */
static void item(char *out,
                 size_t len,
                 int id,
                 const char *guid,
                 int minute,
                 int code,
                 const char *event) {
  snprintf(out, len,
           "{\"id\":%d,\"guid\":\"%s\",\"delivered_at\":"
           "\"2026-01-01T00:%02d:00Z\",\"redelivery\":false,\"duration\":0.2,"
           "\"status\":\"%s\",\"status_code\":%d,\"event\":\"%s\","
           "\"action\":\"requested\",\"installation_id\":1,"
           "\"repository_id\":2,\"throttled_at\":null}",
           id, guid, minute,
           code >= 200 && code < 300 ? "OK" : "Invalid HTTP Response: 502",
           code, event);
}

#define DPR "deployment_protection_rule"

static void page(char *out, size_t len, const char *const *items, size_t n) {
  size_t used = (size_t)snprintf(out, len, "[");

  for (size_t i = 0; i < n; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s", i > 0 ? "," : "",
                             items[i]);
  snprintf(out + used, len - used, "]");
}

static void test_plan(void **state) {
  char it[12][512], p1[8192], p2[8192];
  const char *page1[6], *page2[6];
  eg_redeliver_t *r = NULL;
  bool more = false;
  char err[256];
  const eg_redeliver_item_t *x;

  (void)state;
  /* Newest first. g1: failed once. g2: failed, then redelivered OK. g3:
   * OK. g4: failed but another event. g5: failed twice. g6: failed before
   * the start time (minute 2 < 5). */
  item(it[0], 512, 20, "g5", 40, 500, DPR);
  item(it[1], 512, 19, "g2", 35, 200, DPR);
  item(it[2], 512, 18, "g5", 30, 502, DPR);
  item(it[3], 512, 17, "g4", 25, 502, "issues");
  item(it[4], 512, 16, "g3", 20, 200, DPR);
  item(it[5], 512, 15, "g2", 15, 503, DPR);
  item(it[6], 512, 14, "g1", 10, 502, DPR);
  item(it[7], 512, 13, "g6", 2, 502, DPR);
  for (int i = 0; i < 5; i++)
    page1[i] = it[i];
  page2[0] = it[5];
  page2[1] = it[6];
  page2[2] = it[7];
  page(p1, sizeof(p1), page1, 5);
  page(p2, sizeof(p2), page2, 3);

  assert_int_equal(eg_redeliver_new(T0 + 5 * 60000, &r), EG_OK);
  assert_int_equal(eg_redeliver_newest_ms(r), -1);
  assert_int_equal(
      eg_redeliver_add_page(r, p1, strlen(p1), &more, err, sizeof(err)), EG_OK);
  assert_true(more);
  assert_int_equal(
      eg_redeliver_add_page(r, p2, strlen(p2), &more, err, sizeof(err)), EG_OK);
  /* g6 is older than the start: no more pages needed. */
  assert_false(more);
  assert_int_equal(eg_redeliver_seen(r), 7);
  assert_int_equal(eg_redeliver_newest_ms(r), T0 + 40 * 60000);
  assert_int_equal(eg_redeliver_plan(r), EG_OK);
  assert_int_equal(eg_redeliver_count(r), 2);
  x = eg_redeliver_item(r, 0);
  assert_string_equal(x->guid, "g1");
  assert_int_equal(x->id, 14);
  assert_int_equal(x->status_code, 502);
  assert_string_equal(x->status, "Invalid HTTP Response: 502");
  assert_string_equal(x->action, "requested");
  assert_string_equal(x->delivered_at, "2026-01-01T00:10:00Z");
  assert_int_equal(x->attempts, 1);
  x = eg_redeliver_item(r, 1);
  assert_string_equal(x->guid, "g5");
  assert_int_equal(x->id, 20); /* the newest attempt */
  assert_int_equal(x->attempts, 2);
  assert_null(eg_redeliver_item(r, 2));

  /* An empty page ends the paging too. */
  assert_int_equal(eg_redeliver_add_page(r, "[]", 2, &more, err, sizeof(err)),
                   EG_OK);
  assert_false(more);
  /* Planning again gives the same plan. */
  assert_int_equal(eg_redeliver_plan(r), EG_OK);
  assert_int_equal(eg_redeliver_count(r), 2);
  eg_redeliver_free(r);
}

static void test_status_text(void **state) {
  const char *p = "[{\"id\":1,\"guid\":\"a\",\"delivered_at\":"
                  "\"2026-01-01T00:00:00Z\",\"status\":\"OK\","
                  "\"event\":\"" DPR "\"},"
                  "{\"id\":2,\"guid\":\"b\",\"delivered_at\":"
                  "\"2026-01-01T00:00:00Z\",\"status\":\"timed out\","
                  "\"status_code\":0,\"event\":\"" DPR "\"}]";
  eg_redeliver_t *r = NULL;
  bool more;

  (void)state;
  assert_int_equal(eg_redeliver_new(0, &r), EG_OK);
  assert_int_equal(eg_redeliver_add_page(r, p, strlen(p), &more, NULL, 0),
                   EG_OK);
  assert_true(more);
  assert_int_equal(eg_redeliver_plan(r), EG_OK);
  /* "OK" without a status_code counts as delivered; no answer does not. */
  assert_int_equal(eg_redeliver_count(r), 1);
  assert_string_equal(eg_redeliver_item(r, 0)->guid, "b");
  assert_int_equal(eg_redeliver_item(r, 0)->status_code, 0);
  assert_string_equal(eg_redeliver_item(r, 0)->action, "");
  eg_redeliver_free(r);
}

static void test_fixture(void **state) {
  eg_redeliver_t *r = NULL;
  char *text = malloc(65536);
  size_t len;
  bool more;
  FILE *f;

  (void)state;
  f = fopen(EG_FIXTURES_DIR "/rest-list-app-webhook-deliveries.200.json", "rb");
  assert_non_null(f);
  len = fread(text, 1, 65536, f);
  fclose(f);
  assert_int_equal(eg_redeliver_new(0, &r), EG_OK);
  assert_int_equal(eg_redeliver_add_page(r, text, len, &more, NULL, 0), EG_OK);
  assert_int_equal(eg_redeliver_seen(r), 2);
  assert_int_equal(eg_redeliver_plan(r), EG_OK);
  /* "issues" deliveries, both OK. */
  assert_int_equal(eg_redeliver_count(r), 0);
  eg_redeliver_free(r);
  free(text);
}

/* jansson's first allocation failing leaves its error code unset: that is
 * out of memory, not a page that does not parse. */
static void test_jansson_first_allocation(void **state) {
  eg_redeliver_t *r = NULL;
  bool more = true;
  int rc;

  (void)state;
  assert_int_equal(eg_redeliver_new(0, &r), EG_OK);
  json_set_alloc_funcs(fail_once_malloc, free);
  dirty_stack();
  jansson_fail_next = true;
  rc = eg_redeliver_add_page(r, "[]", 2, &more, NULL, 0);
  json_set_alloc_funcs(malloc, free);
  assert_false(jansson_fail_next); /* the allocation was made, and failed */
  assert_int_equal(rc, EG_ENOMEM);
  assert_false(more);
  eg_redeliver_free(r);
}

static void test_bad_pages(void **state) {
  static const char *const bad[] = {
      "",
      "{}",
      "[1]",
      "[{\"guid\":\"a\",\"delivered_at\":\"2026-01-01T00:00:00Z\"}]",
      "[{\"id\":0,\"guid\":\"a\",\"delivered_at\":\"2026-01-01T00:00:00Z\"}]",
      "[{\"id\":1,\"guid\":\"\",\"delivered_at\":\"2026-01-01T00:00:00Z\"}]",
      "[{\"id\":1,\"guid\":\"a\",\"delivered_at\":\"yesterday\"}]",
      "[{\"id\":1,\"guid\":\"a\"}]",
  };
  const char *good = "[{\"id\":1,\"guid\":\"a\",\"delivered_at\":"
                     "\"2026-01-01T00:00:00Z\",\"status_code\":500,"
                     "\"event\":\"" DPR "\"},{\"id\":2}]";
  eg_redeliver_t *r = NULL;
  bool more = true;
  char err[256];

  (void)state;
  assert_int_equal(eg_redeliver_new(0, &r), EG_OK);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    more = true;
    assert_int_equal(eg_redeliver_add_page(r, bad[i], strlen(bad[i]), &more,
                                           err, sizeof(err)),
                     EG_EPARSE);
    assert_false(more);
    assert_true(err[0] != '\0');
  }
  /* A page that fails half-way keeps nothing. */
  assert_int_equal(
      eg_redeliver_add_page(r, good, strlen(good), &more, err, sizeof(err)),
      EG_EPARSE);
  assert_string_equal(err, "hook deliveries[1]: needs an integer id, a guid "
                           "and an RFC 3339 delivered_at");
  assert_int_equal(eg_redeliver_seen(r), 0);
  assert_int_equal(eg_redeliver_newest_ms(r), -1);
  assert_int_equal(eg_redeliver_add_page(NULL, "[]", 2, &more, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_redeliver_add_page(r, "[]", 2, NULL, NULL, 0), EG_EINVAL);
  assert_int_equal(eg_redeliver_add_page(r, NULL, 2, &more, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_redeliver_new(0, NULL), EG_EINVAL);
  assert_int_equal(eg_redeliver_plan(NULL), EG_EINVAL);
  assert_int_equal(eg_redeliver_count(NULL), 0);
  assert_int_equal(eg_redeliver_seen(NULL), 0);
  assert_int_equal(eg_redeliver_newest_ms(NULL), -1);
  eg_redeliver_free(r);
  eg_redeliver_free(NULL);
}

#if OOM_INJECTION
/* jansson is not safe against failed allocations; keep it out. */
static void *jansson_malloc(size_t n) {
  return __libc_malloc(n);
}

static void jansson_free(void *p) {
  __libc_free(p);
}
#endif

static void test_oom(void **state) {
  (void)state;
#if !OOM_INJECTION
  skip();
#else
  char a[512], b[512], c[512], p[2048];
  const char *items[3] = {a, b, c};
  bool hit = true;

  if (!oom_works())
    skip();
  json_set_alloc_funcs(jansson_malloc, jansson_free);
  item(a, sizeof(a), 3, "g1", 3, 502, DPR);
  item(b, sizeof(b), 2, "g2", 2, 200, DPR);
  item(c, sizeof(c), 1, "g1", 1, 500, DPR);
  page(p, sizeof(p), items, 3);
  for (long steps = 0; hit; steps++) {
    eg_redeliver_t *r = NULL;
    bool more;
    int rc;

    oom_arm(steps);
    rc = eg_redeliver_new(0, &r);
    if (rc == EG_OK)
      rc = eg_redeliver_add_page(r, p, strlen(p), &more, NULL, 0);
    if (rc == EG_OK)
      rc = eg_redeliver_plan(r);
    hit = oom_disarm();
    if (hit) {
      assert_int_equal(rc, EG_ENOMEM);
    } else {
      assert_int_equal(rc, EG_OK);
      assert_int_equal(eg_redeliver_count(r), 1);
      assert_int_equal(eg_redeliver_item(r, 0)->id, 3);
    }
    eg_redeliver_free(r);
  }
  json_set_alloc_funcs(malloc, free);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan),
      cmocka_unit_test(test_status_text),
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_bad_pages),
      cmocka_unit_test(test_jansson_first_allocation),
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
