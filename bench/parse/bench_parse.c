/* Parse benchmark for the ingress hot path: jansson's tree vs cJSON's tree
 * vs yajl streaming (syntax only: the floor of the scanner envgate used
 * before) vs eg_event_parse() (simdjson + field extraction + rule 1
 * validation), on the same bodies in the same run.
 * usage: bench_parse [-c N] [payload.json ...] (see docs/parsing.md)
 * -c N calls each parser N times without timing, for counting instructions
 * per parse under valgrind --tool=callgrind. */
#include "eg/error.h"
#include "eg/event.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_YAJL
#include <yajl/yajl_parse.h>
#endif
#ifdef HAVE_CJSON
#include <cjson/cJSON.h>
#endif

#define API     "https://api.github.com"
#define ROUNDS  11
#define ROUND_S 0.05 /* target length of one timed round */

static volatile uintptr_t sink;

/* CPU time of this thread: on a shared 2-core box this is much steadier
 * than wall time, which also counts time spent descheduled. */
static double now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each function parses the body once and returns non-zero on success. */
typedef int (*parse_fn)(const char *body, size_t len);

static int run_jansson(const char *body, size_t len) {
  json_error_t jerr;
  json_t *root = json_loadb(body, len, 0, &jerr);

  if (root == NULL)
    return 0;
  sink += (uintptr_t)json_object_size(root);
  json_decref(root);
  return 1;
}

static const char *jstr(json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* The tree plus the same lookups eg_event_parse does (no validation). */
static int run_jansson_fields(const char *body, size_t len) {
  json_error_t jerr;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *repo;
  const char *s;

  if (root == NULL)
    return 0;
  repo = json_object_get(root, "repository");
  s = jstr(root, "action");
  sink += (uintptr_t)(s != NULL ? strlen(s) : 0);
  sink += (uintptr_t)(jstr(root, "environment") != NULL);
  sink += (uintptr_t)(jstr(root, "sha") != NULL);
  sink += (uintptr_t)(jstr(root, "ref") != NULL);
  sink += (uintptr_t)(jstr(root, "deployment_callback_url") != NULL);
  sink += (uintptr_t)json_integer_value(
      json_object_get(json_object_get(root, "installation"), "id"));
  sink += (uintptr_t)json_integer_value(json_object_get(repo, "id"));
  sink += (uintptr_t)(jstr(repo, "name") != NULL);
  sink += (uintptr_t)(jstr(repo, "full_name") != NULL);
  sink += (uintptr_t)(jstr(json_object_get(repo, "owner"), "login") != NULL);
  sink += (uintptr_t)json_integer_value(
      json_object_get(json_object_get(root, "workflow_run"), "id"));
  json_decref(root);
  return 1;
}

#ifdef HAVE_CJSON
static int run_cjson(const char *body, size_t len) {
  cJSON *root = cJSON_ParseWithLength(body, len);

  if (root == NULL)
    return 0;
  sink += (uintptr_t)cJSON_GetArraySize(root);
  cJSON_Delete(root);
  return 1;
}
#endif

#ifdef HAVE_YAJL
/* yajl with no callbacks: the floor of the yajl scanner envgate used
 * before simdjson. */
static int run_yajl_syntax(const char *body, size_t len) {
  yajl_handle h = yajl_alloc(NULL, NULL, NULL);
  int ok;

  if (h == NULL)
    return 0;
  ok = yajl_parse(h, (const unsigned char *)body, len) == yajl_status_ok &&
       yajl_complete_parse(h) == yajl_status_ok;
  yajl_free(h);
  return ok;
}
#endif

static int run_event(const char *body, size_t len) {
  eg_event_t ev;

  if (eg_event_parse(body, len, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, NULL,
                     0) != EG_OK)
    return 0;
  sink += (uintptr_t)ev.run_id;
  return 1;
}

struct bench {
  const char *name;
  parse_fn fn;
};

static const struct bench benches[] = {
    {"jansson json_loadb + decref", run_jansson},
    {"jansson + field lookups", run_jansson_fields},
#ifdef HAVE_CJSON
    {"cJSON ParseWithLength + Delete", run_cjson},
#endif
#ifdef HAVE_YAJL
    {"yajl syntax only (no callbacks)", run_yajl_syntax},
#endif
    {"eg_event_parse (simdjson+rules)", run_event},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Median and minimum microseconds per parse over ROUNDS rounds. */
static int
measure(parse_fn fn, const char *body, size_t len, double *med, double *min) {
  double t[ROUNDS];
  long iters = 1;
  double t0;

  if (!fn(body, len))
    return -1;
  /* Calibrate: grow the count until one round takes ROUND_S. */
  for (;;) {
    t0 = now();
    for (long i = 0; i < iters; i++)
      fn(body, len);
    if (now() - t0 >= ROUND_S / 4)
      break;
    iters *= 2;
  }
  iters = (long)((double)iters * ROUND_S / ((now() - t0) + 1e-9)) + 1;
  for (int r = 0; r < ROUNDS; r++) {
    t0 = now();
    for (long i = 0; i < iters; i++)
      fn(body, len);
    t[r] = (now() - t0) * 1e6 / (double)iters;
  }
  qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
  *med = t[ROUNDS / 2];
  *min = t[0];
  return 0;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;

  if (f == NULL)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
    rewind(f);
    buf = malloc((size_t)n);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
      free(buf);
      buf = NULL;
    }
    *len = (size_t)n;
  }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  static const char *def[] = {
      "../../tests/data/deployment_protection_rule.requested.realistic.json"};
  const char **files = def;
  int nfiles = 1;
  long count = 0;
  size_t nb = sizeof(benches) / sizeof(benches[0]);

  if (argc > 2 && strcmp(argv[1], "-c") == 0) {
    count = strtol(argv[2], NULL, 10);
    if (count <= 0) {
      fprintf(stderr, "bench_parse: error: -c needs a positive count\n");
      return 2;
    }
    argc -= 2;
    argv += 2;
  }
  if (argc > 1) {
    files = (const char **)argv + 1;
    nfiles = argc - 1;
  }
  if (count > 0) {
    for (int f = 0; f < nfiles; f++) {
      size_t len = 0;
      char *body = slurp(files[f], &len);

      if (body == NULL) {
        fprintf(stderr, "bench_parse: error: cannot read %s\n", files[f]);
        return 1;
      }
      for (size_t b = 0; b < nb; b++) {
        for (long i = 0; i < count; i++)
          benches[b].fn(body, len);
      }
      free(body);
    }
    return 0;
  }

  printf("# %d rounds of ~%.0f ms thread CPU time each; median (min) us "
         "per parse\n",
         ROUNDS, ROUND_S * 1e3);
  for (int f = 0; f < nfiles; f++) {
    size_t len = 0;
    char *body = slurp(files[f], &len);
    double base_med = 0;

    if (body == NULL) {
      fprintf(stderr, "bench_parse: error: cannot read %s\n", files[f]);
      return 1;
    }
    printf("\n%s (%zu bytes)\n", files[f], len);
    printf("  %-34s %9s %9s %8s %9s\n", "parser", "median", "min", "MB/s",
           "vs jansson");
    for (size_t b = 0; b < nb; b++) {
      double med;
      double min;

      if (measure(benches[b].fn, body, len, &med, &min) != 0) {
        fprintf(stderr, "bench_parse: error: %s rejects %s\n", benches[b].name,
                files[f]);
        free(body);
        return 1;
      }
      if (b == 0)
        base_med = med;
      printf("  %-34s %9.2f %9.2f %8.0f %8.2fx\n", benches[b].name, med, min,
             (double)len / med, med / base_med);
    }
    free(body);
  }
  return 0;
}
