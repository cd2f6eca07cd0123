/*
** backend.c - what every Vault-backed handler needs: the caller's token,
** one translation of Vault failures, small argument accessors.
*/
#include "backend.h"
#include "backends.h"

#include <string.h>

#include <openssl/crypto.h>

#include "policy.h"
#include "vmb/arena.h"

/* The settings the shared Vault helpers read, taken at start-up
   (vmb_backend_init). The string is BORROWED from the configuration. */
static struct {
  bool child_tokens;                /* CHILD_TOKEN_ENABLED */
  const char *policy_prefix;        /* CHILD_TOKEN_POLICY_PREFIX */
} conf;

int vmb_backend_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.child_tokens = cfg->child_token_enabled;
  conf.policy_prefix = cfg->child_token_policy_prefix;
  return 0;
}

enum vmb_err vmb_backend_vault(struct vmb_call *c, const char *op,
                               const char *method, const char *path,
                               json_object *body, struct vmb_vault_reply *reply)
{
  char token[512];
  const char *detail = NULL;
  enum vmb_err e;
  bool cached = false, rewrote = false;
  int attempt;
  if(!conf.child_tokens)
    return vmb_vault_call(c->req, op, method, path, body, NULL, reply);
  /* A cached child token dies with its parent (the bridge's token was
     revoked or re-issued after an AppRole login): a 403 under a cached
     token therefore earns one retry under a freshly minted token. A 403
     under a fresh token may mean Vault lost the subject's policy (a
     restarted dev server, an operator's mistake): the policy is written
     again before that one retry. A second 403 is the policy speaking. */
  for(attempt = 0; attempt < 3; attempt++) {
    e = vmb_vault_subject_token(c->req, c->req->identity.subject, token,
                                sizeof(token), &detail, &cached);
    if(e != VMB_ERR_OK) {
      memset(reply, 0, sizeof(*reply));
      c->detail = detail;
      return e;
    }
    e = vmb_vault_call(c->req, op, method, path, body, token, reply);
    OPENSSL_cleanse(token, sizeof(token));
    if(e != VMB_ERR_VAULT_DENIED || (!cached && rewrote))
      break;
    if(!cached) {
      vmb_policy_forget(c->req->identity.subject);
      rewrote = true;
    }
    vmb_vault_forget_subject_token(c->req->identity.subject);
  }
  return e;
}

enum vmb_err vmb_backend_vault_lease(struct vmb_call *c, const char *op,
                                     const char *method, const char *path,
                                     json_object *body, struct vmb_vault_reply *reply,
                                     long *token_ttl)
{
  char token[512];
  const char *detail = NULL;
  enum vmb_err e = VMB_ERR_OK;
  int attempt;
  *token_ttl = 0;
  if(!conf.child_tokens)
    return vmb_vault_call(c->req, op, method, path, body, NULL, reply);
  /* A fresh token each time, so a 403 is never a stale token; it may be
     a lost policy (see vmb_backend_vault): rewrite it once and retry. */
  for(attempt = 0; attempt < 2; attempt++) {
    e = vmb_vault_lease_token(c->req, c->req->identity.subject, token, sizeof(token),
                              token_ttl, &detail);
    if(e != VMB_ERR_OK) {
      memset(reply, 0, sizeof(*reply));
      c->detail = detail;
      return e;
    }
    e = vmb_vault_call(c->req, op, method, path, body, token, reply);
    /* A token whose call failed holds no lease: revoke it now rather
       than leave it for DB_LEASE_TOKEN_TTL. Not when Vault did not answer
       in time: a second call would double the caller's wait, and the
       token (with any lease a lost reply made) still ends at its TTL. */
    if(e != VMB_ERR_OK && e != VMB_ERR_VAULT_UNAVAILABLE)
      vmb_vault_drop_lease_token(c->req, token);
    OPENSSL_cleanse(token, sizeof(token));
    if(e != VMB_ERR_VAULT_DENIED || attempt > 0)
      break;
    vmb_policy_forget(c->req->identity.subject);
  }
  return e;
}

enum vmb_err vmb_backend_fail(struct vmb_call *c, enum vmb_err err,
                              const struct vmb_vault_reply *reply)
{
  if(c->detail)
    return err;
  switch(err) {
  case VMB_ERR_BAD_REQUEST:
    c->detail = reply->message ? reply->message : "Vault refused the request";
    break;
  case VMB_ERR_VAULT_DENIED: {
    char pol[VMB_POLICY_NAME_MAX];
    c->detail = conf.child_tokens &&
                !vmb_policy_name(conf.policy_prefix, c->req->identity.subject, pol, sizeof(pol))
      ? vmb_arena_printf(c->req->arena, "Vault denied the operation: the policy "
                         "%s does not allow it", pol)
      : "Vault denied the operation (permission denied)";
    break;
  }
  case VMB_ERR_NOT_FOUND:
    c->detail = "not found in Vault";
    break;
  case VMB_ERR_VAULT_UNAVAILABLE:
    c->detail = reply->status == 503 ? "Vault is sealed or in standby"
                                     : "Vault is unreachable or timed out";
    break;
  case VMB_ERR_VAULT_ERROR:
    c->detail = vmb_arena_printf(c->req->arena, "Vault answered with HTTP %ld",
                                 reply->status);
    break;
  default:
    break;
  }
  return err;
}

bool vmb_name_ok(const char *s, size_t n)
{
  size_t i;
  if(!s || n < 1 || n > 128)
    return false;
  for(i = 0; i < n; i++) {
    char ch = s[i];
    if(!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
      return false;
    if(ch == '.' && i + 1 < n && s[i + 1] == '.')
      return false;
  }
  return true;
}

const char *vmb_checked_name(struct vmb_call *c, const char *field)
{
  const char *v = vmb_arg_str(c, field);
  if(!v || !vmb_name_ok(v, strlen(v))) {
    c->detail = vmb_arena_printf(c->req->arena, "field '%s' must be 1 to 128 "
                                 "characters of A-Z a-z 0-9 _ . - (no '/' or '..')",
                                 field);
    return NULL;
  }
  json_object_object_add(c->log_fields, field, json_object_new_string(v));
  return v;
}

json_object *vmb_reply_data(const struct vmb_vault_reply *reply)
{
  json_object *d = NULL;
  if(reply->body && json_object_object_get_ex(reply->body, "data", &d) &&
     json_object_is_type(d, json_type_object))
    return d;
  return NULL;
}

void vmb_json_copy(json_object *dst, json_object *src, const char *key)
{
  json_object *v;
  if(src && json_object_object_get_ex(src, key, &v))
    json_object_object_add(dst, key, json_object_get(v));
}

const char *vmb_suffix(struct vmb_call *c, const char *s, size_t n)
{
  size_t len = s ? strlen(s) : 0;
  return vmb_arena_strdup(c->req->arena, len > n ? s + len - n : (s ? s : ""));
}

json_object *vmb_arg(struct vmb_call *c, const char *name)
{
  json_object *v = NULL;
  if(!json_object_object_get_ex(c->args, name, &v))
    return NULL;
  return v;
}

const char *vmb_arg_str(struct vmb_call *c, const char *name)
{
  json_object *v = vmb_arg(c, name);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t vmb_arg_int(struct vmb_call *c, const char *name, int64_t def)
{
  json_object *v = vmb_arg(c, name);
  return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

/*
** Vault not reached: say why ("reason" code, e.g. tls_unknown_ca, and the
** sentence naming the setting to check), so an operator behind a TLS
** Vault is not left with a bare "unreachable". The error text keeps the
** "vault unreachable" prefix that monitors match on.
*/
static const char *unreachable(json_object *vault, const struct vmb_vault_reply *r,
                               struct vmb_request *req)
{
  char *text;
  json_object_object_add(vault, "reachable", json_object_new_boolean(0));
  if(!r->failure)
    return "vault unreachable";
  json_object_object_add(vault, "reason", json_object_new_string(r->failure));
  text = vmb_arena_printf(req->arena, "vault unreachable: %s", r->failure_detail);
  return text ? text : "vault unreachable";
}

/*
** Readiness of the Vault side, shared by every Vault engine: Vault answers
** sys/health as initialised and unsealed, and our token is accepted by
** auth/token/lookup-self. Adds {"vault":{...}} to out (never the token).
*/
int vmb_vault_ready(struct vmb_request *req, json_object *out, const char **problem)
{
  struct vmb_vault_reply r;
  json_object *vault = json_object_new_object();
  enum vmb_err e;

  *problem = NULL;
  json_object_object_add(out, "vault", vault);
  e = vmb_vault_call(req, "sys.health", "GET",
                     "sys/health?standbyok=true&perfstandbyok=true", NULL, "", &r);
  if(r.status == 0) {
    *problem = unreachable(vault, &r, req);
  }
  else {
    json_object *sealed = NULL, *init = NULL;
    if(r.body) {
      json_object_object_get_ex(r.body, "sealed", &sealed);
      json_object_object_get_ex(r.body, "initialized", &init);
    }
    json_object_object_add(vault, "reachable", json_object_new_boolean(1));
    json_object_object_add(vault, "http_status", json_object_new_int((int)r.status));
    if(sealed)
      json_object_object_add(vault, "sealed", json_object_get(sealed));
    if(init)
      json_object_object_add(vault, "initialized", json_object_get(init));
    if(sealed && json_object_get_boolean(sealed))
      *problem = "vault is sealed";
    else if(init && !json_object_get_boolean(init))
      *problem = "vault is not initialised";
    else if(e != VMB_ERR_OK && r.status != 429 && r.status != 472 && r.status != 473)
      *problem = "vault health check failed";
  }
  if(!*problem) {
    e = vmb_vault_call(req, "auth.lookup_self", "GET",
                       "auth/token/lookup-self", NULL, NULL, &r);
    if(e == VMB_ERR_OK)
      json_object_object_add(vault, "token", json_object_new_string("valid"));
    else if(r.status == 0)
      *problem = unreachable(vault, &r, req);
    else if(r.status == 400 || r.status == 403 || r.status == 401)
      *problem = "vault token missing or refused";
    else
      *problem = "vault token lookup failed";
  }
  return *problem ? -1 : 0;
}
