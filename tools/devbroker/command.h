/* The devbroker's fault-injection commands: one text line in, one reply line
 * out ("ok", "ok <detail>" or "error: <reason>"). */
#ifndef DBK_COMMAND_H
#define DBK_COMMAND_H

#include <stddef.h>

#include "cluster.h"

/* Longest accepted command line, without its newline. */
#define DBK_COMMAND_MAX_LEN 1024

/* Longest reply, including the terminating NUL. */
#define DBK_REPLY_MAX_LEN 4096

/* Most errors one push-errors command may queue. */
#define DBK_MAX_PUSH_ERRORS 100000

/* One line listing every command, for `help` and --help. */
#define DBK_COMMAND_SUMMARY                                                    \
  "broker-down <id> | broker-up <id> | all-down | all-up | "                   \
  "rtt <id|all> <ms> | push-errors <api> <count> <error>... | "                \
  "clear-errors | topic-error <topic> <error> | "                              \
  "create-topic <topic> <partitions> | "                                       \
  "leader <topic> <partition> <id> | status | help"

/* Runs one command line (no newline) against c and writes the reply line
 * (no newline) into reply. Never fails: problems become "error: ...". */
void dbk_command_run(dbk_cluster_t *c,
                     const char *line,
                     char *reply,
                     size_t reply_len);

#endif /* DBK_COMMAND_H */
