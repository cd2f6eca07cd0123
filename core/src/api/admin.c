/*
** admin.c - the admin API on the subject registry (scope admin, REST
** only; docs/registry.md documents every route).
**
** Every change is a check-and-set write of the subject's KV v2 document
** (two admins never silently overwrite each other: 409 conflict), then
** the subject's Vault policy is written from its grants, then the shared
** generation is bumped so every worker of the host reloads. API keys are
** generated here, returned once, and stored only as SHA-256, key id,
** creation time and last four characters.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "backend.h"
#include "api.h"
#include "nspath.h"
#include "policy.h"
#include "registry.h"
#include "scope.h"
#include "util.h"
#include "vault_auth.h"
#include "vmb/arena.h"
#include "vmb/log.h"

#define MAX_KEYS_PER_SUBJECT 32
#define PROFILE_MAX_KEYS 32
#define PROFILE_MAX_BYTES 16384

/* The settings the admin API reads, taken at start-up (vmb_admin_init);
   strings BORROWED from the configuration, which outlives requests. */
static struct {
  bool registry;                    /* REGISTRY_ENABLED */
  bool jwt;                         /* AUTH_JWT_ENABLED */
  const char *hs256_secret;         /* JWT_HS256_SECRET (secret) */
  const char *issuer, *audience;    /* JWT_ISSUER, JWT_AUDIENCE */
} conf = {.hs256_secret = "", .issuer = "", .audience = ""};

int vmb_admin_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.registry = cfg->registry_enabled;
  conf.jwt = cfg->auth_jwt_enabled;
  conf.hs256_secret = cfg->jwt_hs256_secret;
  conf.issuer = cfg->jwt_issuer;
  conf.audience = cfg->jwt_audience;
  return 0;
}

static void json_put(void *p) { json_object_put(p); }

/* Keep a NEW reference alive until the request ends; NULL on OOM. */
static json_object *own(struct vmb_call *c, json_object *o)
{
  if(!o || vmb_arena_defer(c->req->arena, json_put, o))
    return NULL;
  return o;
}

static void now_text(char *out, size_t n) { vmb_rfc3339_format((long long)time(NULL), out, n); }

/* One line in server.log per change: who did what to which subject. */
static void audit(struct vmb_call *c, const char *action, const char *subject,
                  const char *key_id)
{
  json_object *f = json_object_new_object();
  json_object_object_add(f, "request_id", json_object_new_string(c->req->request_id));
  json_object_object_add(f, "actor", json_object_new_string(c->req->identity.subject));
  json_object_object_add(f, "action", json_object_new_string(action));
  json_object_object_add(f, "subject", json_object_new_string(subject));
  if(key_id)
    json_object_object_add(f, "key_id", json_object_new_string(key_id));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "admin", "registry change", f);
  json_object_put(f);
}

/* Every admin handler starts here: the registry must be on. */
#define REGISTRY_ON(c)                                                        \
  do {                                                                        \
    if(!conf.registry) {                                                      \
      (c)->detail = "the subject registry is off (REGISTRY_ENABLED=false)";  \
      return VMB_ERR_NOT_ENABLED;                                             \
    }                                                                         \
  } while(0)

/* The path parameter subject, checked; NULL with c->detail otherwise. */
static const char *subject_arg(struct vmb_call *c)
{
  const char *s = vmb_arg_str(c, "subject");
  if(!s || !vmb_subject_valid(s)) {
    c->detail = "subject must be 1 to 128 characters of A-Z a-z 0-9 . _ - @";
    return NULL;
  }
  return s;
}

/* ---- validation of the writable fields -------------------------------- */

static const char *const scope_list[] = {"read", "write", "delete", "list", "admin"};

static enum vmb_err check_scopes(struct vmb_call *c, json_object *arr)
{
  size_t i, j, n = json_object_array_length(arr);
  for(i = 0; i < n; i++) {
    const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
    for(j = 0; j < 5; j++)
      if(s && !strcmp(s, scope_list[j]))
        break;
    if(j == 5) {
      c->detail = vmb_arena_printf(c->req->arena, "scopes[%zu] must be one of read, write, "
                                   "delete, list, admin", i);
      return VMB_ERR_BAD_REQUEST;
    }
  }
  return VMB_ERR_OK;
}

static bool profile_key_ok(const char *k)
{
  size_t n = strlen(k), i;
  if(n < 1 || n > 64)
    return false;
  for(i = 0; i < n; i++)
    if(!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
      return false;
  return true;
}

/* Merge patch p into profile (NEW object returned in *out): null removes
   a field. Known fields have fixed types; others are scalars or arrays
   of short strings. */
static enum vmb_err merge_profile(struct vmb_call *c, json_object *old, json_object *p,
                                  json_object **out)
{
  json_object *res = json_object_new_object();
  const char *why = NULL;
  if(!res)
    return VMB_ERR_NOMEM;
  if(old && json_object_is_type(old, json_type_object)) {
    json_object_object_foreach(old, k, v)
      json_object_object_add(res, k, json_object_get(v));
  }
  json_object_object_foreach(p, k, v) {
    enum json_type t = json_object_get_type(v);
    if(!profile_key_ok(k)) {
      why = vmb_arena_printf(c->req->arena, "profile field names are 1 to 64 characters "
                             "of a-z 0-9 _ (got '%.64s')", k);
      break;
    }
    if(t == json_type_null) {
      json_object_object_del(res, k);
      continue;
    }
    if(!strcmp(k, "llm_enabled") && t != json_type_boolean)
      why = "profile.llm_enabled must be true or false";
    else if(!strcmp(k, "secrets_backend") &&
            (t != json_type_string || (strcmp(json_object_get_string(v), "vault") &&
                                       strcmp(json_object_get_string(v), "kms") &&
                                       strcmp(json_object_get_string(v), "hybrid"))))
      why = "profile.secrets_backend must be vault, kms or hybrid";
    else if(!strcmp(k, "tasks") && t != json_type_array)
      why = "profile.tasks must be an array of strings";
    else if(!strcmp(k, "status") && (t != json_type_string ||
                                     json_object_get_string_len(v) > 64))
      why = "profile.status must be a string of at most 64 characters";
    else if(t == json_type_object)
      why = vmb_arena_printf(c->req->arena, "profile.%s: nested objects are not allowed", k);
    else if(t == json_type_string && json_object_get_string_len(v) > 1024)
      why = vmb_arena_printf(c->req->arena, "profile.%s: at most 1024 characters", k);
    else if(t == json_type_array) {
      size_t i, n = json_object_array_length(v);
      if(n > 64)
        why = vmb_arena_printf(c->req->arena, "profile.%s: at most 64 items", k);
      for(i = 0; !why && i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if(!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) > 256)
          why = vmb_arena_printf(c->req->arena, "profile.%s[%zu] must be a string of at "
                                 "most 256 characters", k, i);
      }
    }
    if(why)
      break;
    json_object_object_add(res, k, json_object_get(v));
  }
  if(!why && (json_object_object_length(res) > PROFILE_MAX_KEYS ||
              strlen(json_object_to_json_string(res)) > PROFILE_MAX_BYTES))
    why = "profile is too large (at most 32 fields, 16 KiB)";
  if(why) {
    json_object_put(res);
    c->detail = why;
    return VMB_ERR_BAD_REQUEST;
  }
  *out = res;
  return VMB_ERR_OK;
}

/* Apply the writable fields of the call's arguments to rec (BORROWED,
   modified in place). create sets defaults for what is absent. */
static enum vmb_err apply_fields(struct vmb_call *c, json_object *rec, bool create)
{
  json_object *v;
  char ts[32];
  enum vmb_err e;
  now_text(ts, sizeof(ts));
  if((v = vmb_arg(c, "description")))
    json_object_object_add(rec, "description", json_object_get(v));
  else if(create)
    json_object_object_add(rec, "description", json_object_new_string(""));
  if((v = vmb_arg(c, "enabled")))
    json_object_object_add(rec, "enabled", json_object_get(v));
  else if(create)
    json_object_object_add(rec, "enabled", json_object_new_boolean(1));
  if((v = vmb_arg(c, "expires_at"))) {
    const char *s = json_object_get_string(v);
    if(*s && vmb_rfc3339_parse(s) < 0) {
      c->detail = "expires_at must be RFC 3339 UTC (2027-01-31T00:00:00Z) or \"\" for never";
      return VMB_ERR_BAD_REQUEST;
    }
    json_object_object_add(rec, "expires_at", *s ? json_object_get(v) : NULL);
  }
  else if(create)
    json_object_object_add(rec, "expires_at", NULL);
  if((v = vmb_arg(c, "scopes"))) {
    if((e = check_scopes(c, v)) != VMB_ERR_OK)
      return e;
    json_object_object_add(rec, "scopes", vmb_scopes_to_json(vmb_scopes_parse_json(v)));
  }
  else if(create)
    json_object_object_add(rec, "scopes", vmb_scopes_to_json(VMB_SCOPES_DEFAULT));
  if((v = vmb_arg(c, "grants")) || create) {
    const char *why = NULL;
    const struct vmb_grant_set *g = vmb_grants_from_json(c->req->arena, v, &why);
    if(!g) {
      c->detail = why;
      return VMB_ERR_BAD_REQUEST;
    }
    json_object_object_add(rec, "grants", vmb_grants_to_json(g));
  }
  /* Response wrapping policy (docs/wrapping.md); the argument row's enum
     already limits it to never|optional|always. */
  if((v = vmb_arg(c, "wrap")))
    json_object_object_add(rec, "wrap", json_object_get(v));
  else if(create)
    json_object_object_add(rec, "wrap", json_object_new_string("optional"));
  if((v = vmb_arg(c, "profile")) || create) {
    json_object *old = NULL, *merged = NULL;
    json_object *empty = json_object_new_object();
    json_object_object_get_ex(rec, "profile", &old);
    e = merge_profile(c, old, v ? v : empty, &merged);
    json_object_put(empty);
    if(e != VMB_ERR_OK)
      return e;
    json_object_object_add(rec, "profile", merged);
  }
  if(create) {
    json_object_object_add(rec, "created_at", json_object_new_string(ts));
    json_object_object_add(rec, "api_keys", json_object_new_array());
    json_object_object_add(rec, "jwt_created_at", NULL);
    json_object_object_add(rec, "jwt_expires_at", NULL);
    json_object_object_add(rec, "jwt_ttl_seconds", NULL);
  }
  json_object_object_add(rec, "updated_at", json_object_new_string(ts));
  return VMB_ERR_OK;
}

/* ---- views ------------------------------------------------------------ */

/* The record as the API shows it: everything but the key digests. NEW. */
static json_object *public_view(const char *subject, json_object *rec, long version)
{
  json_object *out = json_object_new_object(), *keys;
  char pol[VMB_POLICY_NAME_MAX];
  if(!out)
    return NULL;
  json_object_object_foreach(rec, k, v) {
    if(!strcmp(k, "api_keys"))
      continue;
    json_object_object_add(out, k, json_object_get(v));
  }
  json_object_object_add(out, "subject", json_object_new_string(subject));
  keys = json_object_new_array();
  if(json_object_object_get_ex(rec, "api_keys", &rec) &&
     json_object_is_type(rec, json_type_array)) {
    size_t i, n = json_object_array_length(rec);
    for(i = 0; i < n; i++) {
      json_object *ko = json_object_array_get_idx(rec, i), *o = json_object_new_object();
      vmb_json_copy(o, ko, "key_id");
      vmb_json_copy(o, ko, "created");
      vmb_json_copy(o, ko, "last4");
      json_object_array_add(keys, o);
    }
  }
  json_object_object_add(out, "api_keys", keys);
  json_object_object_add(out, "version", json_object_new_int64(version));
  if(!vmb_policy_name_of(subject, pol, sizeof(pol)))
    json_object_object_add(out, "vault_policy", json_object_new_string(pol));
  return out;
}

/* Store rec with check-and-set, then the policy, then tell the host. The
   result is the public view plus whether the policy was written. */
static enum vmb_err commit(struct vmb_call *c, const char *subject, json_object *rec,
                           long cas, const char *action, const char *key_id)
{
  long version = 0;
  json_object *g = NULL;
  const struct vmb_grant_set *gs;
  const char *why = NULL;
  enum vmb_err e = vmb_registry_write(c->req, subject, rec, cas, &version);
  if(e == VMB_ERR_CONFLICT) {
    c->detail = cas == 0 ? "a subject with this name exists already"
                         : "the record changed since it was read (version mismatch); "
                           "read it again and retry";
    return e;
  }
  if(e != VMB_ERR_OK) {
    c->detail = "the registry could not be written in Vault";
    return e;
  }
  vmb_registry_changed();
  audit(c, action, subject, key_id);
  json_object_object_get_ex(rec, "grants", &g);
  gs = vmb_grants_from_json(c->req->arena, g, &why);
  c->result = public_view(subject, rec, version);
  if(!c->result)
    return VMB_ERR_NOMEM;
  e = gs ? vmb_policy_write(c->req, subject, gs) : VMB_ERR_INTERNAL;
  json_object_object_add(c->result, "vault_policy_written", json_object_new_boolean(e == VMB_ERR_OK));
  if(e != VMB_ERR_OK)
    vmb_log_server(VMB_LOG_WARN, "admin", "the subject's Vault policy could not be written");
  return VMB_ERR_OK;
}

/* Read a record for a change: NEW-in-arena record and its version. */
static enum vmb_err load(struct vmb_call *c, const char *subject, json_object **rec,
                         long *version)
{
  enum vmb_err e = vmb_registry_read(c->req, subject, rec, version);
  if(e == VMB_ERR_NOT_FOUND) {
    c->detail = "no such subject in the registry";
    return e;
  }
  if(e != VMB_ERR_OK) {
    c->detail = "the registry could not be read from Vault";
    return e;
  }
  if(!own(c, *rec))
    return VMB_ERR_NOMEM;
  return VMB_ERR_OK;
}

/* ---- handlers --------------------------------------------------------- */

enum vmb_err vmb_h_admin_list(struct vmb_call *c)
{
  json_object *names = NULL, *items;
  enum vmb_err e;
  size_t i, n;
  REGISTRY_ON(c);
  e = vmb_registry_list(c->req, &names);
  if(e != VMB_ERR_OK) {
    c->detail = "the registry could not be read from Vault";
    return e;
  }
  if(!own(c, names) || !(items = json_object_new_array()))
    return VMB_ERR_NOMEM;
  n = json_object_array_length(names);
  for(i = 0; i < n; i++) {
    const char *s = json_object_get_string(json_object_array_get_idx(names, i));
    json_object *rec = NULL;
    long ver = 0;
    if(vmb_registry_read(c->req, s, &rec, &ver) != VMB_ERR_OK)
      continue;
    json_object_array_add(items, public_view(s, rec, ver));
    json_object_put(rec);
  }
  c->result = json_object_new_object();
  json_object_object_add(c->result, "subjects", items);
  json_object_object_add(c->result, "count",
                         json_object_new_int64((int64_t)json_object_array_length(items)));
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_admin_create(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if(!(rec = own(c, json_object_new_object())))
    return VMB_ERR_NOMEM;
  json_object_object_add(rec, "subject", json_object_new_string(s));
  if((e = apply_fields(c, rec, true)) != VMB_ERR_OK)
    return e;
  e = commit(c, s, rec, 0, "create", NULL);
  if(e == VMB_ERR_OK)
    c->created = true;
  return e;
}

enum vmb_err vmb_h_admin_get(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec;
  long ver;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  c->result = public_view(s, rec, ver);
  return c->result ? VMB_ERR_OK : VMB_ERR_NOMEM;
}

enum vmb_err vmb_h_admin_patch(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec;
  long ver, want;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  /* With "version", the write only lands on that version (the console
     sends what it showed); without it, on the version just read. */
  want = (long)vmb_arg_int(c, "version", ver);
  if(want != ver) {
    c->detail = "the record changed since it was read (version mismatch); read it again "
                "and retry";
    return VMB_ERR_CONFLICT;
  }
  if((e = apply_fields(c, rec, false)) != VMB_ERR_OK)
    return e;
  e = commit(c, s, rec, want, "update", NULL);
  if(e == VMB_ERR_OK)
    vmb_vault_forget_subject_token(s);   /* a disabled subject mints no more */
  return e;
}

enum vmb_err vmb_h_admin_delete(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec;
  long ver;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  if((e = vmb_registry_delete(c->req, s)) != VMB_ERR_OK) {
    c->detail = "the registry could not be written in Vault";
    return e;
  }
  vmb_registry_changed();
  vmb_vault_forget_subject_token(s);
  audit(c, "delete", s, NULL);
  e = vmb_policy_delete(c->req, s);
  c->result = json_object_new_object();
  json_object_object_add(c->result, "subject", json_object_new_string(s));
  json_object_object_add(c->result, "deleted", json_object_new_boolean(1));
  json_object_object_add(c->result, "vault_policy_deleted", json_object_new_boolean(e == VMB_ERR_OK));
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_admin_add_key(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec, *keys, *ko;
  char rnd[65], id[16], key[80], hex[65], ts[32];
  unsigned char d[32];
  unsigned int dl = 32;
  long ver;
  size_t i;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  if(!json_object_object_get_ex(rec, "api_keys", &keys) ||
     !json_object_is_type(keys, json_type_array)) {
    keys = json_object_new_array();
    json_object_object_add(rec, "api_keys", keys);
  }
  if(json_object_array_length(keys) >= MAX_KEYS_PER_SUBJECT) {
    c->detail = "this subject has the most API keys allowed (32); revoke one first";
    return VMB_ERR_CONFLICT;
  }
  if(vmb_random_hex(rnd, 32) || vmb_random_hex(hex, 6))
    return VMB_ERR_INTERNAL;
  snprintf(id, sizeof(id), "k_%.12s", hex);
  snprintf(key, sizeof(key), "vmb_%s", rnd);
  OPENSSL_cleanse(rnd, sizeof(rnd));
  if(EVP_Digest(key, strlen(key), d, &dl, EVP_sha256(), NULL) != 1) {
    OPENSSL_cleanse(key, sizeof(key));
    return VMB_ERR_INTERNAL;
  }
  for(i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  now_text(ts, sizeof(ts));
  ko = json_object_new_object();
  json_object_object_add(ko, "key_id", json_object_new_string(id));
  json_object_object_add(ko, "sha256", json_object_new_string(hex));
  json_object_object_add(ko, "created", json_object_new_string(ts));
  json_object_object_add(ko, "last4", json_object_new_string(key + strlen(key) - 4));
  json_object_array_add(keys, ko);
  now_text(ts, sizeof(ts));
  json_object_object_add(rec, "updated_at", json_object_new_string(ts));
  e = commit(c, s, rec, ver, "add_key", id);
  if(e == VMB_ERR_OK) {
    /* The key itself is shown once, here, and stored nowhere. */
    char *copy = vmb_arena_strdup(c->req->arena, key);
    if(!copy || vmb_arena_wipe_later(c->req->arena, copy, strlen(copy))) {
      OPENSSL_cleanse(key, sizeof(key));
      return VMB_ERR_NOMEM;
    }
    json_object_object_add(c->result, "key_id", json_object_new_string(id));
    json_object_object_add(c->result, "api_key", json_object_new_string(copy));
    json_object_object_add(c->result, "last4", json_object_new_string(copy + strlen(copy) - 4));
    c->created = true;
  }
  OPENSSL_cleanse(key, sizeof(key));
  return e;
}

enum vmb_err vmb_h_admin_revoke_key(struct vmb_call *c)
{
  const char *s = subject_arg(c), *kid = vmb_arg_str(c, "key_id");
  json_object *rec, *keys, *kept;
  long ver;
  size_t i, n;
  bool found = false;
  char ts[32];
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if(!kid || !vmb_is_token(kid, 64)) {
    c->detail = "key_id must be a key id such as k_0123456789ab";
    return VMB_ERR_BAD_REQUEST;
  }
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  if(!(kept = json_object_new_array()))
    return VMB_ERR_NOMEM;
  if(json_object_object_get_ex(rec, "api_keys", &keys) &&
     json_object_is_type(keys, json_type_array)) {
    n = json_object_array_length(keys);
    for(i = 0; i < n; i++) {
      json_object *ko = json_object_array_get_idx(keys, i), *idv;
      if(json_object_object_get_ex(ko, "key_id", &idv) &&
         !strcmp(json_object_get_string(idv), kid)) {
        found = true;
        continue;
      }
      json_object_array_add(kept, json_object_get(ko));
    }
  }
  if(!found) {
    json_object_put(kept);
    c->detail = "this subject has no API key with that key_id";
    return VMB_ERR_NOT_FOUND;
  }
  json_object_object_add(rec, "api_keys", kept);
  now_text(ts, sizeof(ts));
  json_object_object_add(rec, "updated_at", json_object_new_string(ts));
  e = commit(c, s, rec, ver, "revoke_key", kid);
  if(e == VMB_ERR_OK)
    json_object_object_add(c->result, "revoked_key_id", json_object_new_string(kid));
  return e;
}

/* base64url of a JSON document's compact text, malloc'ed. */
static char *b64url_json(json_object *o)
{
  const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
  return vmb_b64url_encode((const unsigned char *)t, strlen(t));
}

enum vmb_err vmb_h_admin_issue_jwt(struct vmb_call *c)
{
  const char *s = subject_arg(c);
  json_object *rec, *hdr, *pl, *v, *scopes;
  long ver;
  long long now = (long long)time(NULL), ttl;
  unsigned rec_scopes, want;
  char *h64 = NULL, *p64 = NULL, *sig64 = NULL, *input = NULL, jti[33], ts[32], exp[32];
  unsigned char mac[32];
  unsigned int maclen = 32;
  enum vmb_err e;
  REGISTRY_ON(c);
  if(!s)
    return VMB_ERR_BAD_REQUEST;
  if(!*conf.hs256_secret || !conf.jwt) {
    c->detail = "issuing tokens needs AUTH_JWT_ENABLED and JWT_HS256_SECRET";
    return VMB_ERR_NOT_ENABLED;
  }
  if((e = load(c, s, &rec, &ver)) != VMB_ERR_OK)
    return e;
  if(!json_object_object_get_ex(rec, "enabled", &v) || !json_object_get_boolean(v)) {
    c->detail = "the subject is disabled; enable it before issuing a token";
    return VMB_ERR_CONFLICT;
  }
  rec_scopes = json_object_object_get_ex(rec, "scopes", &v) ? vmb_scopes_parse_json(v) : 0;
  want = rec_scopes;
  if((scopes = vmb_arg(c, "scopes"))) {
    if((e = check_scopes(c, scopes)) != VMB_ERR_OK)
      return e;
    want = vmb_scopes_parse_json(scopes);
    if((want & rec_scopes) != want) {
      c->detail = "scopes must be a subset of the subject's scopes";
      return VMB_ERR_BAD_REQUEST;
    }
  }
  ttl = vmb_arg_int(c, "ttl", 3600);
  if(json_object_object_get_ex(rec, "expires_at", &v) && json_object_is_type(v, json_type_string)) {
    long long until = vmb_rfc3339_parse(json_object_get_string(v));
    if(until > 0 && now + ttl > until)
      ttl = until - now;   /* a token never outlives its subject */
    if(ttl <= 0) {
      c->detail = "the subject has expired";
      return VMB_ERR_CONFLICT;
    }
  }
  if(vmb_random_hex(jti, 16))
    return VMB_ERR_INTERNAL;
  hdr = own(c, json_object_new_object());
  pl = own(c, json_object_new_object());
  if(!hdr || !pl)
    return VMB_ERR_NOMEM;
  json_object_object_add(hdr, "alg", json_object_new_string("HS256"));
  json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
  json_object_object_add(pl, "iss", json_object_new_string(conf.issuer));
  json_object_object_add(pl, "aud", json_object_new_string(conf.audience));
  json_object_object_add(pl, "sub", json_object_new_string(s));
  json_object_object_add(pl, "iat", json_object_new_int64(now));
  json_object_object_add(pl, "nbf", json_object_new_int64(now));
  json_object_object_add(pl, "exp", json_object_new_int64(now + ttl));
  json_object_object_add(pl, "jti", json_object_new_string(jti));
  json_object_object_add(pl, "scopes", vmb_scopes_to_json(want));
  h64 = b64url_json(hdr);
  p64 = b64url_json(pl);
  input = h64 && p64 ? vmb_arena_printf(c->req->arena, "%s.%s", h64, p64) : NULL;
  free(h64);
  free(p64);
  if(!input || !HMAC(EVP_sha256(), conf.hs256_secret, (int)strlen(conf.hs256_secret),
                     (const unsigned char *)input, strlen(input), mac, &maclen))
    return VMB_ERR_INTERNAL;
  sig64 = vmb_b64url_encode(mac, maclen);
  OPENSSL_cleanse(mac, sizeof(mac));
  if(!sig64)
    return VMB_ERR_NOMEM;
  vmb_rfc3339_format(now, ts, sizeof(ts));
  vmb_rfc3339_format(now + ttl, exp, sizeof(exp));
  json_object_object_add(rec, "jwt_created_at", json_object_new_string(ts));
  json_object_object_add(rec, "jwt_expires_at", json_object_new_string(exp));
  json_object_object_add(rec, "jwt_ttl_seconds", json_object_new_int64(ttl));
  json_object_object_add(rec, "updated_at", json_object_new_string(ts));
  e = commit(c, s, rec, ver, "issue_jwt", NULL);
  if(e == VMB_ERR_OK) {
    char *tok = vmb_arena_printf(c->req->arena, "%s.%s", input, sig64);
    if(!tok || vmb_arena_wipe_later(c->req->arena, tok, strlen(tok)))
      e = VMB_ERR_NOMEM;
    else {
      json_object *r = json_object_new_object();
      json_object_object_add(r, "subject", json_object_new_string(s));
      json_object_object_add(r, "token", json_object_new_string(tok));
      json_object_object_add(r, "token_type", json_object_new_string("Bearer"));
      json_object_object_add(r, "expires_at", json_object_new_string(exp));
      json_object_object_add(r, "ttl_seconds", json_object_new_int64(ttl));
      json_object_object_add(r, "scopes", vmb_scopes_to_json(want));
      json_object_put(c->result);
      c->result = r;
    }
  }
  OPENSSL_cleanse(sig64, strlen(sig64));
  free(sig64);
  return e;
}

#define CSV_MAX_BYTES (8u * 1024u * 1024u)

/* One CSV cell: quoted, quotes doubled, and a leading = + - @ neutralised
   with a quote mark so a spreadsheet never evaluates it. */
static int csv_cell(struct vmb_buf *b, const char *s, bool last)
{
  int bad = vmb_buf_append_str(b, "\"");
  if(s && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
    bad |= vmb_buf_append_str(b, "'");
  for(; s && *s; s++) {
    char ch[2] = {*s, 0};
    if(*s == '"')
      bad |= vmb_buf_append_str(b, "\"\"");
    else if((unsigned char)*s >= 0x20)
      bad |= vmb_buf_append_str(b, ch);
  }
  bad |= vmb_buf_append_str(b, last ? "\"\r\n" : "\",");
  return bad;
}

/* A member as cell text: strings as they are, arrays joined by ' ',
   other values as JSON. Arena string. */
static const char *cell_of(struct vmb_call *c, json_object *o, const char *key)
{
  json_object *v;
  if(!o || !json_object_object_get_ex(o, key, &v) || !v)
    return "";
  if(json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  if(json_object_is_type(v, json_type_array)) {
    struct vmb_buf b;
    size_t i, n = json_object_array_length(v);
    const char *out;
    vmb_buf_init(&b, 1u << 20);
    for(i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(v, i);
      json_object *kid;
      const char *t = json_object_object_get_ex(e, "key_id", &kid) ? json_object_get_string(kid)
                                                                  : json_object_get_string(e);
      if(i)
        vmb_buf_append_str(&b, " ");
      vmb_buf_append_str(&b, t ? t : "");
    }
    out = vmb_arena_strndup(c->req->arena, b.data ? b.data : "", b.len);
    vmb_buf_free(&b);
    return out ? out : "";
  }
  return vmb_arena_strdup(c->req->arena, json_object_to_json_string(v));
}

enum vmb_err vmb_h_admin_csv(struct vmb_call *c)
{
  static const char *const cols[] = {
    "subject", "description", "enabled", "created_at", "updated_at", "expires_at",
    "scopes", "transit_keys", "db_roles", "ssh_roles", "kms_keys", "api_keys",
    "jwt_created_at", "jwt_expires_at", "jwt_ttl_seconds", "llm_enabled", "tasks",
    "secrets_backend", "status"};
  const size_t ncols = sizeof(cols) / sizeof(cols[0]);
  json_object *names = NULL;
  struct vmb_buf csv, *b = &csv;
  char *body;
  enum vmb_err e;
  size_t i, j, n;
  int bad = 0;
  REGISTRY_ON(c);
  e = vmb_registry_list(c->req, &names);
  if(e != VMB_ERR_OK) {
    c->detail = "the registry could not be read from Vault";
    return e;
  }
  if(!own(c, names))
    return VMB_ERR_NOMEM;
  /* The cap is the response's (the transport's 8 MiB). */
  vmb_buf_init(b, CSV_MAX_BYTES);
  for(j = 0; j < ncols; j++)
    bad |= csv_cell(b, cols[j], j + 1 == ncols);
  n = json_object_array_length(names);
  for(i = 0; i < n; i++) {
    const char *s = json_object_get_string(json_object_array_get_idx(names, i));
    json_object *rec = NULL, *g = NULL, *p = NULL;
    long ver;
    if(vmb_registry_read(c->req, s, &rec, &ver) != VMB_ERR_OK || !own(c, rec))
      continue;
    json_object_object_get_ex(rec, "grants", &g);
    json_object_object_get_ex(rec, "profile", &p);
    for(j = 0; j < ncols; j++) {
      const char *col = cols[j], *t;
      if(j >= 7 && j <= 10)
        t = cell_of(c, g, col);
      else if(j >= 15)
        t = cell_of(c, p, col);
      else if(!strcmp(col, "subject"))
        t = s;
      else
        t = cell_of(c, rec, col);
      bad |= csv_cell(b, t, j + 1 == ncols);
    }
  }
  if(bad) {
    vmb_buf_free(b);
    return VMB_ERR_INTERNAL;
  }
  /* A document result; the request arena frees the text after the answer. */
  c->document.len = b->len;
  body = vmb_buf_steal(b);
  if(!body || vmb_arena_defer(c->req->arena, free, body)) {
    free(body);
    return VMB_ERR_NOMEM;
  }
  c->document.content_type = c->op->produces;
  c->document.body = body;
  c->document.filename = "subjects.csv";
  return VMB_ERR_OK;
}
