/*
** vault-sim sys/: the mount table, seal state, health and seal-status
** (unauthenticated, answered before the gate, CONTRACT §2), mounts and
** auth enablement, and the sub-routes that other modules implement
** (policies, leases, tools).
*/
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct smap *g_mounts; /* path -> struct sim_mount */
static int g_sealed;
static char *g_unseal_key;
static char g_cluster_id[37];
static char g_cluster_name[32];

static void mount_free(void *p)
{
  struct sim_mount *m = p;
  if (!m)
    return;
  if (m->be && m->be->destroy)
    m->be->destroy(m->state);
  json_object_put(m->options);
  free(m->path);
  free(m->type);
  free(m->description);
  free(m);
}

static struct sim_mount *mount_add(const char *path, const char *type,
                                   const struct sim_backend *be,
                                   const char *desc, int builtin,
                                   int kv_version)
{
  struct sim_mount *m = xcalloc(1, sizeof *m);
  m->path = xstrdup(path);
  m->type = xstrdup(type);
  m->description = xstrdup(desc);
  m->builtin = builtin;
  /* KV v1 and v2 share the state but not the path table. */
  m->be = be == &sim_backend_kv && kv_version == 1 ? &sim_backend_kv1 : be;
  m->kv_version = kv_version;
  char rnd[9];
  rand_base62(rnd, 8);
  snprintf(m->accessor, sizeof m->accessor, "%s_%s", type, rnd);
  make_uuid(m->uuid);
  if (kv_version) {
    m->options = json_object_new_object();
    json_object_object_add(m->options, "version",
                           json_object_new_string(kv_version == 2 ? "2"
                                                                  : "1"));
  }
  m->state = m->be->create ? m->be->create(m) : NULL;
  smap_put(g_mounts, path, m);
  return m;
}

void sim_sys_init(void)
{
  g_mounts = smap_new(mount_free);
  make_uuid(g_cluster_id);
  char rnd[9];
  unsigned char b[4];
  rand_bytes(b, sizeof b);
  char *h = hex_encode(b, sizeof b);
  snprintf(g_cluster_name, sizeof g_cluster_name, "vault-cluster-%s", h);
  free(h);
  (void)rnd;
  mount_add("sys/", "system", &sim_backend_system,
            "system endpoints used for control, policy and debugging", 1, 0);
  mount_add("auth/token/", "token", &sim_backend_token,
            "token based credentials", 1, 0);
  mount_add("cubbyhole/", "cubbyhole", &sim_backend_cubbyhole,
            "per-token private secret storage", 1, 0);
  mount_add("identity/", "identity", &sim_backend_stub,
            "identity store", 1, 0);
  mount_add("secret/", "kv", &sim_backend_kv, "key/value secret storage", 0,
            2);
}

int sim_sys_sealed(void)
{
  return g_sealed;
}

void sim_sys_set_unseal_key(const char *b64)
{
  free(g_unseal_key);
  g_unseal_key = xstrdup(b64);
}

struct sim_mount *sim_mount_find(const char *path, const char **rest)
{
  /* Longest matching mount path wins, as in Vault's router. A request
  ** for the mount itself without its trailing '/' routes there too. */
  size_t n = 0;
  const char **keys = smap_keys(g_mounts, &n);
  struct sim_mount *best = NULL;
  size_t bestlen = 0;
  for (size_t i = 0; i < n; i++) {
    size_t kl = strlen(keys[i]);
    int match = strncmp(path, keys[i], kl) == 0 ||
                (strlen(path) == kl - 1 && strncmp(path, keys[i], kl - 1) == 0);
    if (match && kl > bestlen) {
      best = smap_get(g_mounts, keys[i]);
      bestlen = kl;
    }
  }
  free(keys);
  if (best && rest)
    *rest = strlen(path) >= bestlen ? path + bestlen : "";
  return best;
}

int64_t sim_mount_default_ttl(const struct sim_mount *m)
{
  return m && m->default_ttl > 0 ? m->default_ttl : SIM_DEFAULT_TTL;
}

int64_t sim_mount_max_ttl(const struct sim_mount *m)
{
  return m && m->max_ttl > 0 ? m->max_ttl : SIM_MAX_TTL;
}

/* ---- health and seal status ------------------------------------------------ */

static json_object *seal_status_json(void)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "type", json_object_new_string("shamir"));
  json_object_object_add(o, "initialized", json_object_new_boolean(1));
  json_object_object_add(o, "sealed", json_object_new_boolean(g_sealed));
  json_object_object_add(o, "t", json_object_new_int(1));
  json_object_object_add(o, "n", json_object_new_int(1));
  json_object_object_add(o, "progress", json_object_new_int(0));
  json_object_object_add(o, "nonce", json_object_new_string(""));
  json_object_object_add(o, "version", json_object_new_string(SIM_VERSION));
  json_object_object_add(o, "build_date",
                         json_object_new_string("2024-07-05T15:19:12Z"));
  json_object_object_add(o, "migration", json_object_new_boolean(0));
  if (!g_sealed) {
    json_object_object_add(o, "cluster_name",
                           json_object_new_string(g_cluster_name));
    json_object_object_add(o, "cluster_id",
                           json_object_new_string(g_cluster_id));
  }
  json_object_object_add(o, "recovery_seal", json_object_new_boolean(0));
  json_object_object_add(o, "storage_type", json_object_new_string("inmem"));
  return o;
}

static int health_code(const char *name, int def, int *out,
                       const char *query_get(const char *, void *), void *ud)
{
  const char *v = query_get(name, ud);
  *out = def;
  if (!v)
    return 0;
  int64_t n;
  if (parse_int64(v, &n) < 0 || n < 0 || n > 999)
    return -1;
  *out = (int)n;
  return 0;
}

static void health(struct sim_req *q, struct sim_resp *r,
                   const char *query_get(const char *, void *), void *ud)
{
  (void)q;
  int active, standby, sealedc, uninit, drs, perf;
  if (health_code("activecode", 200, &active, query_get, ud) < 0 ||
      health_code("standbycode", 429, &standby, query_get, ud) < 0 ||
      health_code("sealedcode", 503, &sealedc, query_get, ud) < 0 ||
      health_code("uninitcode", 501, &uninit, query_get, ud) < 0 ||
      health_code("drsecondarycode", 472, &drs, query_get, ud) < 0 ||
      health_code("performancestandbycode", 473, &perf, query_get, ud) <
          0) {
    resp_err_empty(r, 400);
    return;
  }
  /* standbyok/perfstandbyok only matter on standby nodes, which a
  ** single dev server never is; parse them for fidelity and move on. */
  json_object *o = json_object_new_object();
  json_object_object_add(o, "initialized", json_object_new_boolean(1));
  json_object_object_add(o, "sealed", json_object_new_boolean(g_sealed));
  json_object_object_add(o, "standby", json_object_new_boolean(0));
  json_object_object_add(o, "performance_standby",
                         json_object_new_boolean(0));
  json_object_object_add(o, "replication_performance_mode",
                         json_object_new_string("disabled"));
  json_object_object_add(o, "replication_dr_mode",
                         json_object_new_string("disabled"));
  json_object_object_add(o, "server_time_utc",
                         json_object_new_int64(ts_sec(now_ts())));
  json_object_object_add(o, "version", json_object_new_string(SIM_VERSION));
  if (!g_sealed) {
    json_object_object_add(o, "cluster_name",
                           json_object_new_string(g_cluster_name));
    json_object_object_add(o, "cluster_id",
                           json_object_new_string(g_cluster_id));
  }
  resp_raw(r, g_sealed ? sealedc : active, o);
}

static void unseal(struct sim_req *q, struct sim_resp *r, const char *body,
                   size_t len)
{
  (void)body;
  (void)len;
  int reset = 0;
  if (req_bool(q, r, "reset", 0, &reset) < 0)
    return;
  const char *key = "";
  req_str(q, "key", &key);
  if (!reset && !*key) {
    resp_err(r, 400, "'key' must be specified in request body as JSON, or "
                     "'reset' set to true");
    return;
  }
  if (!reset && g_sealed) {
    if (!g_unseal_key || strcmp(key, g_unseal_key) != 0) {
      /* Accept the hex form as Vault does, else refuse. */
      size_t ol = 0;
      unsigned char *raw = NULL;
      int ok = 0;
      if (g_unseal_key &&
          b64_std_decode(g_unseal_key, strlen(g_unseal_key), &raw, &ol,
                         NULL) == 0) {
        char *hx = hex_encode(raw, ol);
        ok = strcmp(hx, key) == 0;
        free(hx);
        free(raw);
      }
      if (!ok) {
        resp_err(r, 400, "Unseal failed, invalid key");
        return;
      }
    }
    g_sealed = 0;
  }
  resp_raw(r, 200, seal_status_json());
}

/* The sys endpoints Vault's http/handler.go serves before routing. */
static int raw_health(struct sim_call *c)
{
  if (strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0)
    health(c->q, c->r, c->query, c->ud);
  else
    resp_err_empty(c->r, 405);
  return 1;
}

static int raw_seal_status(struct sim_call *c)
{
  if (strcmp(c->method, "GET") == 0)
    resp_raw(c->r, 200, seal_status_json());
  else
    resp_err_empty(c->r, 405);
  return 1;
}

static int raw_init(struct sim_call *c)
{
  if (strcmp(c->method, "GET") != 0)
    return 0;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "initialized", json_object_new_boolean(1));
  resp_raw(c->r, 200, o);
  return 1;
}

static int raw_leader(struct sim_call *c)
{
  if (strcmp(c->method, "GET") != 0)
    return 0;
  if (g_sealed) {
    resp_err(c->r, 503, "Vault is sealed");
    return 1;
  }
  json_object *o = json_object_new_object();
  json_object_object_add(o, "ha_enabled", json_object_new_boolean(0));
  json_object_object_add(o, "is_self", json_object_new_boolean(0));
  json_object_object_add(o, "leader_address", json_object_new_string(""));
  json_object_object_add(o, "leader_cluster_address",
                         json_object_new_string(""));
  resp_raw(c->r, 200, o);
  return 1;
}

/* sys/unseal takes PUT/POST only (405 with no text otherwise); the
** body is then parsed by the gate and the row's handler runs. */
static int raw_unseal(struct sim_call *c)
{
  if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0)
    return 0;
  resp_err_empty(c->r, 405);
  return 1;
}

/* ---- mounts --------------------------------------------------------------------- */

static json_object *mount_json(const struct sim_mount *m)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "accessor", json_object_new_string(m->accessor));
  json_object *cfg = json_object_new_object();
  json_object_object_add(cfg, "default_lease_ttl",
                         json_object_new_int64(m->default_ttl));
  json_object_object_add(cfg, "force_no_cache", json_object_new_boolean(0));
  json_object_object_add(cfg, "max_lease_ttl",
                         json_object_new_int64(m->max_ttl));
  json_object_object_add(o, "config", cfg);
  json_object_object_add(o, "deprecation_status",
                         json_object_new_string("supported"));
  json_object_object_add(o, "description",
                         json_object_new_string(m->description));
  json_object_object_add(o, "external_entropy_access",
                         json_object_new_boolean(0));
  json_object_object_add(o, "local", json_object_new_boolean(0));
  json_object_object_add(o, "options",
                         m->options ? json_object_get(m->options) : NULL);
  json_object_object_add(o, "plugin_version", json_object_new_string(""));
  json_object_object_add(o, "running_plugin_version",
                         json_object_new_string("v" SIM_VERSION "+builtin"));
  json_object_object_add(o, "running_sha256", json_object_new_string(""));
  json_object_object_add(o, "seal_wrap", json_object_new_boolean(0));
  json_object_object_add(o, "type", json_object_new_string(m->type));
  json_object_object_add(o, "uuid", json_object_new_string(m->uuid));
  return o;
}

/* Legacy sys endpoints answer their data both in "data" and at the top
** level; hvac and the CLI read either. */
static void resp_data_and_top(struct sim_resp *r, json_object *data)
{
  resp_data(r, 200, data);
  r->top = json_object_get(data);
}

static void list_mounts(struct sim_resp *r, int auth)
{
  json_object *d = json_object_new_object();
  size_t n = 0;
  const char **keys = smap_keys(g_mounts, &n);
  for (size_t i = 0; i < n; i++) {
    int is_auth = str_has_prefix(keys[i], "auth/");
    if (is_auth != auth)
      continue;
    json_object_object_add(d, auth ? keys[i] + 5 : keys[i],
                           mount_json(smap_get(g_mounts, keys[i])));
  }
  free(keys);
  resp_data_and_top(r, d);
}

static const struct sim_backend *backend_for(const char *type, int auth)
{
  if (auth)
    return strcmp(type, "approle") == 0 ? &sim_backend_approle : NULL;
  if (strcmp(type, "kv") == 0 || strcmp(type, "kv-v2") == 0)
    return &sim_backend_kv;
  if (strcmp(type, "transit") == 0)
    return &sim_backend_transit;
  if (strcmp(type, "database") == 0)
    return &sim_backend_database;
  if (strcmp(type, "ssh") == 0)
    return &sim_backend_ssh;
  return NULL;
}

static void mount_enable(const char *mpath, int auth, struct sim_req *q,
                         struct sim_resp *r)
{
  static const char *const known[] = {
      "type", "description", "config", "options", "local", "seal_wrap",
      "external_entropy_access", "plugin_name", "plugin_version", NULL};
  q->known = known;
  const char *type = "";
  req_str(q, "type", &type);
  if (!*type)
    req_str(q, "plugin_name", &type);
  char *path = str_has_suffix(mpath, "/") ? xstrdup(mpath)
                                          : xasprintf("%s/", mpath);
  char *full = auth ? xasprintf("auth/%s", path) : xstrdup(path);
  const struct sim_backend *be = backend_for(type, auth);
  if (!*type) {
    resp_err(r, 400, "plugin not found in the catalog: ");
    goto out;
  }
  if (!be) {
    resp_err(r, 400, "plugin not found in the catalog: %s", type);
    goto out;
  }
  if (!auth && (str_has_prefix(full, "sys/") || str_has_prefix(full, "auth/") ||
                str_has_prefix(full, "cubbyhole/") ||
                str_has_prefix(full, "identity/"))) {
    resp_err(r, 400, "cannot mount under \"%.*s\"",
             (int)(strchr(full, '/') - full + 1), full);
    goto out;
  }
  size_t n = 0;
  const char **keys = smap_keys(g_mounts, &n);
  for (size_t i = 0; i < n; i++) {
    if (str_has_prefix(full, keys[i]) || str_has_prefix(keys[i], full)) {
      resp_err(r, 400, "path is already in use at %s", keys[i]);
      free(keys);
      goto out;
    }
  }
  free(keys);
  int kvv = 0;
  if (be == &sim_backend_kv) {
    kvv = strcmp(type, "kv-v2") == 0 ? 2 : 1;
    json_object *opts = req_get(q, "options"), *v = NULL;
    if (opts && json_object_is_type(opts, json_type_object) &&
        json_object_object_get_ex(opts, "version", &v)) {
      const char *vs = json_as_str(v);
      if (strcmp(vs, "2") == 0)
        kvv = 2;
      else if (strcmp(vs, "1") == 0 || !*vs)
        kvv = kvv == 2 ? 2 : 1;
      else {
        resp_err(r, 400, "invalid version: %s", vs);
        goto out;
      }
    }
  }
  const char *desc = "";
  req_str(q, "description", &desc);
  json_object *cfg = req_get(q, "config"), *v = NULL;
  int64_t dttl = 0, mttl = 0;
  if (cfg && json_object_is_type(cfg, json_type_object)) {
    if (json_object_object_get_ex(cfg, "default_lease_ttl", &v) &&
        parse_duration_json(v, &dttl) < 0) {
      resp_err(r, 400, "unable to parse default TTL of %s", json_as_str(v));
      goto out;
    }
    if (json_object_object_get_ex(cfg, "max_lease_ttl", &v) &&
        parse_duration_json(v, &mttl) < 0) {
      resp_err(r, 400, "unable to parse max TTL of %s", json_as_str(v));
      goto out;
    }
  }
  struct sim_mount *m = mount_add(full, strcmp(type, "kv-v2") == 0 ? "kv" : type,
                                  be, desc, 0, kvv);
  m->default_ttl = dttl;
  m->max_ttl = mttl;
  resp_nocontent(r);
out:
  free(path);
  free(full);
}

static void mount_disable(const char *mpath, int auth, struct sim_resp *r)
{
  char *path = str_has_suffix(mpath, "/") ? xstrdup(mpath)
                                          : xasprintf("%s/", mpath);
  char *full = auth ? xasprintf("auth/%s", path) : xstrdup(path);
  struct sim_mount *m = smap_get(g_mounts, full);
  if (m && m->builtin) {
    resp_err(r, 400, "cannot unmount \"%s\"", path);
  } else if (m && sim_lease_revoke_prefix(full) > 0) {
    /* Vault revokes every lease of the mount first and keeps the mount
    ** when one of them cannot be revoked (its secret still exists). */
    resp_multierr(r, 500, "failed to revoke the leases of the mount");
  } else {
    if (m)
      smap_del(g_mounts, full);
    resp_nocontent(r);
  }
  free(path);
  free(full);
}

static void mount_tune(const char *mpath, struct sim_req *q,
                       struct sim_resp *r)
{
  char *full = str_has_suffix(mpath, "/") ? xstrdup(mpath)
                                          : xasprintf("%s/", mpath);
  struct sim_mount *m = smap_get(g_mounts, full);
  free(full);
  if (!m) {
    resp_err(r, 400, "cannot fetch sysview for path \"%s\"", mpath);
    return;
  }
  if (q->op == SIM_OP_READ) {
    json_object *d = json_object_new_object();
    json_object_object_add(d, "default_lease_ttl",
                           json_object_new_int64(sim_mount_default_ttl(m)));
    json_object_object_add(d, "max_lease_ttl",
                           json_object_new_int64(sim_mount_max_ttl(m)));
    json_object_object_add(d, "force_no_cache", json_object_new_boolean(0));
    json_object_object_add(d, "description",
                           json_object_new_string(m->description));
    if (m->options)
      json_object_object_add(d, "options", json_object_get(m->options));
    resp_data_and_top(r, d);
    return;
  }
  q->known_all = 1;
  int64_t v;
  if (req_duration(q, r, "default_lease_ttl", m->default_ttl, &v) < 0)
    return;
  m->default_ttl = v;
  if (req_duration(q, r, "max_lease_ttl", m->max_ttl, &v) < 0)
    return;
  m->max_ttl = v;
  const char *desc;
  if (req_str(q, "description", &desc) > 0) {
    free(m->description);
    m->description = xstrdup(desc);
  }
  resp_nocontent(r);
}

static void mounts_route(const char *rest, int auth, struct sim_req *q,
                         struct sim_resp *r)
{
  /* rest is "" (listing) or "<path>[/tune]". */
  if (!*rest || strcmp(rest, "/") == 0) {
    if (q->op == SIM_OP_READ)
      list_mounts(r, auth);
    else
      resp_unsupported_op(r);
    return;
  }
  if (str_has_suffix(rest, "/tune")) {
    char *mp = xstrndup(rest, strlen(rest) - 5);
    char *full = auth ? xasprintf("auth/%s", mp) : xstrdup(mp);
    if (q->op == SIM_OP_READ || q->op == SIM_OP_UPDATE ||
        q->op == SIM_OP_CREATE)
      mount_tune(full, q, r);
    else
      resp_unsupported_op(r);
    free(mp);
    free(full);
    return;
  }
  switch (q->op) {
  case SIM_OP_CREATE:
  case SIM_OP_UPDATE:
    mount_enable(rest, auth, q, r);
    break;
  case SIM_OP_DELETE:
    mount_disable(rest, auth, r);
    break;
  case SIM_OP_READ: {
    char *p = str_has_suffix(rest, "/") ? xstrdup(rest)
                                        : xasprintf("%s/", rest);
    char *full = auth ? xasprintf("auth/%s", p) : xstrdup(p);
    struct sim_mount *m = smap_get(g_mounts, full);
    if (m)
      resp_data_and_top(r, mount_json(m));
    else
      resp_err(r, 400, "No mount at %s", p);
    free(p);
    free(full);
    break;
  }
  default:
    resp_unsupported_op(r);
  }
}

/* ---- capabilities ------------------------------------------------------------- */

static json_object *caps_json(unsigned caps, int root)
{
  json_object *a = json_object_new_array();
  if (root) {
    json_object_array_add(a, json_object_new_string("root"));
    return a;
  }
  if (!caps || (caps & CAP_DENY)) {
    json_object_array_add(a, json_object_new_string("deny"));
    return a;
  }
  /* Sorted names, as Vault returns them. */
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{CAP_CREATE, "create"}, {CAP_DELETE, "delete"},
               {CAP_LIST, "list"},     {CAP_PATCH, "patch"},
               {CAP_READ, "read"},     {CAP_SUDO, "sudo"},
               {CAP_UPDATE, "update"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (caps & names[i].bit)
      json_object_array_add(a, json_object_new_string(names[i].name));
  return a;
}

/* self: the caller's token; accessor: the token behind the "accessor"
** field (handleCapabilitiesAccessor); else the "token" field. */
static void capabilities(struct sim_req *q, struct sim_resp *r, int self,
                         int accessor)
{
  static const char *const known[] = {"path", "paths", "token", NULL};
  static const char *const known_acc[] = {"path", "paths", "accessor", NULL};
  q->known = accessor ? known_acc : known;
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  struct sim_token *t = q->token;
  if (accessor) {
    const char *acc = "";
    req_str(q, "accessor", &acc);
    if (!*acc) {
      resp_err(r, 400, "missing accessor");
      return;
    }
    t = sim_token_by_accessor(acc, q->now);
    if (!t) {
      /* token_store.go lookupByAccessor: logical.StatusBadRequest. */
      resp_multierr(r, 400, "invalid accessor");
      return;
    }
  } else if (!self) {
    const char *id = "";
    req_str(q, "token", &id);
    t = sim_token_lookup(id, q->now);
    if (!t) {
      resp_err(r, 400, "invalid token");
      return;
    }
  }
  struct strlist paths = {0};
  if (req_strlist(q, r, "paths", &paths) < 0 ||
      req_strlist(q, r, "path", &paths) < 0) {
    strlist_free(&paths);
    return;
  }
  if (!paths.n) {
    strlist_free(&paths);
    resp_err(r, 400, "missing paths");
    return;
  }
  json_object *d = json_object_new_object();
  for (size_t i = 0; i < paths.n; i++) {
    const char *p = paths.v[i];
    while (*p == '/')
      p++;
    unsigned caps = sim_acl_caps(&t->policies, p, 0);
    json_object_object_add(d, paths.v[i], caps_json(caps, t->is_root));
    if (paths.n == 1)
      json_object_object_add(d, "capabilities", caps_json(caps, t->is_root));
  }
  strlist_free(&paths);
  resp_data_and_top(r, d);
}

/* ---- the sys backend ------------------------------------------------------------ */

static void p_mounts(struct sim_call *c)
{
  mounts_route(sim_cap(c, "path"), 0, c->q, c->r);
}

static void p_auth(struct sim_call *c)
{
  mounts_route(sim_cap(c, "path"), 1, c->q, c->r);
}

static void p_seal(struct sim_call *c)
{
  g_sealed = 1;
  resp_nocontent(c->r);
}

static void p_unseal(struct sim_call *c)
{
  unseal(c->q, c->r, NULL, 0);
}

static void p_caps_self(struct sim_call *c)
{
  capabilities(c->q, c->r, 1, 0);
}

static void p_caps(struct sim_call *c)
{
  capabilities(c->q, c->r, 0, 0);
}

static void p_caps_accessor(struct sim_call *c)
{
  capabilities(c->q, c->r, 0, 1);
}

/* ---- sys/internal/ui/mounts (logical_system.go pathInternalUIMounts*) -- */

/* Both paths are token-free; a token, when sent, decides what is shown
** (fetchACLTokenEntryAndEntity: an unknown token is permission denied). */
static int ui_token(struct sim_call *c, struct sim_token **t)
{
  *t = NULL;
  if (!c->q->client_token)
    return 0;
  *t = sim_token_lookup(c->q->client_token, c->q->now);
  if (!*t) {
    resp_multierr(c->r, 403, "permission denied");
    return -1;
  }
  return 0;
}

/* Auth mounts are keyed without "auth/", as MountEntry.Path is. */
static const char *entry_path(const struct sim_mount *m)
{
  return str_has_prefix(m->path, "auth/") ? m->path + 5 : m->path;
}

static int ui_access(const struct sim_token *t, const struct sim_mount *m)
{
  return t->is_root || sim_acl_mount_access(&t->policies, entry_path(m));
}

/* pathInternalUIMountsRead: the mounts the caller can see; without a
** token only those with listing_visibility "unauth" (none here). */
static void p_ui_mounts(struct sim_call *c)
{
  struct sim_token *t;
  if (ui_token(c, &t) < 0)
    return;
  json_object *sec = json_object_new_object(), *auth = json_object_new_object();
  size_t n = 0;
  const char **keys = smap_keys(g_mounts, &n);
  for (size_t i = 0; i < n; i++) {
    struct sim_mount *m = smap_get(g_mounts, keys[i]);
    if (!t || !ui_access(t, m))
      continue;
    json_object_object_add(str_has_prefix(m->path, "auth/") ? auth : sec,
                           entry_path(m), mount_json(m));
  }
  free(keys);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "auth", auth);
  json_object_object_add(d, "secret", sec);
  resp_data(c->r, 200, d);
}

/* pathInternalUIMountRead: the mount serving a path (mountInfo + path),
** 403 with the preflight text when it does not exist or the caller has
** no capability under it, so mounts cannot be probed. */
static void p_ui_mount(struct sim_call *c)
{
  struct sim_token *t;
  if (ui_token(c, &t) < 0)
    return;
  if (!t) {
    resp_multierr(c->r, 403, "permission denied");
    return;
  }
  /* sanitizePath: no leading '/', a trailing one. */
  const char *in = sim_cap(c, "path");
  while (*in == '/')
    in++;
  char *path = str_has_suffix(in, "/") ? xstrdup(in) : xasprintf("%s/", in);
  const char *rest = NULL;
  struct sim_mount *m = sim_mount_find(path, &rest);
  if (!m || !ui_access(t, m)) {
    resp_err(c->r, 403, "preflight capability check returned 403, please "
                        "ensure client's policies grant access to path "
                        "\"%s\"", path);
  } else {
    json_object *d = mount_json(m);
    json_object_object_add(d, "path", json_object_new_string(entry_path(m)));
    resp_data(c->r, 200, d);
  }
  free(path);
}

static void p_tools_random(struct sim_call *c)
{
  sim_tools_random(sim_cap(c, "urlbytes"), c->q, c->r);
}

static void p_tools_hash(struct sim_call *c)
{
  sim_tools_hash(sim_cap(c, "urlalgorithm"), c->q, c->r);
}

/* Vault's vault/logical_system*.go paths that the simulator serves. The
** RAW rows stand for the handlers of http/sys_*.go that Vault runs
** before routing. */
static const struct sim_path sys_paths[] = {
    {"health", 0, NULL, SIM_PATH_RAW | SIM_PATH_UNAUTH, NULL, NULL,
     raw_health, NULL},
    {"seal-status", 0, NULL, SIM_PATH_RAW | SIM_PATH_UNAUTH, NULL, NULL,
     raw_seal_status, NULL},
    {"init", 0, NULL, SIM_PATH_RAW | SIM_PATH_UNAUTH, NULL, NULL, raw_init,
     NULL},
    {"leader", 0, NULL, SIM_PATH_RAW | SIM_PATH_UNAUTH, NULL, NULL,
     raw_leader, NULL},
    {"unseal", SIM_OPB_WRITE, NULL,
     SIM_PATH_RAW | SIM_PATH_UNAUTH | SIM_PATH_SEALED, p_unseal, NULL,
     raw_unseal, NULL},
    {"seal", SIM_OPB_WRITE, NULL, 0, p_seal, NULL, NULL, NULL},
    {"mounts/?", SIM_OPB_ALL, NULL, 0, p_mounts, NULL, NULL, NULL},
    {"mounts/{path:rest}", SIM_OPB_ALL, NULL, 0, p_mounts, NULL, NULL, NULL},
    {"auth/?", SIM_OPB_ALL, NULL, 0, p_auth, NULL, NULL, NULL},
    {"auth/{path:rest}", SIM_OPB_ALL, NULL, 0, p_auth, NULL, NULL, NULL},
    {"", 0, NULL, 0, NULL, NULL, NULL, sim_acl_paths},
    {"", 0, NULL, 0, NULL, NULL, NULL, sim_wrap_paths},
    {"tools/random{urlbytes:opt}", SIM_OPB_ALL, NULL, 0, p_tools_random,
     NULL, NULL, NULL},
    {"tools/hash{urlalgorithm:opt}", SIM_OPB_ALL, NULL, 0, p_tools_hash, NULL,
     NULL, NULL},
    {"leases/", 0, NULL, 0, NULL, NULL, NULL, sim_lease_paths},
    /* The pre-1.x lease endpoints sys/renew and sys/revoke. */
    {"", 0, NULL, 0, NULL, NULL, NULL, sim_lease_legacy_paths},
    {"capabilities-self", SIM_OPB_ALL, NULL, 0, p_caps_self, NULL, NULL,
     NULL},
    {"capabilities", SIM_OPB_ALL, NULL, 0, p_caps, NULL, NULL, NULL},
    {"capabilities-accessor", SIM_OPB_ALL, NULL, 0, p_caps_accessor, NULL,
     NULL, NULL},
    /* PathsSpecial.Unauthenticated: internal/ui/mounts and its children. */
    {"internal/ui/mounts", SIM_OPB_READ, NULL, SIM_PATH_UNAUTH, p_ui_mounts,
     NULL, NULL, NULL},
    {"internal/ui/mounts/{path:rest}", SIM_OPB_READ, NULL, SIM_PATH_UNAUTH,
     p_ui_mount, NULL, NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_system = {
    .type = "system",
    .paths = sys_paths,
};

/* identity/ answers "unsupported path" to everything. */
const struct sim_backend sim_backend_stub = {
    .type = "stub",
};
