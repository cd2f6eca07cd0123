/*
** vault-sim database secrets engine (CONTRACT §8.1): connection configs,
** roles, and dynamic credentials handed out as leases owned by the
** requesting token.
**
** By default configs are stored only: no database is contacted and the
** credentials open nothing. With --database-plugins real, configs of
** postgresql-database-plugin reach the server (sim_pg.c): the connection
** is verified on write, creds run the role's creation statements, the
** lease's revocation (explicit, with its token, or on expiry) drops the
** user and its renewal moves the user's expiry, and rotate-root changes
** the root password. Other plugins stay stored only.
*/
#include "sim.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_real; /* --database-plugins real */

void sim_database_set_real(int on)
{
  g_real = on;
}

struct db_config {
  char *plugin_name;
  char *connection_url;
  char *username;
  char *password; /* never returned by reads */
  char *password_policy;
  struct strlist root_rotation;
  struct strlist allowed_roles;
  int verify;
};

struct db_role {
  char *db_name;
  struct strlist creation, revocation, renew, rollback;
  int64_t default_ttl, max_ttl;
};

struct db_state {
  struct smap *configs;
  struct smap *roles;
};

static void config_free(void *p)
{
  struct db_config *c = p;
  if (!c)
    return;
  free(c->plugin_name);
  free(c->connection_url);
  free(c->username);
  if (c->password)
    OPENSSL_cleanse(c->password, strlen(c->password));
  free(c->password);
  free(c->password_policy);
  strlist_free(&c->allowed_roles);
  strlist_free(&c->root_rotation);
  free(c);
}

static void role_free(void *p)
{
  struct db_role *r = p;
  if (!r)
    return;
  free(r->db_name);
  strlist_free(&r->creation);
  strlist_free(&r->revocation);
  strlist_free(&r->renew);
  strlist_free(&r->rollback);
  free(r);
}

static void *db_create(struct sim_mount *m)
{
  (void)m;
  struct db_state *s = xcalloc(1, sizeof *s);
  s->configs = smap_new(config_free);
  s->roles = smap_new(role_free);
  return s;
}

static void db_destroy(void *p)
{
  struct db_state *s = p;
  if (!s)
    return;
  smap_free(s->configs);
  smap_free(s->roles);
  free(s);
}

/* Replaces a string field when present in the request. */
static void set_str(struct sim_req *q, const char *name, char **dst)
{
  const char *v;
  if (req_str(q, name, &v) > 0) {
    free(*dst);
    *dst = xstrdup(v);
  }
}

/* A live PostgreSQL behind this config (real mode only). */
static int pg_real(const struct db_config *c)
{
  return g_real && c->plugin_name &&
         strcmp(c->plugin_name, "postgresql-database-plugin") == 0;
}

static struct sim_pg_target pg_target(const struct db_config *c)
{
  struct sim_pg_target t = {c->connection_url, c->username, c->password};
  return t;
}

static void strlist_copy(struct strlist *dst, const struct strlist *src)
{
  for (size_t i = 0; i < src->n; i++)
    strlist_add(dst, src->v[i]);
}

static struct db_config *config_clone(const struct db_config *o)
{
  struct db_config *c = xcalloc(1, sizeof *c);
  if (!o)
    return c;
  c->plugin_name = o->plugin_name ? xstrdup(o->plugin_name) : NULL;
  c->connection_url = o->connection_url ? xstrdup(o->connection_url) : NULL;
  c->username = o->username ? xstrdup(o->username) : NULL;
  c->password = o->password ? xstrdup(o->password) : NULL;
  c->password_policy = o->password_policy ? xstrdup(o->password_policy) : NULL;
  strlist_copy(&c->allowed_roles, &o->allowed_roles);
  strlist_copy(&c->root_rotation, &o->root_rotation);
  c->verify = o->verify;
  return c;
}

/* Statement lists come as an array of strings or a single string. */
static void read_statements(json_object *v, struct strlist *out)
{
  if (v && json_object_is_type(v, json_type_array)) {
    for (size_t k = 0; k < json_object_array_length(v); k++)
      strlist_add(out, json_as_str(json_object_array_get_idx(v, k)));
  } else if (v && !json_object_is_type(v, json_type_null)) {
    strlist_add(out, json_as_str(v));
  }
}

static void config_write(struct db_state *s, const char *name,
                         struct sim_req *q, struct sim_resp *r)
{
  /* Plugin-specific fields vary; accept them all like Vault's
  ** pass-through of connection details. The new state is built on a copy
  ** and stored only when complete (and verified), as Vault does. */
  q->known_all = 1;
  struct db_config *c = config_clone(smap_get(s->configs, name));
  set_str(q, "plugin_name", &c->plugin_name);
  if (!c->plugin_name || !*c->plugin_name) {
    config_free(c);
    resp_err(r, 400, "empty plugin name");
    return;
  }
  set_str(q, "connection_url", &c->connection_url);
  set_str(q, "username", &c->username);
  set_str(q, "password", &c->password);
  set_str(q, "password_policy", &c->password_policy);
  if (req_has(q, "allowed_roles")) {
    struct strlist l = {0};
    if (req_strlist(q, r, "allowed_roles", &l) < 0) {
      config_free(c);
      return;
    }
    strlist_free(&c->allowed_roles);
    c->allowed_roles = l;
  }
  if (req_has(q, "root_rotation_statements")) {
    strlist_free(&c->root_rotation);
    read_statements(req_get(q, "root_rotation_statements"), &c->root_rotation);
  }
  int verify = 1;
  if (req_bool(q, r, "verify_connection", 1, &verify) < 0) {
    config_free(c);
    return;
  }
  c->verify = verify;
  if (pg_real(c) && verify) {
    struct sim_pg_target t = pg_target(c);
    char *err = sim_pg_verify(&t);
    if (err) {
      resp_err(r, 400, "error creating database object: error verifying - "
                       "ping: %s", err);
      free(err);
      config_free(c);
      return;
    }
  }
  smap_put(s->configs, name, c);
  resp_nocontent(r);
}

static json_object *config_json(const struct db_config *c)
{
  json_object *d = json_object_new_object();
  json_object_object_add(d, "allowed_roles", strlist_json(&c->allowed_roles));
  json_object *cd = json_object_new_object();
  json_object_object_add(cd, "connection_url",
                         json_object_new_string(c->connection_url
                                                    ? c->connection_url
                                                    : ""));
  json_object_object_add(cd, "username",
                         json_object_new_string(c->username ? c->username
                                                            : ""));
  json_object_object_add(d, "connection_details", cd);
  json_object_object_add(d, "password_policy",
                         json_object_new_string(c->password_policy
                                                    ? c->password_policy
                                                    : ""));
  json_object_object_add(d, "plugin_name",
                         json_object_new_string(c->plugin_name));
  json_object_object_add(d, "plugin_version", json_object_new_string(""));
  json_object_object_add(d, "root_credentials_rotate_statements",
                         json_object_new_array());
  json_object_object_add(d, "verify_connection",
                         json_object_new_boolean(c->verify));
  return d;
}

static void role_write(struct db_state *s, const char *name,
                       struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {
      "name", "db_name", "creation_statements", "revocation_statements",
      "renew_statements", "rollback_statements", "default_ttl", "max_ttl",
      "credential_type", "credential_config", NULL};
  q->known = known;
  struct db_role *ro = smap_get(s->roles, name);
  int created = !ro;
  const char *db = "";
  req_str(q, "db_name", &db);
  if (created && !*db) {
    resp_err(r, 400, "empty database name attribute");
    return;
  }
  int64_t dttl = ro ? ro->default_ttl : 0, mttl = ro ? ro->max_ttl : 0;
  if (req_duration(q, r, "default_ttl", dttl, &dttl) < 0 ||
      req_duration(q, r, "max_ttl", mttl, &mttl) < 0)
    return;
  if (mttl > 0 && dttl > mttl) {
    resp_err(r, 400, "ttl cannot be greater than max_ttl");
    return;
  }
  struct strlist lists[4] = {{0}};
  static const char *const names[4] = {"creation_statements",
                                       "revocation_statements",
                                       "renew_statements",
                                       "rollback_statements"};
  int have[4];
  for (int i = 0; i < 4; i++) {
    json_object *v = req_get(q, names[i]);
    have[i] = v != NULL;
    read_statements(v, &lists[i]);
  }
  if (created)
    ro = xcalloc(1, sizeof *ro);
  if (*db) {
    free(ro->db_name);
    ro->db_name = xstrdup(db);
  }
  struct strlist *dst[4] = {&ro->creation, &ro->revocation, &ro->renew,
                            &ro->rollback};
  for (int i = 0; i < 4; i++) {
    if (have[i]) {
      strlist_free(dst[i]);
      *dst[i] = lists[i];
    } else {
      strlist_free(&lists[i]);
    }
  }
  ro->default_ttl = dttl;
  ro->max_ttl = mttl;
  if (created)
    smap_put(s->roles, name, ro);
  resp_nocontent(r);
}

static json_object *role_json(const struct db_role *ro)
{
  json_object *d = json_object_new_object();
  json_object_object_add(d, "creation_statements", strlist_json(&ro->creation));
  json_object_object_add(d, "credential_type",
                         json_object_new_string("password"));
  json_object_object_add(d, "db_name", json_object_new_string(ro->db_name));
  json_object_object_add(d, "default_ttl",
                         json_object_new_int64(ro->default_ttl));
  json_object_object_add(d, "max_ttl", json_object_new_int64(ro->max_ttl));
  json_object_object_add(d, "renew_statements", strlist_json(&ro->renew));
  json_object_object_add(d, "revocation_statements",
                         strlist_json(&ro->revocation));
  json_object_object_add(d, "rollback_statements",
                         strlist_json(&ro->rollback));
  return d;
}

/* 20 chars of [A-Za-z0-9-] with each class present, like Vault's
** default password policy. */
static void make_password(char out[21])
{
  static const char a[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  for (;;) {
    unsigned char b[20];
    rand_bytes(b, sizeof b);
    int lo = 0, up = 0, dg = 0, da = 0;
    for (int i = 0; i < 20; i++) {
      char c = a[b[i] % 63];
      out[i] = c;
      lo |= c >= 'a' && c <= 'z';
      up |= c >= 'A' && c <= 'Z';
      dg |= c >= '0' && c <= '9';
      da |= c == '-';
    }
    out[20] = 0;
    if (lo && up && dg && da)
      return;
  }
}

/* ---- leases of real PostgreSQL users --------------------------------- */

/* What a lease needs to reach its user later (Vault's lease internal
** data): the role's revocation statements are kept for the case the
** role is deleted before the lease ends. */
struct pg_lease {
  char *mount; /* "database/" */
  char *db_name;
  char *role;
  char *username;
  struct strlist revocation;
};

static void pg_lease_free(void *p)
{
  struct pg_lease *pl = p;
  free(pl->mount);
  free(pl->db_name);
  free(pl->role);
  free(pl->username);
  strlist_free(&pl->revocation);
  free(pl);
}

/* The mount's state now; NULL when the mount is gone. */
static struct db_state *lease_state(const struct pg_lease *pl)
{
  const char *rest = NULL;
  struct sim_mount *m = sim_mount_find(pl->mount, &rest);
  if (!m || m->be != &sim_backend_database || strcmp(m->path, pl->mount) != 0)
    return NULL;
  return m->state;
}

static char *pg_lease_revoke(void *ud)
{
  struct pg_lease *pl = ud;
  struct db_state *s = lease_state(pl);
  if (!s)
    return NULL; /* nothing left that could reach the database */
  struct db_role *ro = smap_get(s->roles, pl->role);
  const char *db = ro ? ro->db_name : pl->db_name;
  struct db_config *c = smap_get(s->configs, db);
  if (!c)
    return xasprintf("failed to find entry for connection with name: \"%s\"",
                     db);
  if (!pg_real(c))
    return NULL;
  struct sim_pg_target t = pg_target(c);
  return sim_pg_delete_user(&t, ro ? &ro->revocation : &pl->revocation,
                            pl->username);
}

static char *pg_lease_renew(void *ud, struct timespec expire)
{
  struct pg_lease *pl = ud;
  struct db_state *s = lease_state(pl);
  struct db_role *ro = s ? smap_get(s->roles, pl->role) : NULL;
  if (!ro)
    return xasprintf("error during renew: could not find role with name: "
                     "\"%s\"", pl->role);
  struct db_config *c = smap_get(s->configs, ro->db_name);
  if (!c)
    return xasprintf("failed to find entry for connection with name: \"%s\"",
                     ro->db_name);
  if (!pg_real(c))
    return NULL;
  char exp[40];
  sim_pg_expiration(expire, exp);
  struct sim_pg_target t = pg_target(c);
  return sim_pg_update_expiration(&t, &ro->renew, pl->username, exp);
}

static const struct sim_lease_hooks pg_hooks = {
    .revoke = pg_lease_revoke,
    .renew = pg_lease_renew,
    .free_ud = pg_lease_free,
};

static void creds(struct sim_mount *m, struct db_state *s, const char *name,
                  struct sim_req *q, struct sim_resp *r)
{
  struct db_role *ro = smap_get(s->roles, name);
  if (!ro) {
    resp_err(r, 400, "unknown role: %s", name);
    return;
  }
  struct db_config *c = smap_get(s->configs, ro->db_name);
  if (!c) {
    char *msg = xasprintf("failed to find entry for connection with name: "
                          "\"%s\"", ro->db_name);
    resp_multierr(r, 500, msg);
    free(msg);
    return;
  }
  if (!strlist_has(&c->allowed_roles, "*") &&
      !strlist_has(&c->allowed_roles, name)) {
    char *msg = xasprintf("\"%s\" is not an allowed role", name);
    resp_multierr(r, 500, msg);
    free(msg);
    return;
  }
  int64_t ttl = ro->default_ttl > 0 ? ro->default_ttl
                                    : sim_mount_default_ttl(m);
  int64_t max = ro->max_ttl > 0 ? ro->max_ttl : sim_mount_max_ttl(m);
  if (ttl > max)
    ttl = max;
  char rnd[21], pw[21];
  rand_base62(rnd, 20);
  make_password(pw);
  const char *dn = q->token ? q->token->display_name : "token";
  char *user = xasprintf("v-%.8s-%.8s-%s-%lld", dn, name, rnd,
                         (long long)ts_sec(q->now));
  if (strlen(user) > 63)
    user[63] = 0;
  struct pg_lease *pl = NULL;
  if (pg_real(c)) {
    /* Vault's NewUser: the statements see the lease's end as
    ** {{expiration}}; a failure leaves no lease and no user. */
    char exp[40];
    sim_pg_expiration(ts_add(q->now, ttl), exp);
    struct sim_pg_target t = pg_target(c);
    char *err = sim_pg_new_user(&t, &ro->creation, user, pw, exp);
    if (err) {
      resp_multierr(r, 500, err);
      free(err);
      free(user);
      OPENSSL_cleanse(pw, sizeof pw);
      return;
    }
    pl = xcalloc(1, sizeof *pl);
    pl->mount = xstrdup(m->path);
    pl->db_name = xstrdup(ro->db_name);
    pl->role = xstrdup(name);
    pl->username = xstrdup(user);
    strlist_copy(&pl->revocation, &ro->revocation);
  }
  json_object *d = json_object_new_object();
  json_object_object_add(d, "username", json_object_new_string(user));
  json_object_object_add(d, "password", json_object_new_string(pw));
  free(user);
  OPENSSL_cleanse(pw, sizeof pw);
  resp_data(r, 200, d);
  char *path = xstrdup(q->path);
  if (str_has_suffix(path, "/"))
    path[strlen(path) - 1] = 0;
  sim_lease_issue(q, r, path, ttl, max, 1, pl ? &pg_hooks : NULL, pl);
  free(path);
}

/* rotate-root on a real PostgreSQL: a new root password set with the
** config's root_rotation_statements (or ALTER ROLE .. WITH PASSWORD),
** then stored; from here on only Vault knows it. */
static void rotate_root(struct db_config *c, struct sim_resp *r)
{
  if (!c->username || !*c->username) {
    resp_multierr(r, 500, "unable to rotate root credentials: no username "
                          "in configuration");
    return;
  }
  char pw[21];
  make_password(pw);
  struct sim_pg_target t = pg_target(c);
  char *err = sim_pg_change_password(&t, &c->root_rotation, c->username, pw);
  if (err) {
    char *msg = xasprintf("failed to update user: %s", err);
    resp_multierr(r, 500, msg);
    free(msg);
    free(err);
  } else {
    if (c->password)
      OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
    c->password = xstrdup(pw);
    resp_nocontent(r);
  }
  OPENSSL_cleanse(pw, sizeof pw);
}

/* ---- path table (builtin/logical/database/path_*.go) ------------------ */

static void p_config_list(struct sim_call *c)
{
  resp_list_keys(c->r, ((struct db_state *)c->state)->configs);
}

static void p_config(struct sim_call *c)
{
  struct db_state *s = c->state;
  const char *name = sim_cap(c, "name");
  struct db_config *cf = smap_get(s->configs, name);
  switch (c->q->op) {
  case SIM_OP_READ:
    if (cf)
      resp_data(c->r, 200, config_json(cf));
    else
      resp_err_empty(c->r, 404);
    break;
  case SIM_OP_DELETE:
    smap_del(s->configs, name);
    resp_nocontent(c->r);
    break;
  default:
    config_write(s, name, c->q, c->r);
  }
}

static int config_exists(struct sim_call *c)
{
  struct db_state *s = c->state;
  return smap_get(s->configs, sim_cap(c, "name")) != NULL;
}

static void p_roles_list(struct sim_call *c)
{
  resp_list_keys(c->r, ((struct db_state *)c->state)->roles);
}

static void p_role(struct sim_call *c)
{
  struct db_state *s = c->state;
  const char *name = sim_cap(c, "name");
  struct db_role *ro = smap_get(s->roles, name);
  switch (c->q->op) {
  case SIM_OP_READ:
    if (ro)
      resp_data(c->r, 200, role_json(ro));
    else
      resp_err_empty(c->r, 404);
    break;
  case SIM_OP_DELETE:
    smap_del(s->roles, name);
    resp_nocontent(c->r);
    break;
  default:
    role_write(s, name, c->q, c->r);
  }
}

static int role_exists(struct sim_call *c)
{
  struct db_state *s = c->state;
  return smap_get(s->roles, sim_cap(c, "name")) != NULL;
}

static void p_creds(struct sim_call *c)
{
  creds(c->m, c->state, sim_cap(c, "name"), c->q, c->r);
}

/* rotate-root and reset: stored-only connections need only exist;
** rotate-root of a real PostgreSQL connection changes its password. */
static void p_rotate_reset(struct sim_call *c)
{
  struct db_state *s = c->state;
  const char *name = sim_cap(c, "name");
  struct db_config *cf = smap_get(s->configs, name);
  if (!cf)
    resp_err(c->r, 400, "failed to find entry for connection with name: "
                        "\"%s\"", name);
  else if (str_has_prefix(c->rest, "rotate-root/") &&
           pg_real(cf))
    rotate_root(cf, c->r);
  else
    resp_nocontent(c->r);
}

#define RWD (SIM_OPB_READ | SIM_OPB_WRITE | SIM_OPB_DELETE)

/* Names follow framework.GenericNameRegex ({name}) as in
** builtin/logical/database path_config_connection.go, path_roles.go,
** path_creds_create.go and path_rotate_credentials.go: a name outside it
** (e.g. ending in '.') matches no path, 404 "unsupported path". */
static const struct sim_path db_paths[] = {
    {"config/?", SIM_OPB_LIST, NULL, 0, p_config_list, NULL, NULL, NULL},
    {"config/{name}", RWD, NULL, 0, p_config, config_exists, NULL, NULL},
    {"roles/?", SIM_OPB_LIST, NULL, 0, p_roles_list, NULL, NULL, NULL},
    {"roles/{name}", RWD, NULL, 0, p_role, role_exists, NULL, NULL},
    {"creds/{name}", SIM_OPB_READ, NULL, 0, p_creds, NULL, NULL, NULL},
    {"rotate-root/{name}", SIM_OPB_WRITE, NULL, 0, p_rotate_reset, NULL,
     NULL, NULL},
    {"reset/{name}", SIM_OPB_WRITE, NULL, 0, p_rotate_reset, NULL, NULL,
     NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_database = {
    .type = "database",
    .create = db_create,
    .destroy = db_destroy,
    .paths = db_paths,
};
