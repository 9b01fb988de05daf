/* envgate-redeliver's plan (GitHub's documented recovery, GITHUB-FACTS.md
 * section 3.3): fed the pages of GET /app/hook/deliveries (newest first)
 * back to a start time, it groups deliveries by guid (constant across
 * redeliveries) and picks, for each deployment_protection_rule guid without
 * a successful attempt, the delivery id to ask GitHub to redeliver
 * (POST /app/hook/deliveries/{id}/attempts). Pure logic: the HTTP calls and
 * the state kept between runs are the tool's. */
#ifndef EG_REDELIVER_H
#define EG_REDELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The event redelivered. */
#define EG_REDELIVER_EVENT "deployment_protection_rule"

typedef struct eg_redeliver_s eg_redeliver_t;

/* A guid to redeliver. Strings are owned by the plan. */
typedef struct eg_redeliver_item_s {
  const char *guid;         /* X-GitHub-Delivery of every attempt */
  uint64_t id;              /* the newest attempt: the one to redeliver */
  const char *action;       /* "" when absent */
  const char *status;       /* the newest attempt's status text */
  int status_code;          /* and its HTTP status (0: no answer) */
  const char *delivered_at; /* the newest attempt's time, as GitHub wrote it */
  size_t attempts;          /* attempts seen in the window */
} eg_redeliver_item_t;

/* A plan for the deliveries at or after since_ms (epoch ms).
 * @returns EG_OK with *out (free with eg_redeliver_free()), EG_EINVAL or
 * EG_ENOMEM. */
int eg_redeliver_new(int64_t since_ms, eg_redeliver_t **out);

/* NULL is a no-op. */
void eg_redeliver_free(eg_redeliver_t *r);

/* Adds one page: the len bytes of a JSON array of hook deliveries (id,
 * guid, delivered_at, status, status_code, event, action). Deliveries older
 * than the start time are left out. *more says whether older pages may
 * still hold deliveries of the window: true when the page was not empty
 * and nothing on it was older than the start time.
 * @returns EG_OK; EG_EPARSE (not a JSON array of objects with an integer
 * id, a string guid and a parsable delivered_at: errbuf says which); or
 * EG_ENOMEM. On failure nothing of the page is kept. */
int eg_redeliver_add_page(eg_redeliver_t *r,
                          const char *json,
                          size_t len,
                          bool *more,
                          char *errbuf,
                          size_t errbuf_len);

/* Works out the guids to redeliver, oldest first: those with at least one
 * deployment_protection_rule attempt in the window and no successful
 * attempt (status_code 2xx, or status "OK"). Call after the last page;
 * may be called again after more pages.
 * @returns EG_OK, EG_EINVAL or EG_ENOMEM. */
int eg_redeliver_plan(eg_redeliver_t *r);

/* The plan, valid until the next eg_redeliver_plan() or eg_redeliver_free(). */
size_t eg_redeliver_count(const eg_redeliver_t *r);
const eg_redeliver_item_t *eg_redeliver_item(const eg_redeliver_t *r, size_t i);

/* Deliveries kept (in the window), and the newest delivered_at among them
 * (epoch ms; -1 when none): the next run's start time. */
size_t eg_redeliver_seen(const eg_redeliver_t *r);
int64_t eg_redeliver_newest_ms(const eg_redeliver_t *r);

#endif /* EG_REDELIVER_H */
