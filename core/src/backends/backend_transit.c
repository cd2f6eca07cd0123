/*
** backend_transit.c - Transit operations (SPEC section 4; CONTRACT
** section 7): encrypt, decrypt, rewrap, sign, verify, hmac and random.
**
** The bridge never holds key material: every operation is one call to
** {TRANSIT_MOUNT}/<action>/<key>, or sys/tools/random. What the bridge
** adds is checking the key name before it becomes part of a Vault path,
** and keeping every value that passes through (plaintext, ciphertext,
** signature input, random bytes) out of the logs: responses.log gets the
** key name, the key version and the outcome only (SPEC section 4).
**
** Base64 arguments are checked by the argument validator (VMB_ARG_BASE64)
** so a malformed one is refused, naming the field, before Vault is asked.
*/
#include <string.h>

#include "backend.h"
#include "backends.h"
#include "vmb/arena.h"

/* The settings this backend reads, taken at start-up (vmb_transit_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *mount;                 /* TRANSIT_MOUNT */
} conf;

int vmb_transit_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.mount = cfg->transit_mount;
  return 0;
}

/* The checked key name, or NULL with c->detail naming the field. */
static const char *transit_key(struct vmb_call *c)
{
  return vmb_checked_name(c, "key");
}

/* Copy the named arguments that are present into a Vault request body.
   names ends with NULL. The body takes its own references. */
static void copy_args(struct vmb_call *c, json_object *body, const char *const *names)
{
  for(; *names; names++) {
    json_object *v = vmb_arg(c, *names);
    if(v)
      json_object_object_add(body, *names, json_object_get(v));
  }
}

/*
** One Transit call: POST {mount}/{action}/{key} with body (BORROWED).
** On success *data is Vault's "data" object (borrowed from the reply,
** which lives until the request ends) and the key version, when Vault
** returned one, is logged. Failures come back already translated.
*/
static enum vmb_err transit_post(struct vmb_call *c, const char *opname,
                                 const char *action, const char *key,
                                 json_object *body, json_object **data)
{
  struct vmb_vault_reply r;
  enum vmb_err e;
  const char *path = vmb_arena_printf(c->req->arena, "%s/%s/%s",
                                      conf.mount, action, key);
  if(!path)
    return VMB_ERR_NOMEM;
  e = vmb_backend_vault(c, opname, "POST", path, body, &r);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  *data = vmb_reply_data(&r);
  if(!*data)
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  vmb_json_copy(c->log_fields, *data, "key_version");
  return VMB_ERR_OK;
}

/* A string member of Vault's data, or NULL (then the reply is malformed). */
static json_object *data_string(json_object *data, const char *name)
{
  json_object *v;
  if(json_object_object_get_ex(data, name, &v) && json_object_is_type(v, json_type_string))
    return v;
  return NULL;
}

/* Build c->result from members of Vault's data; all must be present. */
static enum vmb_err result_from(struct vmb_call *c, json_object *data,
                                const char *const *names)
{
  json_object *res = json_object_new_object();
  if(!res)
    return VMB_ERR_NOMEM;
  for(; *names; names++) {
    json_object *v;
    if(!json_object_object_get_ex(data, *names, &v)) {
      json_object_put(res);
      c->detail = vmb_arena_printf(c->req->arena, "Vault's answer lacks '%s'", *names);
      return VMB_ERR_VAULT_ERROR;
    }
    json_object_object_add(res, *names, json_object_get(v));
  }
  c->result = res;
  return VMB_ERR_OK;
}

/*
** Every keyed Transit operation has the same shape: copy the named
** arguments into the body, POST {mount}/{action}/{key}, and lift the named
** members of Vault's answer into the result. One row per operation.
*/
struct transit_action {
  const char *op;                 /* "transit.encrypt" */
  const char *action;             /* path segment after the mount */
  const char *const *in;          /* arguments sent to Vault */
  const char *const *out;         /* members of data kept in the result */
};

static enum vmb_err transit_keyed(struct vmb_call *c, const struct transit_action *t)
{
  const char *key = transit_key(c);
  json_object *body, *data = NULL;
  enum vmb_err e;
  if(!key)
    return VMB_ERR_BAD_REQUEST;
  body = json_object_new_object();
  if(!body)
    return VMB_ERR_NOMEM;
  copy_args(c, body, t->in);
  e = transit_post(c, t->op, t->action, key, body, &data);
  json_object_put(body);
  if(e == VMB_ERR_OK)
    e = result_from(c, data, t->out);
  return e;
}

enum vmb_err vmb_h_transit_encrypt(struct vmb_call *c)
{
  static const char *const in[] = {"plaintext", "context", "key_version", NULL};
  static const char *const out[] = {"ciphertext", "key_version", NULL};
  static const struct transit_action t = {"transit.encrypt", "encrypt", in, out};
  enum vmb_err e = transit_keyed(c, &t);
  if(e == VMB_ERR_OK)
    json_object_object_add(c->result, "key", json_object_new_string(vmb_arg_str(c, "key")));
  return e;
}

enum vmb_err vmb_h_transit_decrypt(struct vmb_call *c)
{
  static const char *const in[] = {"ciphertext", "context", NULL};
  static const char *const out[] = {"plaintext", NULL};
  static const struct transit_action t = {"transit.decrypt", "decrypt", in, out};
  return transit_keyed(c, &t);
}

enum vmb_err vmb_h_transit_rewrap(struct vmb_call *c)
{
  static const char *const in[] = {"ciphertext", "context", NULL};
  static const char *const out[] = {"ciphertext", "key_version", NULL};
  static const struct transit_action t = {"transit.rewrap", "rewrap", in, out};
  return transit_keyed(c, &t);
}

enum vmb_err vmb_h_transit_sign(struct vmb_call *c)
{
  static const char *const in[] = {"input", "hash_algorithm", "signature_algorithm",
                                   "marshaling_algorithm", NULL};
  static const char *const out[] = {"signature", "key_version", NULL};
  static const struct transit_action t = {"transit.sign", "sign", in, out};
  return transit_keyed(c, &t);
}

enum vmb_err vmb_h_transit_verify(struct vmb_call *c)
{
  static const char *const in[] = {"input", "signature", "hash_algorithm",
                                   "signature_algorithm", "marshaling_algorithm", NULL};
  static const char *const out[] = {"valid", NULL};
  static const struct transit_action t = {"transit.verify", "verify", in, out};
  enum vmb_err e = transit_keyed(c, &t);
  /* Whether a signature held is an outcome, not a secret. */
  if(e == VMB_ERR_OK)
    vmb_json_copy(c->log_fields, c->result, "valid");
  return e;
}

enum vmb_err vmb_h_transit_hmac(struct vmb_call *c)
{
  static const char *const in[] = {"input", "algorithm", NULL};
  static const char *const out[] = {"hmac", NULL};
  static const struct transit_action t = {"transit.hmac", "hmac", in, out};
  return transit_keyed(c, &t);
}

/*
** Random bytes come from sys/tools/random, which only accepts POST
** (CONTRACT 7.11); the REST route is a GET because it changes nothing.
** The byte count is bounded by the operation's schema (1..1024), far
** below Vault's own limit, so one agent cannot make Vault spin.
*/
enum vmb_err vmb_h_transit_random(struct vmb_call *c)
{
  struct vmb_vault_reply r;
  json_object *body, *data, *rnd;
  int64_t bytes = vmb_arg_int(c, "bytes", 32);
  const char *format = vmb_arg_str(c, "format");
  enum vmb_err e;
  if(!format)
    format = "base64";
  json_object_object_add(c->log_fields, "bytes", json_object_new_int64(bytes));
  json_object_object_add(c->log_fields, "format", json_object_new_string(format));
  body = json_object_new_object();
  if(!body)
    return VMB_ERR_NOMEM;
  json_object_object_add(body, "bytes", json_object_new_int64(bytes));
  json_object_object_add(body, "format", json_object_new_string(format));
  e = vmb_backend_vault(c, "transit.random", "POST", "sys/tools/random", body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  data = vmb_reply_data(&r);
  if(!data || !(rnd = data_string(data, "random_bytes")))
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  json_object_object_add(c->result, "random", json_object_get(rnd));
  json_object_object_add(c->result, "format", json_object_new_string(format));
  json_object_object_add(c->result, "bytes", json_object_new_int64(bytes));
  return VMB_ERR_OK;
}
