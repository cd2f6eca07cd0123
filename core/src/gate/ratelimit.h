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
};

int vmb_ratelimit_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_ratelimit_cleanup(void);
/* Count one request for subject and say whether it may proceed. */
void vmb_ratelimit_take(const char *subject, struct vmb_rl_verdict *v);
/* The same for any key with its own limit (same window). Keys that are
   not subjects carry a ':' ("auth-fail:192.0.2.7"), which no subject may
   hold, so they never share a counter with one. count_it false only looks:
   v->allowed says whether the key is below its limit. */
void vmb_ratelimit_take_key(const char *key, long limit, bool count_it,
                            struct vmb_rl_verdict *v);

#endif
