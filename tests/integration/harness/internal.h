/* Harness internals shared by its modules: the context and process structs
 * and helpers for owned strings and error text. Not for tests. */
#ifndef EG_HARNESS_INTERNAL_H
#define EG_HARNESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define IT_ERR_LEN 1024

/* Largest file or body the harness reads into memory. */
#define IT_MAX_READ (64u * 1024u * 1024u)

struct it_string {
  struct it_string *next;
  char s[];
};

struct eg_it_proc_s {
  eg_it_t *it;
  struct eg_it_proc_s *next;
  char *name;     /* owned by it */
  char *log_path; /* owned by it */
  char *out_path; /* owned by it */
  char *addr;     /* owned by it, NULL until read from ready_file */
  char *vg_path;  /* owned by it: valgrind's log, NULL when not wrapped */
  pid_t pid;
  bool exited;
  bool status_seen; /* the test collected the exit status itself */
  int wstatus;
};

struct eg_it_s {
  char *name; /* owned by it */
  char *dir;  /* owned by it */
  bool passed;
  bool ended;
  char err[IT_ERR_LEN];
  eg_it_proc_t *procs;
  struct it_string *strings; /* everything handed out as "owned by it" */
  unsigned reader_seq;       /* makes Kafka reader group ids unique */
  struct eg_it_s *next_live; /* registry walked by the atexit handler */
};

/* Sets the error text and returns rc. */
int it_fail(eg_it_t *it, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* printf into a string owned by it (freed by eg_it_end); NULL when out of
 * memory. */
char *it_printf(eg_it_t *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reaps p if it has exited (non-blocking). @returns true once exited. */
bool it_proc_poll_exit(eg_it_proc_t *p);

/* Prints the last lines of p's log to stderr, each prefixed. */
void it_proc_print_tail(eg_it_proc_t *p, int max_lines);

/* Looks for a report of ASan, LSan or UBSan in p's log, or of errors in
 * its valgrind log. @returns the first such line (owned by it), or NULL. */
const char *it_proc_find_report(eg_it_proc_t *p);

/* Text for errno value err (strerror_r wrapper). */
const char *it_errno_str(int err, char *buf, size_t len);

/* Path of the file librdkafka clients of this test log into. */
const char *it_kafka_log_path(eg_it_t *it);

#endif /* EG_HARNESS_INTERNAL_H */
