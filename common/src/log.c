/* JSON-lines logger. Process-wide settings are written once by eg_log_init()
 * before threads start and only read afterwards. */
#include "eg/log.h"
#include "eg/error.h"
#include "eg/timeutil.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* PIPE_BUF: writes up to this size are atomic on a pipe, so lines from
 * several threads never interleave. */
#define LINE_MAX_LEN   4096
#define VALUE_MAX_LEN  1024
#define MAX_SECRETS    16
#define MIN_SECRET_LEN 4
#define MAX_SECRET_LEN 1024

static struct {
  char svc[32];
  eg_log_level_t level;
  int fd;
  char *secrets[MAX_SECRETS];
  size_t nsecrets;
} logger = {"envgate", EG_LOG_INFO, 2, {NULL}, 0};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* A bounded writer. Each put() is all or nothing and the first one that does
 * not fit stops the line, so an escape or UTF-8 sequence is never cut in
 * two; room is kept to close a cut string and the line. */
struct line {
  char buf[LINE_MAX_LEN];
  size_t len;
  size_t cap; /* LINE_MAX_LEN minus the room kept for the closing "\"}\n" */
  bool full;
};

static void put(struct line *ln, const char *s, size_t n) {
  if (ln->full)
    return;
  if (n > ln->cap - ln->len) {
    ln->full = true;
    return;
  }
  memcpy(ln->buf + ln->len, s, n);
  ln->len += n;
}

static void puts_raw(struct line *ln, const char *s) {
  put(ln, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid:
 * strict JSON parsers reject them. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
  size_t n;
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */

  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4;
  else
    return 0;
  if (c == 0xE0)
    lo = 0xA0;
  else if (c == 0xED)
    hi = 0x9F;
  else if (c == 0xF0)
    lo = 0x90;
  else if (c == 0xF4)
    hi = 0x8F;
  if (n > avail || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* Length of the registered secret that starts at s (avail bytes), or 0. */
static size_t secret_at(const char *s, size_t avail) {
  for (size_t k = 0; k < logger.nsecrets; k++) {
    const char *sec = logger.secrets[k];
    size_t slen = strlen(sec);

    if (slen <= avail && s[0] == sec[0] && memcmp(s, sec, slen) == 0)
      return slen;
  }
  return 0;
}

/* Writes the first n bytes of s (whose full length is avail) as a JSON
 * string body: escapes quotes, backslashes and control bytes, and replaces
 * invalid UTF-8 so the line always parses. Secrets are replaced before
 * escaping, so they are found whatever characters they hold, even when they
 * straddle the VALUE_MAX_LEN cut. */
static void
put_escaped(struct line *ln, const char *s, size_t n, size_t avail) {
  static const char marker[] = "[REDACTED]";
  const unsigned char *p = (const unsigned char *)s;
  char esc[8];

  for (size_t i = 0; i < n && !ln->full;) {
    unsigned char c = p[i];
    size_t seq;

    if (logger.nsecrets > 0 && (seq = secret_at(s + i, avail - i)) > 0) {
      put(ln, marker, sizeof(marker) - 1);
      i += seq;
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(ln, esc, 2);
      i++;
    } else if (c == '\n') {
      put(ln, "\\n", 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(esc, sizeof(esc), "\\u%04x", c);
      put(ln, esc, 6);
      i++;
    } else if ((seq = utf8_len(p + i, n - i)) > 0) {
      put(ln, s + i, seq);
      i += seq;
    } else {
      put(ln, "\\ufffd", 6);
      i++;
    }
  }
}

/* Writes s as a JSON string (at most VALUE_MAX_LEN bytes of it). When the
 * line fills up after the opening quote, the string is closed in the kept
 * room. @returns false when the line is full (the opening quote too may
 * have been refused: the caller checks ln->len). */
static bool put_string(struct line *ln, const char *s) {
  size_t avail = strlen(s);

  put(ln, "\"", 1);
  if (ln->full)
    return false;
  put_escaped(ln, s, avail < VALUE_MAX_LEN ? avail : VALUE_MAX_LEN, avail);
  put(ln, "\"", 1);
  if (ln->full) {
    ln->buf[ln->len++] = '"';
    return false;
  }
  return true;
}

static void put_timestamp(struct line *ln) {
  char out[EG_RFC3339_SIZE];

  eg_time_rfc3339(eg_time_epoch_ms(), out, sizeof(out));
  puts_raw(ln, out);
}

/* A number is written as text; one that holds a secret becomes a string. */
static void put_number(struct line *ln, const char *num) {
  for (size_t i = 0; num[i] != '\0'; i++) {
    if (secret_at(num + i, strlen(num + i)) > 0) {
      puts_raw(ln, "\"[REDACTED]\"");
      return;
    }
  }
  puts_raw(ln, num);
}

/* Writes one field. @returns false when the line is full: the field is then
 * dropped whole, unless the cut falls inside its string value, which is
 * kept, cut short and closed. */
static bool put_field(struct line *ln, const eg_log_field_t *f) {
  size_t start = ln->len;
  size_t value_start;
  char num[64];

  put(ln, ",", 1);
  put_string(ln, f->key != NULL ? f->key : "?");
  put(ln, ":", 1);
  value_start = ln->len;
  if (!ln->full) {
    switch (f->type) {
    case EG_LOG_FIELD_STR:
      if (f->s == NULL)
        puts_raw(ln, "null");
      else if (!put_string(ln, f->s) && ln->len > value_start)
        return false;
      break;
    case EG_LOG_FIELD_INT:
      snprintf(num, sizeof(num), "%lld", f->i);
      put_number(ln, num);
      break;
    case EG_LOG_FIELD_DBL:
      /* JSON has no NaN or infinity. */
      if (f->d != f->d || f->d > 1e300 || f->d < -1e300)
        puts_raw(ln, "null");
      else {
        snprintf(num, sizeof(num), "%.6g", f->d);
        put_number(ln, num);
      }
      break;
    case EG_LOG_FIELD_BOOL:
      puts_raw(ln, f->i ? "true" : "false");
      break;
    }
  }
  if (ln->full) {
    ln->len = start;
    return false;
  }
  return true;
}

void eg_log_emit(eg_log_level_t level,
                 const char *msg,
                 const eg_log_field_t *fields,
                 size_t nfields) {
  struct line ln;
  ssize_t w;
  size_t off = 0;

  if (level < EG_LOG_DEBUG || level > EG_LOG_ERROR)
    level = EG_LOG_ERROR;
  ln.len = 0;
  ln.cap = LINE_MAX_LEN - 3;
  ln.full = false;
  puts_raw(&ln, "{\"ts\":\"");
  put_timestamp(&ln);
  puts_raw(&ln, "\",\"level\":\"");
  puts_raw(&ln, level_names[level]);
  puts_raw(&ln, "\",\"svc\":");
  put_string(&ln, logger.svc);
  puts_raw(&ln, ",\"msg\":");
  /* The head above always fits, so a cut msg is closed by put_string. */
  if (put_string(&ln, msg != NULL ? msg : "")) {
    for (size_t i = 0; i < nfields; i++)
      if (!put_field(&ln, &fields[i]))
        break;
  }
  ln.cap = LINE_MAX_LEN;
  ln.full = false;
  put(&ln, "}\n", 2);
  while (off < ln.len) {
    w = write(logger.fd, ln.buf + off, ln.len - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
}

void eg_log_init(const char *svc, eg_log_level_t level, int fd) {
  if (svc != NULL)
    snprintf(logger.svc, sizeof(logger.svc), "%s", svc);
  if (level >= EG_LOG_DEBUG && level <= EG_LOG_ERROR)
    logger.level = level;
  if (fd >= 0)
    logger.fd = fd;
}

int eg_log_parse_level(const char *name, eg_log_level_t *out) {
  static const struct {
    const char *name;
    eg_log_level_t level;
  } names[] = {{"debug", EG_LOG_DEBUG},
               {"info", EG_LOG_INFO},
               {"warn", EG_LOG_WARN},
               {"warning", EG_LOG_WARN},
               {"error", EG_LOG_ERROR}};

  if (name == NULL || out == NULL)
    return EG_EINVAL;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcasecmp(name, names[i].name) == 0) {
      *out = names[i].level;
      return EG_OK;
    }
  }
  return EG_EINVAL;
}

int eg_log_add_secret(const char *secret) {
  size_t len;

  if (secret == NULL)
    return EG_EINVAL;
  len = strlen(secret);
  if (len < MIN_SECRET_LEN || len > MAX_SECRET_LEN)
    return EG_EINVAL;
  if (logger.nsecrets == MAX_SECRETS)
    return EG_ERANGE;
  logger.secrets[logger.nsecrets] = strdup(secret);
  if (logger.secrets[logger.nsecrets] == NULL)
    return EG_ENOMEM;
  logger.nsecrets++;
  return EG_OK;
}

void eg_log_clear_secrets(void) {
  for (size_t k = 0; k < logger.nsecrets; k++) {
    OPENSSL_cleanse(logger.secrets[k], strlen(logger.secrets[k]));
    free(logger.secrets[k]);
    logger.secrets[k] = NULL;
  }
  logger.nsecrets = 0;
}

bool eg_log_is_enabled(eg_log_level_t level) {
  return level >= logger.level;
}
