/*
** grants.c - the gate's grant check (SPEC section 9; docs/registry.md).
**
** Before a Transit, database, SSH or KMS handler runs, the resource the
** call names (key, role, KMS key id) must be in the caller's grants, else
** 403 not_granted naming only the kind of resource. Database leases are
** tied to the subject they were issued to: when db.issue_creds succeeds
** the bridge records {KV_MOUNT}/data/{ADMIN_PREFIX}/leases/<sha256(lease)>
** = {subject, role, expires}, and db.renew / db.revoke refuse a lease that
** is not recorded for the caller. A lease that cannot be recorded is
** revoked at once, so no credential exists that its owner cannot manage
** and another agent could.
**
** Fail closed: an operation of one of these families without a rule here
** is refused, so a new row in the operation table cannot skip the check.
*/
#include "grants.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "registry.h"
#include "vault.h"
#include "vmb/arena.h"
#include "vmb/log.h"

enum rule_flags {
  R_ANY = 1u << 0,          /* no resource named: any grant of the kind */
  R_LEASE = 1u << 1,        /* lease_id of a lease issued to the caller */
  R_KMS_DEFAULT = 1u << 2   /* key_id defaults to AWS_KMS_DEFAULT_KEY_ID */
};

struct grant_rule {
  const char *op;
  enum vmb_grant_kind kind;
  const char *arg;
  unsigned flags;
};

static const struct grant_rule rules[] = {
  {"transit.encrypt", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.decrypt", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.rewrap", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.sign", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.verify", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.hmac", VMB_GRANT_TRANSIT, "key", 0},
  {"transit.random", VMB_GRANT_TRANSIT, NULL, R_ANY},
  {"db.issue_creds", VMB_GRANT_DB, "role", 0},
  {"db.renew", VMB_GRANT_DB, "lease_id", R_LEASE},
  {"db.revoke", VMB_GRANT_DB, "lease_id", R_LEASE},
  {"ssh.otp", VMB_GRANT_SSH, "role", 0},
  {"ssh.sign", VMB_GRANT_SSH, "role", 0},
  {"kms.encrypt", VMB_GRANT_KMS, "key_id", R_KMS_DEFAULT},
  {"kms.decrypt", VMB_GRANT_KMS, "key_id", R_KMS_DEFAULT},
  {"kms.generate_data_key", VMB_GRANT_KMS, "key_id", R_KMS_DEFAULT},
  {"kms.sign", VMB_GRANT_KMS, "key_id", R_KMS_DEFAULT},
  {"kms.verify", VMB_GRANT_KMS, "key_id", R_KMS_DEFAULT},
};

static const char *const families[] = {"transit.", "db.", "ssh.", "kms."};

/* The settings the check reads (strings BORROWED from the configuration). */
static struct {
  const char *database_mount;       /* DATABASE_MOUNT */
  const char *kms_default_key;      /* AWS_KMS_DEFAULT_KEY_ID */
} conf = {.database_mount = "database", .kms_default_key = ""};

int vmb_grants_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.database_mount = cfg->database_mount;
  conf.kms_default_key = cfg->aws_kms_default_key_id;
  return 0;
}

static const struct grant_rule *find_rule(const char *op)
{
  size_t i;
  for(i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    if(!strcmp(rules[i].op, op))
      return &rules[i];
  return NULL;
}

static bool in_family(const char *op)
{
  size_t i;
  for(i = 0; i < sizeof(families) / sizeof(families[0]); i++)
    if(!strncmp(op, families[i], strlen(families[i])))
      return true;
  return false;
}

static const char *arg_str(json_object *args, const char *name)
{
  json_object *v;
  if(args && json_object_object_get_ex(args, name, &v) &&
     json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  return NULL;
}

/* The lease record's path: the lease id is hashed so the record's name
   says nothing and needs no escaping. */
static const char *lease_path(struct vmb_request *req, const char *kind, const char *lease)
{
  unsigned char d[32];
  unsigned int dl = 32;
  char hex[65];
  size_t i;
  if(EVP_Digest(lease, strlen(lease), d, &dl, EVP_sha256(), NULL) != 1)
    return NULL;
  for(i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return vmb_registry_path(req->arena, kind, vmb_arena_printf(req->arena, "leases/%s", hex));
}

/* The role inside "{mount}/creds/<role>/<id>", in the arena; NULL when
   the id has another shape (the handler refuses it with its own text). */
static const char *lease_role(struct vmb_request *req, const char *lease)
{
  size_t ml = strlen(conf.database_mount), n;
  const char *r;
  if(strncmp(lease, conf.database_mount, ml) || strncmp(lease + ml, "/creds/", 7))
    return NULL;
  r = lease + ml + 7;
  n = strcspn(r, "/");
  if(r[n] != '/' || n == 0 || n > 128)
    return NULL;
  {
    size_t i;
    for(i = 0; i < n; i++)
      if(!((r[i] >= 'A' && r[i] <= 'Z') || (r[i] >= 'a' && r[i] <= 'z') ||
           (r[i] >= '0' && r[i] <= '9') || r[i] == '_' || r[i] == '.' || r[i] == '-') ||
         (r[i] == '.' && i + 1 < n && r[i + 1] == '.'))
        return NULL;
  }
  {
    /* the id part as backend_db.c accepts it; anything else is left to
       the handler's 400 */
    const char *id = r + n + 1;
    size_t i, il = strlen(id);
    if(il < 1 || il > 128 || id[0] == '.' || strstr(id, ".."))
      return NULL;
    for(i = 0; i < il; i++)
      if(!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
           (id[i] >= '0' && id[i] <= '9') || id[i] == '.'))
        return NULL;
  }
  return vmb_arena_strndup(req->arena, r, n);
}

static enum vmb_err refuse(struct vmb_call *c, const struct grant_rule *r)
{
  c->detail = vmb_arena_printf(c->req->arena, "the %s named in '%s' is not granted to "
                               "this subject", vmb_grant_noun(r->kind), r->arg);
  return VMB_ERR_NOT_GRANTED;
}

static enum vmb_err check_lease(struct vmb_call *c, const struct grant_rule *r,
                                const char *lease)
{
  struct vmb_vault_reply rep;
  json_object *data, *doc, *subj;
  const char *path, *role = lease_role(c->req, lease);
  enum vmb_err e;
  if(!role)
    return VMB_ERR_OK;   /* malformed: the handler answers 400 */
  if(!vmb_grant_allows(c->req->identity.grants, VMB_GRANT_DB, role)) {
    c->detail = "the database role of this lease is not granted to this subject";
    return VMB_ERR_NOT_GRANTED;
  }
  (void)r;
  if(!(path = lease_path(c->req, "data", lease)))
    return VMB_ERR_NOMEM;
  e = vmb_vault_call(c->req, "registry.lease_read", "GET", path, NULL, NULL, &rep);
  if(e == VMB_ERR_NOT_FOUND || (e == VMB_ERR_OK &&
     !(rep.body && json_object_object_get_ex(rep.body, "data", &data) &&
       json_object_object_get_ex(data, "data", &doc) &&
       json_object_object_get_ex(doc, "subject", &subj) &&
       !strcmp(json_object_get_string(subj), c->req->identity.subject)))) {
    c->detail = "this lease was not issued to this subject";
    return VMB_ERR_NOT_GRANTED;
  }
  if(e != VMB_ERR_OK) {
    c->detail = "the lease owner cannot be read from Vault";
    return e == VMB_ERR_VAULT_DENIED ? VMB_ERR_VAULT_ERROR : e;
  }
  return VMB_ERR_OK;
}

enum vmb_err vmb_grants_check(struct vmb_call *c)
{
  const struct grant_rule *r;
  const char *name;
  if(!in_family(c->op->id))
    return VMB_ERR_OK;
  if(c->req->identity.grants && c->req->identity.grants->unknown) {
    return vmb_registry_unavailable(c->req->arena, &c->detail);
  }
  if(!(r = find_rule(c->op->id))) {
    c->detail = "this operation has no grant rule (refused)";
    return VMB_ERR_NOT_GRANTED;
  }
  if(r->flags & R_ANY) {
    if(vmb_grant_allows(c->req->identity.grants, r->kind, NULL))
      return VMB_ERR_OK;
    c->detail = vmb_arena_printf(c->req->arena, "no %s is granted to this subject",
                                 vmb_grant_noun(r->kind));
    return VMB_ERR_NOT_GRANTED;
  }
  name = arg_str(c->args, r->arg);
  if(r->flags & R_LEASE)
    return name ? check_lease(c, r, name) : VMB_ERR_OK;
  if(!name && (r->flags & R_KMS_DEFAULT) && *conf.kms_default_key)
    name = conf.kms_default_key;
  if(!name) {
    /* kms.decrypt may omit key_id (KMS reads it from the blob): only a
       subject granted every key may do that. */
    if(vmb_grant_allows(c->req->identity.grants, r->kind, "*"))
      return VMB_ERR_OK;
    c->detail = vmb_arena_printf(c->req->arena, "give '%s' naming a %s granted to this "
                                 "subject", r->arg, vmb_grant_noun(r->kind));
    return VMB_ERR_NOT_GRANTED;
  }
  return vmb_grant_allows(c->req->identity.grants, r->kind, name) ? VMB_ERR_OK
                                                                 : refuse(c, r);
}

/* Record a new lease for the caller; on failure revoke it. */
static enum vmb_err record_lease(struct vmb_call *c)
{
  struct vmb_vault_reply rep;
  json_object *lease, *dur, *body, *doc;
  const char *path, *id;
  char now[32], exp[32];
  long long t = (long long)time(NULL), ttl = 0;
  enum vmb_err e;
  if(!c->result || !json_object_object_get_ex(c->result, "lease_id", &lease) ||
     !(id = json_object_get_string(lease)) || !*id)
    return VMB_ERR_OK;
  if(json_object_object_get_ex(c->result, "lease_duration", &dur))
    ttl = json_object_get_int64(dur);
  if(!(path = lease_path(c->req, "data", id)))
    return VMB_ERR_NOMEM;
  vmb_rfc3339_format(t, now, sizeof(now));
  vmb_rfc3339_format(t + ttl, exp, sizeof(exp));
  body = json_object_new_object();
  doc = json_object_new_object();
  json_object_object_add(doc, "subject", json_object_new_string(c->req->identity.subject));
  {
    const char *role = lease_role(c->req, id);
    json_object_object_add(doc, "role", json_object_new_string(role ? role : ""));
  }
  json_object_object_add(doc, "issued_at", json_object_new_string(now));
  json_object_object_add(doc, "expires_at", json_object_new_string(exp));
  json_object_object_add(body, "data", doc);
  e = vmb_vault_call(c->req, "registry.lease_write", "POST", path, body, NULL, &rep);
  json_object_put(body);
  if(e == VMB_ERR_OK)
    return VMB_ERR_OK;
  {
    /* Unrecorded credentials must not outlive this request. */
    json_object *rb = json_object_new_object();
    json_object_object_add(rb, "lease_id", json_object_new_string(id));
    vmb_vault_call(c->req, "registry.lease_revoke", "PUT", "sys/leases/revoke", rb, NULL,
                   &rep);
    json_object_put(rb);
  }
  vmb_log_server(VMB_LOG_WARN, "registry",
                 "cannot record a database lease's owner; the lease was revoked");
  c->detail = "the bridge could not record who owns the new lease, so it was revoked";
  return e == VMB_ERR_VAULT_UNAVAILABLE ? e : VMB_ERR_VAULT_ERROR;
}

enum vmb_err vmb_grants_after(struct vmb_call *c, enum vmb_err err)
{
  if(err != VMB_ERR_OK)
    return err;
  if(!strcmp(c->op->id, "db.issue_creds")) {
    enum vmb_err e = record_lease(c);
    if(e != VMB_ERR_OK && c->result) {
      json_object_put(c->result);
      c->result = NULL;
    }
    return e;
  }
  /* A revoked lease keeps its record: a later renew or revoke of it by
     its owner then reaches Vault and gets Vault's own answer. */
  return VMB_ERR_OK;
}
