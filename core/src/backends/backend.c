/*
** backend.c - what every Vault-backed handler needs: the caller's token,
** one translation of Vault failures, small argument accessors.
*/
#include "backend.h"
#include "backends.h"

#include <string.h>

#include <openssl/crypto.h>

#include "vmb/arena.h"

static const struct vmb_config *backend_cfg;

void vmb_backend_set_config(const struct vmb_config *cfg) { backend_cfg = cfg; }

enum vmb_err vmb_backend_vault(struct vmb_call *c, const char *op,
                               const char *method, const char *path,
                               json_object *body, struct vmb_vault_reply *reply)
{
  char token[512];
  const char *detail = NULL;
  enum vmb_err e;
  bool cached = false;
  int attempt;
  if(!backend_cfg || !backend_cfg->child_token_enabled)
    return vmb_vault_call(c->req, op, method, path, body, NULL, reply);
  /* A cached child token dies with its parent (the bridge's token was
     revoked or re-issued after an AppRole login): a 403 under a cached
     token therefore earns one retry under a freshly minted token. A 403
     under a fresh token is the policy speaking and is final. */
  for(attempt = 0; attempt < 2; attempt++) {
    e = vmb_vault_subject_token(c->req, c->req->identity.subject, token,
                                sizeof(token), &detail, &cached);
    if(e != VMB_ERR_OK) {
      memset(reply, 0, sizeof(*reply));
      c->detail = detail;
      return e;
    }
    e = vmb_vault_call(c->req, op, method, path, body, token, reply);
    OPENSSL_cleanse(token, sizeof(token));
    if(e != VMB_ERR_VAULT_DENIED || !cached)
      break;
    vmb_vault_forget_subject_token(c->req->identity.subject);
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
  case VMB_ERR_VAULT_DENIED:
    c->detail = backend_cfg && backend_cfg->child_token_enabled
      ? vmb_arena_printf(c->req->arena, "Vault denied the operation: the policy "
                         "%s%s does not allow it",
                         backend_cfg->child_token_policy_prefix,
                         c->req->identity.subject)
      : "Vault denied the operation (permission denied)";
    break;
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
