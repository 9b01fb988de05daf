/* Command parsing and dispatch. Words are separated by spaces or tabs; the
 * first word names the command and the rest are its arguments. */
#include "command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eg/error.h"
#include "eg/parse.h"
#include "names.h"

#define MAX_WORDS 64
/* Ids above the cluster size parse, so the reply can name the valid range. */
#define MAX_ID 1000000

struct words {
  char buf[DBK_COMMAND_MAX_LEN + 1];
  char *w[MAX_WORDS];
  int n;
};

/* Splits line into words in place. Fails on too many words. */
static int split(const char *line, struct words *ws) {
  char *p;

  ws->n = 0;
  snprintf(ws->buf, sizeof(ws->buf), "%s", line);
  p = ws->buf;
  for (;;) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      return EG_OK;
    if (ws->n == MAX_WORDS)
      return EG_ERANGE;
    ws->w[ws->n++] = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
      p++;
    if (*p != '\0')
      *p++ = '\0';
  }
}

static int parse_int(const char *s, int max, int *out) {
  uint64_t v;

  if (eg_parse_u64(s, 0, (uint64_t)max, &v) != EG_OK)
    return EG_EINVAL;
  *out = (int)v;
  return EG_OK;
}

static void reply_error(char *reply, size_t reply_len, const char *detail) {
  snprintf(reply, reply_len, "error: %s", detail);
}

static void
reply_result(int rc, const char *errbuf, char *reply, size_t reply_len) {
  if (rc == EG_OK)
    snprintf(reply, reply_len, "ok");
  else
    reply_error(reply, reply_len, errbuf);
}

static void cmd_broker(dbk_cluster_t *c,
                       struct words *ws,
                       bool up,
                       char *reply,
                       size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";
  int id;

  if (ws->n != 2 || parse_int(ws->w[1], MAX_ID, &id) != EG_OK) {
    reply_error(reply, reply_len,
                up ? "usage: broker-up <id>" : "usage: broker-down <id>");
    return;
  }
  reply_result(dbk_cluster_broker_set_up(c, id, up, errbuf, sizeof(errbuf)),
               errbuf, reply, reply_len);
}

static void cmd_all(dbk_cluster_t *c,
                    struct words *ws,
                    bool up,
                    char *reply,
                    size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";

  if (ws->n != 1) {
    reply_error(reply, reply_len,
                up ? "usage: all-up (no arguments)"
                   : "usage: all-down (no arguments)");
    return;
  }
  for (int b = 1; b <= dbk_cluster_nbrokers(c); b++) {
    int rc = dbk_cluster_broker_set_up(c, b, up, errbuf, sizeof(errbuf));
    if (rc != EG_OK) {
      reply_error(reply, reply_len, errbuf);
      return;
    }
  }
  snprintf(reply, reply_len, "ok");
}

static void
cmd_rtt(dbk_cluster_t *c, struct words *ws, char *reply, size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";
  int id = -1;
  int ms;

  if (ws->n != 3 ||
      (strcmp(ws->w[1], "all") != 0 &&
       parse_int(ws->w[1], MAX_ID, &id) != EG_OK) ||
      parse_int(ws->w[2], DBK_MAX_RTT_MS, &ms) != EG_OK) {
    reply_error(reply, reply_len, "usage: rtt <broker id|all> <ms 0..600000>");
    return;
  }
  reply_result(dbk_cluster_set_rtt(c, id, ms, errbuf, sizeof(errbuf)), errbuf,
               reply, reply_len);
}

static void cmd_push_errors(dbk_cluster_t *c,
                            struct words *ws,
                            char *reply,
                            size_t reply_len) {
  rd_kafka_resp_err_t codes[MAX_WORDS];
  rd_kafka_resp_err_t *errs;
  char detail[DBK_COMMAND_MAX_LEN + 64];
  int16_t apikey;
  int count;
  int ncodes = ws->n - 3;

  if (ws->n < 4) {
    reply_error(reply, reply_len,
                "usage: push-errors <api> <count> <error>...");
    return;
  }
  if (dbk_names_apikey(ws->w[1], &apikey) != EG_OK) {
    snprintf(detail, sizeof(detail),
             "unknown ApiKey '%s' (a name such as Produce, or 0..%d)", ws->w[1],
             DBK_APIKEY_MAX);
    reply_error(reply, reply_len, detail);
    return;
  }
  if (parse_int(ws->w[2], DBK_MAX_PUSH_ERRORS, &count) != EG_OK || count < 1) {
    snprintf(detail, sizeof(detail), "count '%s': must be between 1 and %d",
             ws->w[2], DBK_MAX_PUSH_ERRORS);
    reply_error(reply, reply_len, detail);
    return;
  }
  for (int i = 0; i < ncodes; i++) {
    if (dbk_names_error(ws->w[3 + i], &codes[i]) != EG_OK) {
      snprintf(detail, sizeof(detail),
               "unknown error code '%s' (a name such as "
               "NOT_LEADER_FOR_PARTITION or _TRANSPORT, or a number)",
               ws->w[3 + i]);
      reply_error(reply, reply_len, detail);
      return;
    }
  }
  /* The listed codes repeat until count errors are queued. */
  errs = malloc(sizeof(*errs) * (size_t)count);
  if (errs == NULL) {
    reply_error(reply, reply_len, "out of memory");
    return;
  }
  for (int i = 0; i < count; i++)
    errs[i] = codes[i % ncodes];
  dbk_cluster_push_errors(c, apikey, errs, (size_t)count);
  free(errs);
  snprintf(reply, reply_len, "ok");
}

static void cmd_topic_error(dbk_cluster_t *c,
                            struct words *ws,
                            char *reply,
                            size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";
  rd_kafka_resp_err_t err;

  if (ws->n != 3) {
    reply_error(reply, reply_len, "usage: topic-error <topic> <error>");
    return;
  }
  if (dbk_names_error(ws->w[2], &err) != EG_OK) {
    snprintf(errbuf, sizeof(errbuf), "unknown error code '%.100s'", ws->w[2]);
    reply_error(reply, reply_len, errbuf);
    return;
  }
  reply_result(
      dbk_cluster_topic_error(c, ws->w[1], err, errbuf, sizeof(errbuf)), errbuf,
      reply, reply_len);
}

static void cmd_create_topic(dbk_cluster_t *c,
                             struct words *ws,
                             char *reply,
                             size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";
  int partitions;

  if (ws->n != 3 ||
      parse_int(ws->w[2], DBK_MAX_PARTITIONS, &partitions) != EG_OK) {
    reply_error(reply, reply_len,
                "usage: create-topic <topic> <partitions 1..1000>");
    return;
  }
  reply_result(
      dbk_cluster_create_topic(c, ws->w[1], partitions, errbuf, sizeof(errbuf)),
      errbuf, reply, reply_len);
}

static void
cmd_leader(dbk_cluster_t *c, struct words *ws, char *reply, size_t reply_len) {
  char errbuf[EG_ERRBUF_LEN] = "";
  int partition;
  int id;

  if (ws->n != 4 ||
      parse_int(ws->w[2], DBK_MAX_PARTITIONS, &partition) != EG_OK ||
      parse_int(ws->w[3], MAX_ID, &id) != EG_OK) {
    reply_error(reply, reply_len, "usage: leader <topic> <partition> <id>");
    return;
  }
  reply_result(dbk_cluster_set_leader(c, ws->w[1], partition, id, errbuf,
                                      sizeof(errbuf)),
               errbuf, reply, reply_len);
}

void dbk_command_run(dbk_cluster_t *c,
                     const char *line,
                     char *reply,
                     size_t reply_len) {
  struct words ws;
  char detail[64 + DBK_COMMAND_MAX_LEN];
  const char *cmd;

  if (reply == NULL || reply_len == 0)
    return;
  if (c == NULL || line == NULL) {
    reply_error(reply, reply_len, "no cluster");
    return;
  }
  if (strlen(line) > DBK_COMMAND_MAX_LEN) {
    reply_error(reply, reply_len, "command line too long");
    return;
  }
  if (split(line, &ws) != EG_OK) {
    reply_error(reply, reply_len, "too many words");
    return;
  }
  if (ws.n == 0) {
    reply_error(reply, reply_len, "empty command (try: help)");
    return;
  }
  cmd = ws.w[0];
  if (strcmp(cmd, "broker-down") == 0)
    cmd_broker(c, &ws, false, reply, reply_len);
  else if (strcmp(cmd, "broker-up") == 0)
    cmd_broker(c, &ws, true, reply, reply_len);
  else if (strcmp(cmd, "all-down") == 0)
    cmd_all(c, &ws, false, reply, reply_len);
  else if (strcmp(cmd, "all-up") == 0)
    cmd_all(c, &ws, true, reply, reply_len);
  else if (strcmp(cmd, "rtt") == 0)
    cmd_rtt(c, &ws, reply, reply_len);
  else if (strcmp(cmd, "push-errors") == 0)
    cmd_push_errors(c, &ws, reply, reply_len);
  else if (strcmp(cmd, "clear-errors") == 0 && ws.n == 1) {
    dbk_cluster_clear_errors(c);
    snprintf(reply, reply_len, "ok");
  } else if (strcmp(cmd, "topic-error") == 0)
    cmd_topic_error(c, &ws, reply, reply_len);
  else if (strcmp(cmd, "create-topic") == 0)
    cmd_create_topic(c, &ws, reply, reply_len);
  else if (strcmp(cmd, "leader") == 0)
    cmd_leader(c, &ws, reply, reply_len);
  else if (strcmp(cmd, "status") == 0 && ws.n == 1) {
    char status[DBK_REPLY_MAX_LEN - 8];
    dbk_cluster_status(c, status, sizeof(status));
    snprintf(reply, reply_len, "ok %s", status);
  } else if (strcmp(cmd, "help") == 0 && ws.n == 1)
    snprintf(reply, reply_len, "ok %s", DBK_COMMAND_SUMMARY);
  else if (strcmp(cmd, "clear-errors") == 0 || strcmp(cmd, "status") == 0 ||
           strcmp(cmd, "help") == 0) {
    snprintf(detail, sizeof(detail), "usage: %s (no arguments)", cmd);
    reply_error(reply, reply_len, detail);
  } else {
    snprintf(detail, sizeof(detail), "unknown command '%.100s' (try: help)",
             cmd);
    reply_error(reply, reply_len, detail);
  }
}
