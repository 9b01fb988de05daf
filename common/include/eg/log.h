/* JSON-lines logger: one line per event on stderr (or a chosen fd), written
 * with a single write(2) so lines from many threads never interleave. */
#ifndef EG_LOG_H
#define EG_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum eg_log_level {
  EG_LOG_DEBUG = 0,
  EG_LOG_INFO = 1,
  EG_LOG_WARN = 2,
  EG_LOG_ERROR = 3
} eg_log_level_t;

typedef enum eg_log_field_type {
  EG_LOG_FIELD_STR,
  EG_LOG_FIELD_INT,
  EG_LOG_FIELD_DBL,
  EG_LOG_FIELD_BOOL
} eg_log_field_type_t;

typedef struct eg_log_field_s {
  const char *key;
  eg_log_field_type_t type;
  const char *s; /* EG_LOG_FIELD_STR; NULL is written as null */
  long long i;   /* EG_LOG_FIELD_INT and EG_LOG_FIELD_BOOL */
  double d;      /* EG_LOG_FIELD_DBL */
} eg_log_field_t;

/* Field constructors for eg_log(). Values are borrowed for the call only. */
#define EG_LSTR(k, v)                                                          \
  ((eg_log_field_t){.key = (k), .type = EG_LOG_FIELD_STR, .s = (v)})
#define EG_LINT(k, v)                                                          \
  ((eg_log_field_t){.key = (k), .type = EG_LOG_FIELD_INT, .i = (long long)(v)})
#define EG_LDBL(k, v)                                                          \
  ((eg_log_field_t){.key = (k), .type = EG_LOG_FIELD_DBL, .d = (double)(v)})
#define EG_LBOOL(k, v)                                                         \
  ((eg_log_field_t){.key = (k), .type = EG_LOG_FIELD_BOOL, .i = (v) ? 1 : 0})

/* Logs msg (a fixed string) with key/value fields. The level is checked
 * before any field is evaluated. Usage:
 *   eg_log(EG_LOG_INFO, "enqueued", EG_LSTR("delivery", id), EG_LINT("ms", 3));
 */
#define eg_log(level, msg, ...)                                                \
  do {                                                                         \
    if (eg_log_is_enabled(level)) {                                            \
      const eg_log_field_t eg_log_fields_[] = {{NULL}, __VA_ARGS__};           \
      eg_log_emit((level), (msg), eg_log_fields_ + 1,                          \
                  sizeof(eg_log_fields_) / sizeof(eg_log_fields_[0]) - 1);     \
    }                                                                          \
  } while (0)

/* Sets the service name (copied, at most 31 bytes), the minimum level and the
 * output fd (2 for stderr). Call once at start, before other threads run. */
void eg_log_init(const char *svc, eg_log_level_t level, int fd);

/* Parses "debug", "info", "warn"/"warning" or "error" (any case).
 * @returns EG_OK, or EG_EINVAL leaving *out untouched. */
int eg_log_parse_level(const char *name, eg_log_level_t *out);

/* Registers a secret (copied) that is replaced by "[REDACTED]" wherever it
 * would appear in a log line: defense in depth, fields should never carry one.
 * At most 16 secrets of 4..1024 bytes; call at start, before other threads.
 * @returns EG_OK, EG_EINVAL for a too short/long secret, EG_ERANGE when full.
 */
int eg_log_add_secret(const char *secret);

/* Forgets (and wipes) every registered secret; for tests and clean exit. */
void eg_log_clear_secrets(void);

bool eg_log_is_enabled(eg_log_level_t level);

/* Formats and writes one line; use the eg_log() macro instead. */
void eg_log_emit(eg_log_level_t level,
                 const char *msg,
                 const eg_log_field_t *fields,
                 size_t nfields);

#endif /* EG_LOG_H */
