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

#endif
