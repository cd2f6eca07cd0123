/*
** backend_db.c - Database secrets: issue credentials, renew and revoke
** their leases (SPEC section 4; CONTRACT section 8).
**
** Vault's lease endpoints (sys/leases/renew, sys/leases/revoke) act on
** any lease, including other engines' and, for revoke, without checking
** who owns it (CONTRACT 8.3). An agent must only ever touch database
** credentials, so a lease id is accepted only when it has the exact
** shape Vault gives database leases: {DATABASE_MOUNT}/creds/<role>/<id>.
**
** Credentials are issued under a lease token (vault_auth.c), not the
** subject's short child token: Vault revokes a lease with the token that
** created it, and the agent asked for the role's TTL, not 90 s.
**
** Logs carry the role, the lease duration and the last six characters
** of the lease id; never the username or password.
*/
#include <string.h>

#include "backend.h"
#include "backends.h"
#include "vmb/arena.h"

/* The settings this backend reads, taken at start-up (vmb_db_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *mount;                 /* DATABASE_MOUNT */
} conf;

int vmb_db_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.mount = cfg->database_mount;
  return 0;
}

#define LEASE_SUFFIX 6

/*
** A database lease id: "{mount}/creds/<role>/<id>", where <id> is what
** Vault generates (24 base62 characters, plus ".<nsid>" inside a
** namespace, CONTRACT 1.10). The id part is checked loosely (letters,
** digits and dots, 1..128) so a future Vault format does not break
** renewals, but strictly enough that it cannot name another path.
*/
static bool lease_id_ok(const char *lease)
{
  size_t mlen = strlen(conf.mount), n = lease ? strlen(lease) : 0, i;
  const char *role, *slash, *id;
  if(n > 512 || n <= mlen + 7 || strncmp(lease, conf.mount, mlen) ||
     strncmp(lease + mlen, "/creds/", 7))
    return false;
  role = lease + mlen + 7;
  slash = strchr(role, '/');
  if(!slash || !vmb_name_ok(role, (size_t)(slash - role)))
    return false;
  id = slash + 1;
  n = strlen(id);
  if(n < 1 || n > 128 || id[0] == '.' || strstr(id, ".."))
    return false;
  for(i = 0; i < n; i++)
    if(!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
         (id[i] >= '0' && id[i] <= '9') || id[i] == '.'))
      return false;
  return true;
}

/* The checked lease id from the arguments, logged as its suffix; NULL
   with c->detail when it is not a database lease of this mount. */
static const char *checked_lease(struct vmb_call *c)
{
  const char *lease = vmb_arg_str(c, "lease_id");
  if(!lease_id_ok(lease)) {
    c->detail = vmb_arena_printf(c->req->arena,
                                 "field 'lease_id' must be a database lease id "
                                 "(%s/creds/<role>/<id>)", conf.mount);
    return NULL;
  }
  json_object_object_add(c->log_fields, "lease",
                         json_object_new_string(vmb_suffix(c, lease, LEASE_SUFFIX)));
  return lease;
}

/* Top-level member of Vault's reply (leases live outside "data"). */
static json_object *reply_member(const struct vmb_vault_reply *r, const char *name)
{
  json_object *v = NULL;
  if(!r->body || !json_object_object_get_ex(r->body, name, &v))
    return NULL;
  return v;
}

enum vmb_err vmb_h_db_issue_creds(struct vmb_call *c)
{
  const char *role = vmb_arg_str(c, "role"), *path;
  struct vmb_vault_reply r;
  json_object *data, *user = NULL, *pass = NULL, *lease, *dur;
  enum vmb_err e;
  long token_ttl = 0;

  if(!(role = vmb_checked_name(c, "role")))
    return VMB_ERR_BAD_REQUEST;
  path = vmb_arena_printf(c->req->arena, "%s/creds/%s", conf.mount, role);
  if(!path)
    return VMB_ERR_NOMEM;
  /* Vault wants read (GET) on creds/<role>, not create (CONTRACT 8.1).
     The lease belongs to the token that asks, and dies with it: the
     lease token outlives the request (vault_auth.c). */
  e = vmb_backend_vault_lease(c, "db.issue_creds", "GET", path, NULL, &r, &token_ttl);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  data = vmb_reply_data(&r);
  lease = reply_member(&r, "lease_id");
  dur = reply_member(&r, "lease_duration");
  if(!data || !json_object_object_get_ex(data, "username", &user) ||
     !json_object_object_get_ex(data, "password", &pass) || !lease ||
     !json_object_is_type(lease, json_type_string)) {
    c->detail = "Vault's answer lacks the credentials or the lease";
    return VMB_ERR_VAULT_ERROR;
  }
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  json_object_object_add(c->result, "username", json_object_get(user));
  json_object_object_add(c->result, "password", json_object_get(pass));
  json_object_object_add(c->result, "lease_id", json_object_get(lease));
  json_object_object_add(c->result, "lease_duration",
                         dur ? json_object_get(dur) : json_object_new_int(0));
  vmb_json_copy(c->result, r.body, "renewable");
  json_object_object_add(c->log_fields, "lease",
                         json_object_new_string(vmb_suffix(c, json_object_get_string(lease),
                                                           LEASE_SUFFIX)));
  if(dur)
    json_object_object_add(c->log_fields, "lease_duration", json_object_get(dur));
  if(dur && token_ttl > 0 && json_object_get_int64(dur) > token_ttl) {
    /* Vault still says the role's TTL; the lease will end with its token
       first. Say so rather than let the agent plan on the longer time. */
    json_object *w = json_object_new_array();
    json_object_array_add(w, json_object_new_string(vmb_arena_printf(
      c->req->arena, "the lease ends with the token it was issued under, in %ld s "
      "(DB_LEASE_TOKEN_TTL), before its lease_duration", token_ttl)));
    json_object_object_add(c->result, "warnings", w);
  }
  return VMB_ERR_OK;
}

/* Renew and revoke both start from a checked lease id in a fresh body
   {"lease_id": ...} (NEW reference in *body on success). */
static enum vmb_err lease_body(struct vmb_call *c, const char **lease, json_object **body)
{
  if(!(*lease = checked_lease(c)))
    return VMB_ERR_BAD_REQUEST;
  if(!(*body = json_object_new_object()))
    return VMB_ERR_NOMEM;
  json_object_object_add(*body, "lease_id", json_object_new_string(*lease));
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_db_renew(struct vmb_call *c)
{
  const char *lease;
  json_object *body, *inc = vmb_arg(c, "increment"), *dur;
  struct vmb_vault_reply r;
  enum vmb_err e = lease_body(c, &lease, &body);
  if(e != VMB_ERR_OK)
    return e;
  if(inc) {
    json_object_object_add(body, "increment", json_object_get(inc));
    json_object_object_add(c->log_fields, "increment", json_object_get(inc));
  }
  e = vmb_backend_vault(c, "db.renew", "PUT", "sys/leases/renew", body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  /* Vault keeps the lease id on renewal; answer with the one we sent. */
  json_object_object_add(c->result, "lease_id", json_object_new_string(lease));
  dur = reply_member(&r, "lease_duration");
  json_object_object_add(c->result, "lease_duration",
                         dur ? json_object_get(dur) : json_object_new_int(0));
  vmb_json_copy(c->result, r.body, "renewable");
  if(dur)
    json_object_object_add(c->log_fields, "lease_duration", json_object_get(dur));
  {
    json_object *warn = reply_member(&r, "warnings");
    /* A capped renewal is reported by Vault as a warning; pass it on so
       the agent knows the lease ends sooner than it asked. */
    if(warn && json_object_is_type(warn, json_type_array))
      json_object_object_add(c->result, "warnings", json_object_get(warn));
  }
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_db_revoke(struct vmb_call *c)
{
  const char *lease;
  json_object *body;
  struct vmb_vault_reply r;
  enum vmb_err e = lease_body(c, &lease, &body);
  if(e != VMB_ERR_OK)
    return e;
  /* Ask for a synchronous revocation explicitly: the docs and the code of
     Vault disagree on the default (CONTRACT 8.3), and an agent that is
     told "revoked" should be able to rely on it. */
  json_object_object_add(body, "sync", json_object_new_boolean(1));
  e = vmb_backend_vault(c, "db.revoke", "PUT", "sys/leases/revoke", body, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vmb_backend_fail(c, e, &r);
  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  json_object_object_add(c->result, "lease_id", json_object_new_string(lease));
  json_object_object_add(c->result, "revoked", json_object_new_boolean(1));
  return VMB_ERR_OK;
}
