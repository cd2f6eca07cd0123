/*
** ratelimit.h - per-subject request limits shared by every thread and
** process of the host (SPEC section 2).
*/
#ifndef VMB_RATELIMIT_H
#define VMB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"

struct vmb_rl_verdict {
  bool allowed;
  long limit;
  long remaining;
  long reset_seconds;         /* until the window ends */
  /* With REDIS_URL: Redis could not be asked in time. allowed then
     follows RATE_LIMIT_ON_BACKEND_ERROR; backend_why says why (a short
     fixed text, no secret). */
  bool backend_error;
  const char *backend_why;
};

int vmb_ratelimit_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_ratelimit_cleanup(void);
/* Count one request for subject and say whether it may proceed. With
   REDIS_URL set the count is shared by every host (one atomic script per
   request); otherwise it is this host's shared-memory table. */
void vmb_ratelimit_take(const char *subject, struct vmb_rl_verdict *v);
/* The same for any key with its own limit (same window). Keys that are
   not subjects carry a ':' ("auth-fail:192.0.2.7"), which no subject may
   hold, so they never share a counter with one. count_it false only looks:
   v->allowed says whether the key is below its limit. */
void vmb_ratelimit_take_key(const char *key, long limit, bool count_it,
                            struct vmb_rl_verdict *v);

/* True when REDIS_URL rate limits refuse requests while Redis is down
   (RATE_LIMIT_ON_BACKEND_ERROR=deny): /readyz then fails with Redis. */
bool vmb_ratelimit_needs_redis(void);

#endif
