/*
** auth.c - picks the authentication mode a request uses.
**
** A request that carries an explicit credential (X-API-Key, Bearer) is
** judged on it alone: a bad key is a 401 even if a client certificate is
** also present, so a caller always knows which credential failed.
*/
#include "auth.h"

#include <string.h>
#include <strings.h>

static const struct vmb_config *auth_cfg;

int vmb_auth_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  auth_cfg = cfg;
  if(vmb_apikey_init(cfg, err, errlen))
    return -1;
  if(vmb_jwt_init(cfg, err, errlen))
    return -1;
  if(vmb_mtls_init(cfg, err, errlen))
    return -1;
  return 0;
}

void vmb_auth_cleanup(void)
{
  vmb_apikey_cleanup();
  vmb_jwt_cleanup();
}

enum vmb_auth_result vmb_authenticate(struct vmb_request *req,
                                      const char **mode, const char **reason)
{
  const char *key = vmb_request_header(req, "x-api-key");
  const char *authz = vmb_request_header(req, "authorization");
  struct vmb_identity *id = &req->identity;

  memset(id, 0, sizeof(*id));
  *reason = NULL;
  if(key && auth_cfg->auth_api_key_enabled) {
    *mode = "api_key";
    return vmb_apikey_check(key, id, reason);
  }
  if(authz && auth_cfg->auth_jwt_enabled) {
    *mode = "jwt";
    if(strncasecmp(authz, "Bearer ", 7) != 0) {
      *reason = "not_bearer";
      return VMB_AUTH_INVALID;
    }
    authz += 7;
    while(*authz == ' ')
      authz++;
    return vmb_jwt_check(authz, id, reason);
  }
  if(auth_cfg->auth_mtls_enabled) {
    enum vmb_auth_result r;
    *mode = "mtls";
    r = vmb_mtls_check(req, id, reason);
    if(r != VMB_AUTH_NONE)
      return r;
  }
  *mode = "none";
  *reason = "missing_credentials";
  return VMB_AUTH_NONE;
}
