/*
** backend_kv.c - KV v2 operations inside the caller's namespace
** (SPEC sections 2 and 4; CONTRACT section 6).
**
** Every Vault path is {KV_MOUNT}/{kind}/{DEFAULT_PREFIX}/{subject}/{path};
** the path is checked by vmb_kv_path_check before anything is sent, and
** the subject comes only from authentication. Vault's quirks are turned
** into plain answers: a deleted or destroyed version is a 404 that says
** which, an empty listing is {"keys":[]}, a CAS mismatch is a 409.
*/
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "backends.h"
#include "nspath.h"
#include "vmb/arena.h"

/* The settings this backend reads, taken at start-up (vmb_kv_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *mount;                 /* KV_MOUNT */
  const char *default_prefix;        /* DEFAULT_PREFIX */
} conf;

int vmb_kv_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.mount = cfg->kv_mount;
  conf.default_prefix = cfg->default_prefix;
  return 0;
}

/* Build the Vault path for kind ("data", "metadata", ...) and a checked
   relative path. NULL (with c->detail) when the path is not allowed. */
static const char *kv_path(struct vmb_call *c, const char *kind, const char *rel,
                           bool folder)
{
  const char *why = vmb_kv_path_check(rel, folder, folder);
  if(why) {
    c->detail = vmb_arena_printf(c->req->arena, "invalid path: %s", why);
    return NULL;
  }
  return vmb_arena_printf(c->req->arena, "%s/%s/%s/%s/%s", conf.mount, kind,
                          conf.default_prefix, c->req->identity.subject, rel);
}

static void log_path(struct vmb_call *c, const char *path)
{
  json_object_object_add(c->log_fields, "path", json_object_new_string(path));
}

/* The version metadata Vault returns, reduced to what clients need. */
static json_object *version_meta(json_object *meta)
{
  json_object *m = json_object_new_object();
  vmb_json_copy(m, meta, "version");
  vmb_json_copy(m, meta, "created_time");
  vmb_json_copy(m, meta, "deletion_time");
  vmb_json_copy(m, meta, "destroyed");
  vmb_json_copy(m, meta, "custom_metadata");
  return m;
}

enum vmb_err vmb_h_kv_read(struct vmb_call *c)
{
  const char *rel = vmb_arg_str(c, "path"), *vpath;
  int64_t version = vmb_arg_int(c, "version", 0);
  struct vmb_vault_reply r;
  json_object *data, *inner = NULL, *meta = NULL;
  enum vmb_err e;

  if(!(vpath = kv_path(c, "data", rel, false)))
    return VMB_ERR_INVALID_PATH;
  if(version > 0)
    vpath = vmb_arena_printf(c->req->arena, "%s?version=%lld", vpath, (long long)version);
  log_path(c, rel);
  if(version > 0)
    json_object_object_add(c->log_fields, "version", json_object_new_int64(version));
  e = vmb_backend_vault(c, "kv.read", "GET", vpath, NULL, &r);
  data = vmb_reply_data(&r);
  if(data) {
    json_object_object_get_ex(data, "data", &inner);
    json_object_object_get_ex(data, "metadata", &meta);
  }
  if(e == VMB_ERR_NOT_FOUND && meta && json_object_is_type(meta, json_type_object)) {
    /* Vault's 404 with metadata: the version exists but is gone. */
    json_object *destroyed = NULL, *ver = NULL;
    json_object_object_get_ex(meta, "destroyed", &destroyed);
    json_object_object_get_ex(meta, "version", &ver);
    c->detail = vmb_arena_printf(c->req->arena, "version %lld of this secret is %s",
                                 (long long)(ver ? json_object_get_int64(ver) : version),
                                 destroyed && json_object_get_boolean(destroyed)
                                 ? "destroyed" : "deleted");
    return VMB_ERR_NOT_FOUND;
  }
  if(e == VMB_ERR_NOT_FOUND) {
    c->detail = version > 0 ? "no such version of this secret" : "secret not found";
    return e;
  }
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  if(!inner || !meta)
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "path", json_object_new_string(rel));
  json_object_object_add(c->result, "data", json_object_get(inner));
  vmb_json_copy(c->result, meta, "version");
  json_object_object_add(c->result, "metadata", version_meta(meta));
  {
    json_object *v;
    if(json_object_object_get_ex(meta, "version", &v))
      json_object_object_add(c->log_fields, "version", json_object_get(v));
  }
  return VMB_ERR_OK;
}

/* Shared by write and patch: {data, options.cas} -> new version. */
static enum vmb_err kv_write_common(struct vmb_call *c, const char *method,
                                    const char *opname)
{
  const char *rel = vmb_arg_str(c, "path"), *vpath;
  json_object *data = vmb_arg(c, "data"), *body, *cas = vmb_arg(c, "cas");
  struct vmb_vault_reply r;
  enum vmb_err e;

  if(!(vpath = kv_path(c, "data", rel, false)))
    return VMB_ERR_INVALID_PATH;
  log_path(c, rel);
  json_object_object_add(c->log_fields, "keys",
                         json_object_new_int(json_object_object_length(data)));
  body = json_object_new_object();
  json_object_object_add(body, "data", json_object_get(data));
  if(cas) {
    json_object *opts = json_object_new_object();
    json_object_object_add(opts, "cas", json_object_get(cas));
    json_object_object_add(body, "options", opts);
  }
  e = vmb_backend_vault(c, opname, method, vpath, body, &r);
  json_object_put(body);
  if(e == VMB_ERR_BAD_REQUEST && r.message && strstr(r.message, "check-and-set")) {
    c->detail = r.message;
    return strstr(r.message, "required") ? VMB_ERR_BAD_REQUEST : VMB_ERR_CONFLICT;
  }
  if(e == VMB_ERR_NOT_FOUND && !strcmp(method, "PATCH")) {
    c->detail = vmb_reply_data(&r) ? "the current version is deleted or destroyed"
                                   : "secret not found";
    return e;
  }
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "path", json_object_new_string(rel));
  if(vmb_reply_data(&r)) {
    vmb_json_copy(c->result, vmb_reply_data(&r), "version");
    vmb_json_copy(c->result, vmb_reply_data(&r), "created_time");
    vmb_json_copy(c->log_fields, vmb_reply_data(&r), "version");
  }
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_kv_write(struct vmb_call *c)
{
  return kv_write_common(c, "POST", "kv.write");
}

enum vmb_err vmb_h_kv_patch(struct vmb_call *c)
{
  return kv_write_common(c, "PATCH", "kv.patch");
}

enum vmb_err vmb_h_kv_list(struct vmb_call *c)
{
  const char *prefix = vmb_arg_str(c, "prefix"), *vpath;
  struct vmb_vault_reply r;
  json_object *data, *keys = NULL;
  enum vmb_err e;

  if(!prefix)
    prefix = "";
  if(!(vpath = kv_path(c, "metadata", prefix, true)))
    return VMB_ERR_INVALID_PATH;
  log_path(c, prefix);
  e = vmb_backend_vault(c, "kv.list", "LIST", vpath, NULL, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "prefix", json_object_new_string(prefix));
  if(e == VMB_ERR_NOT_FOUND) {
    /* Vault answers an empty folder with 404; to a client it is empty. */
    json_object_object_add(c->result, "keys", json_object_new_array());
    json_object_object_add(c->log_fields, "count", json_object_new_int(0));
    return VMB_ERR_OK;
  }
  if(e != VMB_ERR_OK) {
    json_object_put(c->result);
    c->result = NULL;
    return vmb_backend_fail(c, e, &r);
  }
  data = vmb_reply_data(&r);
  if(!data || !json_object_object_get_ex(data, "keys", &keys) ||
     !json_object_is_type(keys, json_type_array)) {
    json_object_put(c->result);
    c->result = NULL;
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  }
  json_object_object_add(c->result, "keys", json_object_get(keys));
  json_object_object_add(c->log_fields, "count",
                         json_object_new_int((int)json_object_array_length(keys)));
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_kv_delete(struct vmb_call *c)
{
  const char *rel = vmb_arg_str(c, "path"), *vpath;
  struct vmb_vault_reply r;
  enum vmb_err e;
  if(!(vpath = kv_path(c, "data", rel, false)))
    return VMB_ERR_INVALID_PATH;
  log_path(c, rel);
  e = vmb_backend_vault(c, "kv.delete", "DELETE", vpath, NULL, &r);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "path", json_object_new_string(rel));
  json_object_object_add(c->result, "deleted", json_object_new_boolean(1));
  return VMB_ERR_OK;
}

/* undelete and destroy: {versions:[...]} on undelete/ or destroy/. */
static enum vmb_err kv_versions_op(struct vmb_call *c, const char *kind,
                                   const char *method, const char *opname,
                                   const char *done_key)
{
  const char *rel = vmb_arg_str(c, "path"), *vpath;
  json_object *versions = vmb_arg(c, "versions"), *body;
  struct vmb_vault_reply r;
  enum vmb_err e;
  size_t i, n = json_object_array_length(versions);
  if(n == 0) {
    c->detail = "field 'versions' must list at least one version";
    return VMB_ERR_BAD_REQUEST;
  }
  for(i = 0; i < n; i++)
    if(json_object_get_int64(json_object_array_get_idx(versions, i)) < 1) {
      c->detail = "versions are positive integers";
      return VMB_ERR_BAD_REQUEST;
    }
  if(!(vpath = kv_path(c, kind, rel, false)))
    return VMB_ERR_INVALID_PATH;
  log_path(c, rel);
  json_object_object_add(c->log_fields, "versions", json_object_get(versions));
  body = json_object_new_object();
  json_object_object_add(body, "versions", json_object_get(versions));
  e = vmb_backend_vault(c, opname, method, vpath, body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "path", json_object_new_string(rel));
  json_object_object_add(c->result, done_key, json_object_get(versions));
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_kv_undelete(struct vmb_call *c)
{
  return kv_versions_op(c, "undelete", "POST", "kv.undelete", "undeleted");
}

enum vmb_err vmb_h_kv_destroy(struct vmb_call *c)
{
  return kv_versions_op(c, "destroy", "PUT", "kv.destroy", "destroyed");
}

enum vmb_err vmb_h_kv_metadata(struct vmb_call *c)
{
  const char *rel = vmb_arg_str(c, "path"), *vpath;
  struct vmb_vault_reply r;
  enum vmb_err e;
  json_object *data;
  if(!(vpath = kv_path(c, "metadata", rel, false)))
    return VMB_ERR_INVALID_PATH;
  log_path(c, rel);
  e = vmb_backend_vault(c, "kv.metadata", "GET", vpath, NULL, &r);
  if(e == VMB_ERR_NOT_FOUND) {
    c->detail = "secret not found";
    return e;
  }
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  data = vmb_reply_data(&r);
  if(!data)
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "path", json_object_new_string(rel));
  {
    static const char *const keys[] = {"current_version", "oldest_version", "max_versions",
      "cas_required", "created_time", "updated_time", "delete_version_after",
      "custom_metadata", "versions"};
    size_t i;
    for(i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
      vmb_json_copy(c->result, data, keys[i]);
  }
  return VMB_ERR_OK;
}
