/*
** auth.h - authentication modes (SPEC section 2).
**
** vmb_authenticate() looks at what the request carries and asks the one
** mode that matches: X-API-Key -> API keys, Authorization: Bearer -> JWT,
** otherwise the web server's verified client certificate -> mTLS. The
** reason a credential failed is a short code for the log and the
** WWW-Authenticate header; the credential itself is never logged.
*/
#ifndef VMB_AUTH_H
#define VMB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"
#include "vmb/request.h"

enum vmb_auth_result {
  VMB_AUTH_OK,            /* identity filled */
  VMB_AUTH_NONE,          /* no credential presented */
  VMB_AUTH_INVALID        /* a credential was presented and refused */
};

/* Set up every enabled mode from cfg. 0, or -1 with err filled. */
int vmb_auth_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_auth_cleanup(void);

/* Authenticate req into req->identity. On INVALID, *mode and *reason are
   static strings ("jwt", "expired") for logs and metrics. */
enum vmb_auth_result vmb_authenticate(struct vmb_request *req,
                                      const char **mode, const char **reason);

/* Mode entry points, used by vmb_authenticate and by tests. */
int vmb_apikey_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_apikey_cleanup(void);
enum vmb_auth_result vmb_apikey_check(const char *key, struct vmb_identity *id,
                                      const char **reason);

int vmb_jwt_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_jwt_cleanup(void);
enum vmb_auth_result vmb_jwt_check(const char *token, struct vmb_identity *id,
                                   const char **reason);

enum vmb_auth_result vmb_mtls_check(const struct vmb_request *req,
                                    struct vmb_identity *id,
                                    const char **reason);

#endif
