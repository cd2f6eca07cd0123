/*
** auth_mtls.c - placeholder until client-certificate auth lands (issue 4).
** Never yields an identity.
*/
#include "auth.h"

enum vmb_auth_result vmb_mtls_check(const struct vmb_request *req,
                                    struct vmb_identity *id,
                                    const char **reason)
{
  (void)req; (void)id;
  *reason = "no_certificate";
  return VMB_AUTH_NONE;
}
