/*
** ratelimit.c - placeholder until the host-wide limiter lands (issue 4).
** Allows everything.
*/
#include "ratelimit.h"

int vmb_ratelimit_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)cfg; (void)err; (void)errlen;
  return 0;
}

void vmb_ratelimit_cleanup(void) {}

void vmb_ratelimit_take(const char *subject, struct vmb_rl_verdict *v)
{
  (void)subject;
  v->allowed = true;
  v->limit = 0;
  v->remaining = 0;
  v->reset_seconds = 0;
}
