/*
** auth_jwt.c - placeholder until the strict JWT verifier lands (issue 4).
** Refuses every token, so JWT auth fails closed.
*/
#include "auth.h"

int vmb_jwt_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)cfg; (void)err; (void)errlen;
  return 0;
}

void vmb_jwt_cleanup(void) {}

enum vmb_auth_result vmb_jwt_check(const char *token, struct vmb_identity *id,
                                   const char **reason)
{
  (void)token; (void)id;
  *reason = "jwt_not_configured";
  return VMB_AUTH_INVALID;
}
