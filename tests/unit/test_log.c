/* Unit tests for the JSON-lines logger: every line is read back from a pipe
 * and parsed with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* log.c's limits: bytes per line (newline included), and input bytes kept
 * per string value. */
#define LINE_MAX_LEN  4096
#define VALUE_MAX_LEN 1024

/* The pipe the logger writes to; the read end is non-blocking so that "no
 * line" can be observed. */
static int pipe_rd = -1;
static int pipe_wr = -1;
static char line_buf[4 * LINE_MAX_LEN];
static size_t line_len;

static int setup(void **state) {
  int fds[2];

  (void)state;
  if (pipe(fds) != 0)
    return -1;
  pipe_rd = fds[0];
  pipe_wr = fds[1];
  if (fcntl(pipe_rd, F_SETFL, O_NONBLOCK) != 0)
    return -1;
  eg_log_init("test-svc", EG_LOG_DEBUG, pipe_wr);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  eg_log_clear_secrets();
  eg_log_init("envgate", EG_LOG_INFO, 2);
  close(pipe_rd);
  close(pipe_wr);
  return 0;
}

/* Reads one whole line (newline included) into line_buf; fails the test if
 * none is waiting. */
static const char *read_line(void) {
  line_len = 0;
  for (;;) {
    ssize_t n;

    assert_true(line_len < sizeof(line_buf) - 1);
    n = read(pipe_rd, line_buf + line_len, 1);
    if (n < 0 && errno == EAGAIN)
      fail_msg("no complete line written (%zu bytes so far)", line_len);
    assert_int_equal(n, 1);
    line_len++;
    if (line_buf[line_len - 1] == '\n')
      break;
  }
  line_buf[line_len] = '\0';
  return line_buf;
}

static void assert_no_line(void) {
  char c;

  assert_int_equal(read(pipe_rd, &c, 1), -1);
  assert_int_equal(errno, EAGAIN);
}

/* Reads a line and checks it is one valid JSON object that ends in exactly
 * one newline and fits the line limit. The caller json_decref()s it. */
static json_t *read_json(void) {
  json_error_t jerr;
  json_t *obj;
  const char *line = read_line();

  assert_true(line_len <= LINE_MAX_LEN);
  assert_true(line_len >= 2);
  assert_memory_equal(line + line_len - 2, "}\n", 2);
  assert_null(memchr(line, '\n', line_len - 1));
  obj = json_loadb(line, line_len - 1, 0, &jerr);
  if (obj == NULL)
    fail_msg("invalid JSON (%s at %d): %.200s", jerr.text, jerr.position, line);
  assert_true(json_is_object(obj));
  return obj;
}

static const char *get_str(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);

  if (!json_is_string(v))
    fail_msg("key %s: not a string", key);
  return json_string_value(v);
}

static void test_line_shape(void **state) {
  json_t *obj;
  const char *ts;
  struct tm tm;
  int ms;
  char z;
  time_t when;
  const char *line;

  (void)state;
  eg_log(EG_LOG_INFO, "hello", EG_LSTR("s", "text"), EG_LINT("i", -42),
         EG_LINT("max", LLONG_MAX), EG_LINT("min", LLONG_MIN),
         EG_LDBL("d", 1.5), EG_LDBL("pi", 3.14159265), EG_LDBL("nan", NAN),
         EG_LDBL("inf", INFINITY), EG_LDBL("big", -1e301),
         EG_LDBL("small", 1e-7), EG_LBOOL("t", 7), EG_LBOOL("f", 0),
         EG_LSTR("null", NULL), EG_LSTR(NULL, "nokey"));
  obj = read_json();
  line = line_buf;
  /* The fixed keys come first, in this order. */
  assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
  assert_true(strstr(line, "\",\"level\":\"info\",\"svc\":\"test-svc\","
                           "\"msg\":\"hello\",\"s\":\"text\",") != NULL);
  assert_int_equal(json_object_size(obj), 4 + 14);
  assert_string_equal(get_str(obj, "level"), "info");
  assert_string_equal(get_str(obj, "svc"), "test-svc");
  assert_string_equal(get_str(obj, "msg"), "hello");
  assert_string_equal(get_str(obj, "s"), "text");
  assert_int_equal(json_integer_value(json_object_get(obj, "i")), -42);
  assert_true(json_integer_value(json_object_get(obj, "max")) == LLONG_MAX);
  assert_true(json_integer_value(json_object_get(obj, "min")) == LLONG_MIN);
  assert_true(json_real_value(json_object_get(obj, "d")) == 1.5);
  assert_true(json_real_value(json_object_get(obj, "pi")) == 3.14159);
  assert_true(json_is_null(json_object_get(obj, "nan")));
  assert_true(json_is_null(json_object_get(obj, "inf")));
  assert_true(json_is_null(json_object_get(obj, "big")));
  assert_true(json_real_value(json_object_get(obj, "small")) == 1e-7);
  assert_true(json_is_true(json_object_get(obj, "t")));
  assert_true(json_is_false(json_object_get(obj, "f")));
  assert_true(json_is_null(json_object_get(obj, "null")));
  assert_string_equal(get_str(obj, "?"), "nokey");

  /* ts: RFC 3339 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z. */
  ts = get_str(obj, "ts");
  assert_int_equal(strlen(ts), 24);
  memset(&tm, 0, sizeof(tm));
  assert_int_equal(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year,
                          &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                          &tm.tm_sec, &ms, &z),
                   8);
  assert_int_equal(z, 'Z');
  assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
              ts[16] == ':' && ts[19] == '.');
  assert_true(ms >= 0 && ms <= 999);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  when = timegm(&tm);
  assert_true(labs((long)(when - time(NULL))) <= 5);
  json_decref(obj);

  /* No fields at all. */
  eg_log(EG_LOG_WARN, "bare");
  obj = read_json();
  assert_int_equal(json_object_size(obj), 4);
  assert_string_equal(get_str(obj, "level"), "warn");
  assert_string_equal(get_str(obj, "msg"), "bare");
  json_decref(obj);
  /* A NULL msg is written as "". */
  eg_log_emit(EG_LOG_INFO, NULL, NULL, 0);
  obj = read_json();
  assert_string_equal(get_str(obj, "msg"), "");
  json_decref(obj);
}

static void test_levels(void **state) {
  static const struct {
    eg_log_level_t level;
    const char *name;
  } cases[] = {{EG_LOG_DEBUG, "debug"},
               {EG_LOG_INFO, "info"},
               {EG_LOG_WARN, "warn"},
               {EG_LOG_ERROR, "error"},
               /* Out of range levels are written as errors. */
               {(eg_log_level_t)99, "error"},
               {(eg_log_level_t)-1, "error"}};
  json_t *obj;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_log_emit(cases[i].level, "lvl", NULL, 0);
    obj = read_json();
    assert_string_equal(get_str(obj, "level"), cases[i].name);
    json_decref(obj);
  }
}

static int side_effects;

static long long count_call(void) {
  return ++side_effects;
}

static void test_level_filtering(void **state) {
  static const struct {
    eg_log_level_t min;
    bool on[4]; /* debug, info, warn, error */
  } cases[] = {{EG_LOG_DEBUG, {true, true, true, true}},
               {EG_LOG_INFO, {false, true, true, true}},
               {EG_LOG_WARN, {false, false, true, true}},
               {EG_LOG_ERROR, {false, false, false, true}}};
  json_t *obj;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_log_init(NULL, cases[i].min, -1);
    for (int lvl = EG_LOG_DEBUG; lvl <= EG_LOG_ERROR; lvl++) {
      int before = side_effects;

      assert_int_equal(eg_log_is_enabled((eg_log_level_t)lvl),
                       cases[i].on[lvl]);
      eg_log((eg_log_level_t)lvl, "filtered", EG_LINT("n", count_call()),
             EG_LSTR("s", count_call() > 0 ? "x" : "y"));
      if (cases[i].on[lvl]) {
        /* Evaluated exactly once each. */
        assert_int_equal(side_effects, before + 2);
        obj = read_json();
        assert_int_equal(json_integer_value(json_object_get(obj, "n")),
                         before + 1);
        json_decref(obj);
      } else {
        /* The fields were never evaluated and nothing was written. */
        assert_int_equal(side_effects, before);
        assert_no_line();
      }
    }
  }
  eg_log_init(NULL, EG_LOG_DEBUG, -1);
}

static void test_escaping(void **state) {
  static const struct {
    const char *in;
    const char *out; /* as decoded by jansson */
  } cases[] = {
      {"plain", "plain"},
      {"say \"hi\"", "say \"hi\""},
      {"C:\\dir\\", "C:\\dir\\"},
      {"a\nb\r\tc", "a\nb\r\tc"},
      {"\x01\x1f\x7f", "\x01\x1f\x7f"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
      /* Invalid UTF-8: one U+FFFD per bad byte. */
      {"\xff", "\xef\xbf\xbd"},
      {"a\xc3", "a\xef\xbf\xbd"},
      {"\xc3(", "\xef\xbf\xbd("},
      {"\x80", "\xef\xbf\xbd"},
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong */
      {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
      {"\xf0\x80\x80\x80",
       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
      {"\xf4\x90\x80\x80",
       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
      {"\xf5\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
  };
  json_t *obj;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    /* The same rules for msg, keys, values and the service name. */
    eg_log_init(cases[i].in, EG_LOG_DEBUG, -1);
    eg_log(EG_LOG_INFO, cases[i].in, EG_LSTR(cases[i].in, cases[i].in));
    obj = read_json();
    assert_string_equal(get_str(obj, "msg"), cases[i].out);
    assert_string_equal(get_str(obj, "svc"), cases[i].out);
    assert_string_equal(get_str(obj, cases[i].out), cases[i].out);
    json_decref(obj);
  }
  eg_log_init("test-svc", EG_LOG_DEBUG, -1);
}

static void test_long_values(void **state) {
  static const char fill[] = {'a', '"', '\x01', '\xff'};
  size_t big = 100000;
  char *value = malloc(big + 1);
  json_t *obj;

  (void)state;
  assert_non_null(value);
  for (size_t f = 0; f < sizeof(fill); f++) {
    const char *got;

    memset(value, fill[f], big);
    value[big] = '\0';
    eg_log(EG_LOG_INFO, "long", EG_LSTR("v", value), EG_LINT("after", 1));
    obj = read_json();
    got = get_str(obj, "v");
    if (fill[f] == 'a' || fill[f] == '"') {
      /* Cut at VALUE_MAX_LEN input bytes; the next field still fits. */
      assert_int_equal(strlen(got), VALUE_MAX_LEN);
      assert_int_equal(json_integer_value(json_object_get(obj, "after")), 1);
    } else {
      /* Escapes make it longer than the line: cut there, nothing after. */
      assert_true(strlen(got) > 0 && strlen(got) < VALUE_MAX_LEN * 3);
      assert_null(json_object_get(obj, "after"));
    }
    for (const char *p = got; *p != '\0'; p += fill[f] == '\xff' ? 3 : 1) {
      if (fill[f] == '\xff')
        assert_memory_equal(p, "\xef\xbf\xbd", 3);
      else
        assert_int_equal(*p, fill[f]);
    }
    json_decref(obj);
  }
  /* A msg longer than the line is cut and closed too. */
  memset(value, '\x01', big);
  eg_log_emit(EG_LOG_INFO, value, NULL, 0);
  obj = read_json();
  assert_true(strlen(get_str(obj, "msg")) > 500);
  json_decref(obj);
  free(value);
}

/* Many fields overflow the line: wherever the cut falls (inside a key, a
 * number, a literal, an escape or a UTF-8 sequence), the line stays valid
 * JSON, keeps a prefix of the fields, and cuts at most the last string. */
static void test_many_fields(void **state) {
  enum { NFIELDS = 1500 };
  static eg_log_field_t fields[NFIELDS];
  static char keys[NFIELDS][24];
  static const char *const strs[] = {"v\x01", "\xe2\x82\xac\xe2\x82\xac",
                                     "q\"\\", "plain"};

  (void)state;
  for (int shift = 0; shift < 48; shift++) {
    json_t *obj;
    size_t kept;

    for (int i = 0; i < NFIELDS; i++) {
      snprintf(keys[i], sizeof(keys[i]), "k%0*d", 1 + shift % 8, i);
      switch ((i + shift / 8) % 5) {
      case 0:
        fields[i] = EG_LINT(keys[i], i);
        break;
      case 1:
        fields[i] = EG_LBOOL(keys[i], i % 2);
        break;
      case 2:
        fields[i] = EG_LDBL(keys[i], i + 0.5);
        break;
      case 3:
        fields[i] = EG_LSTR(keys[i], NULL);
        break;
      default:
        fields[i] = EG_LSTR(keys[i], strs[i % 4]);
        break;
      }
    }
    eg_log_emit(EG_LOG_INFO, "many", fields, NFIELDS);
    obj = read_json();
    kept = json_object_size(obj) - 4;
    assert_true(kept > 100 && kept < NFIELDS);
    /* Close to the limit: the next field would not have fitted whole. */
    assert_true(line_len > LINE_MAX_LEN - 100);
    for (size_t i = 0; i < kept; i++) {
      const json_t *v = json_object_get(obj, keys[i]);

      assert_non_null(v);
      if (fields[i].type == EG_LOG_FIELD_INT)
        assert_int_equal(json_integer_value(v), (json_int_t)i);
      else if (fields[i].type == EG_LOG_FIELD_STR && fields[i].s != NULL) {
        const char *got = json_string_value(v);
        assert_non_null(got);
        if (i + 1 < kept)
          assert_string_equal(got, fields[i].s);
        else
          assert_true(strncmp(got, fields[i].s, strlen(got)) == 0);
      }
    }
    json_decref(obj);
  }
}

static void test_secret_redaction(void **state) {
  static const char secret[] = "s3cr3t-webhook-value-0123";
  static const char odd[] = "we\"ird\\se\ncret";
  char value[VALUE_MAX_LEN + 64];
  char big[1346];
  eg_log_field_t fields[200];
  const char *line;
  json_t *obj;

  (void)state;
  assert_int_equal(eg_log_add_secret(secret), EG_OK);
  assert_int_equal(eg_log_add_secret(odd), EG_OK);
  assert_int_equal(eg_log_add_secret("987654321"), EG_OK);

  /* In msg, in a key, twice in a value, next to other text. */
  eg_log(EG_LOG_INFO, "token s3cr3t-webhook-value-0123 seen",
         EG_LSTR("s3cr3t-webhook-value-0123", "x"),
         EG_LSTR("auth", "Bearer s3cr3t-webhook-value-0123!"
                         "s3cr3t-webhook-value-0123"));
  line = read_line();
  assert_null(strstr(line, "s3cr3t"));
  obj = json_loadb(line, line_len, 0, NULL);
  assert_non_null(obj);
  assert_string_equal(get_str(obj, "msg"), "token [REDACTED] seen");
  assert_string_equal(get_str(obj, "[REDACTED]"), "x");
  assert_string_equal(get_str(obj, "auth"), "Bearer [REDACTED]![REDACTED]");
  json_decref(obj);

  /* A secret holding characters that JSON escapes is still found. */
  eg_log(EG_LOG_INFO, "odd", EG_LSTR("v", "<we\"ird\\se\ncret>"));
  obj = read_json();
  assert_string_equal(get_str(obj, "v"), "<[REDACTED]>");
  assert_null(strstr(line_buf, "ird"));
  json_decref(obj);

  /* A number that holds a secret becomes a string. */
  eg_log(EG_LOG_INFO, "num", EG_LINT("n", 19876543210LL), EG_LINT("m", 42));
  obj = read_json();
  assert_string_equal(get_str(obj, "n"), "[REDACTED]");
  assert_int_equal(json_integer_value(json_object_get(obj, "m")), 42);
  json_decref(obj);

  /* A secret straddling the value cut leaves no prefix behind. */
  memset(value, 'a', VALUE_MAX_LEN - 6);
  memcpy(value + VALUE_MAX_LEN - 6, secret, sizeof(secret));
  eg_log(EG_LOG_INFO, "cut", EG_LSTR("v", value));
  line = read_line();
  assert_null(strstr(line, "s3cr3t"));
  assert_non_null(strstr(line, "aaa[REDACTED]\""));

  /* A secret straddling the line cut leaves no prefix behind either: six
   * fields of 1305..1345 bytes move the secret across the cut. */
  memset(big, 'b', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  for (size_t i = 0; i < 200; i++)
    fields[i] = EG_LSTR("k", i == 6 ? "s3cr3t-webhook-value-0123" : big);
  for (size_t shift = 0; shift < 40; shift++) {
    big[sizeof(big) - 1 - shift] = '\0';
    eg_log_emit(EG_LOG_INFO, "line cut", fields, 200);
    obj = read_json();
    assert_null(strstr(line_buf, "s3cr"));
    json_decref(obj);
  }

  /* Once cleared, nothing is redacted. */
  eg_log_clear_secrets();
  eg_log(EG_LOG_INFO, "clear", EG_LSTR("v", secret));
  obj = read_json();
  assert_string_equal(get_str(obj, "v"), secret);
  json_decref(obj);
}

static void test_add_secret_rules(void **state) {
  char s[1026];

  (void)state;
  assert_int_equal(eg_log_add_secret(NULL), EG_EINVAL);
  assert_int_equal(eg_log_add_secret(""), EG_EINVAL);
  assert_int_equal(eg_log_add_secret("abc"), EG_EINVAL);
  memset(s, 'z', sizeof(s) - 1);
  s[sizeof(s) - 1] = '\0';
  assert_int_equal(eg_log_add_secret(s), EG_EINVAL); /* 1025 bytes */
  s[1024] = '\0';
  assert_int_equal(eg_log_add_secret(s), EG_OK);
  assert_int_equal(eg_log_add_secret("abcd"), EG_OK);
  for (int i = 2; i < 16; i++) {
    char name[16];
    snprintf(name, sizeof(name), "secret-%02d", i);
    assert_int_equal(eg_log_add_secret(name), EG_OK);
  }
  assert_int_equal(eg_log_add_secret("one-too-many"), EG_ERANGE);
  eg_log_clear_secrets();
  eg_log_clear_secrets();
  assert_int_equal(eg_log_add_secret("one-too-many"), EG_OK);
  eg_log_clear_secrets();
}

static void test_parse_level(void **state) {
  static const struct {
    const char *name;
    int rc;
    eg_log_level_t level;
  } cases[] = {
      {"debug", EG_OK, EG_LOG_DEBUG},  {"DEBUG", EG_OK, EG_LOG_DEBUG},
      {"Info", EG_OK, EG_LOG_INFO},    {"info", EG_OK, EG_LOG_INFO},
      {"warn", EG_OK, EG_LOG_WARN},    {"warning", EG_OK, EG_LOG_WARN},
      {"WARNING", EG_OK, EG_LOG_WARN}, {"error", EG_OK, EG_LOG_ERROR},
      {"ERROR", EG_OK, EG_LOG_ERROR},  {"", EG_EINVAL, 0},
      {"err", EG_EINVAL, 0},           {"information", EG_EINVAL, 0},
      {"warn ", EG_EINVAL, 0},         {" info", EG_EINVAL, 0},
      {"fatal", EG_EINVAL, 0},         {"trace", EG_EINVAL, 0},
  };
  eg_log_level_t out;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    out = (eg_log_level_t)77;
    assert_int_equal(eg_log_parse_level(cases[i].name, &out), cases[i].rc);
    if (cases[i].rc == EG_OK)
      assert_int_equal(out, cases[i].level);
    else
      assert_int_equal(out, 77);
  }
  assert_int_equal(eg_log_parse_level(NULL, &out), EG_EINVAL);
  assert_int_equal(eg_log_parse_level("info", NULL), EG_EINVAL);
}

static void test_init(void **state) {
  json_t *obj;

  (void)state;
  /* NULL svc, a level out of range and a negative fd change nothing. */
  eg_log_init(NULL, (eg_log_level_t)42, -1);
  assert_true(eg_log_is_enabled(EG_LOG_DEBUG));
  eg_log(EG_LOG_DEBUG, "kept");
  obj = read_json();
  assert_string_equal(get_str(obj, "svc"), "test-svc");
  json_decref(obj);
  /* The service name is cut to 31 bytes. */
  eg_log_init("0123456789012345678901234567890123456789", EG_LOG_DEBUG, -1);
  eg_log(EG_LOG_INFO, "svc");
  obj = read_json();
  assert_string_equal(get_str(obj, "svc"), "0123456789012345678901234567890");
  json_decref(obj);
  eg_log_init("test-svc", EG_LOG_DEBUG, -1);
}

/* Lines from several threads never interleave (each is one write(2), below
 * PIPE_BUF here). */
#define LOG_THREADS 4
#define LOG_LINES   300

static void *log_worker(void *arg) {
  long id = (long)(intptr_t)arg;

  for (int i = 0; i < LOG_LINES; i++)
    eg_log(EG_LOG_INFO, "threaded", EG_LINT("thread", id), EG_LINT("i", i),
           EG_LSTR("pad", "0123456789abcdefghijklmnopqrstuvwxyz"));
  return NULL;
}

/* Reads one line, waiting for it while other threads write. */
static void read_line_waiting(void) {
  struct timespec pause = {0, 1000000};

  line_len = 0;
  while (line_len == 0 || line_buf[line_len - 1] != '\n') {
    ssize_t n = read(pipe_rd, line_buf + line_len, 1);

    if (n == 1) {
      line_len++;
      assert_true(line_len < sizeof(line_buf));
      continue;
    }
    assert_int_equal(errno, EAGAIN);
    nanosleep(&pause, NULL);
  }
  line_buf[line_len] = '\0';
}

static void test_threads(void **state) {
  pthread_t threads[LOG_THREADS];
  int next[LOG_THREADS] = {0};

  (void)state;
  /* 4 x 300 lines of ~150 bytes exceed the pipe, so read meanwhile. */
  for (long t = 0; t < LOG_THREADS; t++)
    assert_int_equal(
        pthread_create(&threads[t], NULL, log_worker, (void *)(intptr_t)t), 0);
  for (int got = 0; got < LOG_THREADS * LOG_LINES; got++) {
    json_t *obj;
    long t;

    read_line_waiting();
    obj = json_loadb(line_buf, line_len - 1, 0, NULL);
    assert_non_null(obj);
    t = (long)json_integer_value(json_object_get(obj, "thread"));
    assert_true(t >= 0 && t < LOG_THREADS);
    /* Each thread's lines arrive whole and in its own order. */
    assert_int_equal(json_integer_value(json_object_get(obj, "i")), next[t]);
    next[t]++;
    json_decref(obj);
  }
  for (int t = 0; t < LOG_THREADS; t++)
    assert_int_equal(pthread_join(threads[t], NULL), 0);
  assert_no_line();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
      cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
      cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_secret_redaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_secret_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_level, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
