/*
** auth.c - picks the authentication mode a request uses.
**
** A request that carries an explicit credential (X-API-Key, Bearer) is
** judged on it alone: a bad key is a 401 even if a client certificate is
** also present, so a caller always knows which credential failed.
*/
#include "auth.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "oauth_meta.h"
#include "registry.h"
#include "vmb/log.h"

/* Which modes are on, taken at start-up (vmb_auth_init). */
static struct {
  bool api_key;                     /* AUTH_API_KEY_ENABLED */
  bool jwt;                         /* AUTH_JWT_ENABLED */
  bool mtls;                        /* AUTH_MTLS_ENABLED */
} conf;
/* Set once the mtls_disabled warning has been written by this process. */
static atomic_flag mtls_warned = ATOMIC_FLAG_INIT;

/*
** The web server verified a client certificate (HTTPS on, verify result
** exactly SUCCESS, a DN) but AUTH_MTLS_ENABLED is false, so the
** certificate is ignored: almost always a forgotten setting in an mTLS
** deployment, which otherwise shows only as 401s. Logged once per
** process (a warning per request would flood the log), with no DN.
*/
static void note_mtls_disabled(const struct vmb_request *req)
{
  json_object *f;
  if(!req->tls.https || !req->tls.client_s_dn || !*req->tls.client_s_dn ||
     !req->tls.client_verify || strcmp(req->tls.client_verify, "SUCCESS") != 0)
    return;
  if(atomic_flag_test_and_set(&mtls_warned))
    return;
  f = json_object_new_object();
  json_object_object_add(f, "event", json_object_new_string("mtls_disabled"));
  json_object_object_add(f, "hint", json_object_new_string(
    "a verified client certificate arrived but AUTH_MTLS_ENABLED is false, "
    "so it was ignored; set AUTH_MTLS_ENABLED=true to accept certificates"));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "auth", "mtls_disabled", f);
  json_object_put(f);
}

int vmb_auth_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  conf.api_key = cfg->auth_api_key_enabled;
  conf.jwt = cfg->auth_jwt_enabled;
  conf.mtls = cfg->auth_mtls_enabled;
  if(vmb_apikey_init(cfg, err, errlen))
    return -1;
  if(vmb_jwt_init(cfg, err, errlen))
    return -1;
  if(vmb_mtls_init(cfg, err, errlen))
    return -1;
  if(vmb_oauth_meta_init(cfg, err, errlen))
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
  if(!conf.mtls)
    note_mtls_disabled(req);
  if(key && conf.api_key) {
    enum vmb_auth_result r;
    *mode = "api_key";
    r = vmb_apikey_check(key, id, reason);
    if(r == VMB_AUTH_INVALID && *reason && !strcmp(*reason, "unknown_key")) {
      /* Keys issued through the admin API live in the registry. */
      int hit = vmb_registry_apikey(req, key, id);
      if(hit == 1) {
        *reason = NULL;
        return VMB_AUTH_OK;
      }
      if(hit < 0)
        *reason = "registry_unavailable";
    }
    return r;
  }
  if(authz && conf.jwt) {
    *mode = "jwt";
    if(strncasecmp(authz, "Bearer ", 7) != 0) {
      *reason = "not_bearer";
      return VMB_AUTH_INVALID;
    }
    authz += 7;
    while(*authz == ' ')
      authz++;
    return vmb_jwt_check_traced(authz, &req->trace, id, reason);
  }
  if(conf.mtls) {
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
