/* envgate-ghsim: one API call being answered, shared by the repository
 * endpoints (routes.c) and the App endpoints (app.c). */
#ifndef GS_ROUTES_H
#define GS_ROUTES_H

#include "ghsim.h"

#define GS_MAX_SEGS 10

/* One API call being answered. */
struct gs_call {
  struct gs_sim *sim;
  eg_http_req_t *req;
  enum gs_ep ep;
  const char *method;
  const char *seg[GS_MAX_SEGS];
  size_t seglen[GS_MAX_SEGS];
  size_t nseg;
  struct gs_repo *repo;       /* repository of a /repos/ path */
  struct gs_token *tok;       /* the installation token used */
  struct gs_installation *rl; /* whose rate limit the call counts on */
  const char *accepted_perm;  /* x-accepted-github-permissions */
  /* The answer. */
  int status;
  const char *body;
  size_t len;
  char *owned; /* body when built for this call (freed after answering) */
  char *link;
  uint32_t retry_after_s;
  bool rl_exhausted;
  bool abort_conn;
  uint32_t delay_ms;
};

/* Answer with a borrowed body (cached; outlives the call). */
void gs_call_body(struct gs_call *c, int status, const char *body, size_t len);
/* Answer with b's contents, taken over (500 if b ran out of memory). */
void gs_call_owned(struct gs_call *c, int status, struct gs_buf *b);
/* Answer with GitHub's error body {"message","documentation_url","status"}. */
void gs_call_error(struct gs_call *c, int status, const char *message);
/* Path segment i as a positive integer. */
bool gs_call_seg_u64(const struct gs_call *c, size_t i, uint64_t *out);
/* Checks the App JWT; answers 401 and returns false when it fails. */
bool gs_call_check_jwt(struct gs_call *c);
/* Query parameter name: def when absent, zero or invalid; at most max. */
unsigned gs_call_query_uint(struct gs_call *c,
                            const char *name,
                            unsigned def,
                            unsigned max);

void gs_app_mint(struct gs_call *c);
void gs_app_deliveries(struct gs_call *c);
void gs_app_delivery(struct gs_call *c);
void gs_app_redeliver(struct gs_call *c);

#endif /* GS_ROUTES_H */
