/*
** vault-sim AppRole auth method (CONTRACT §4): role CRUD, role-id,
** secret-id issue/lookup/destroy and login, which hands out orphan
** service tokens carrying the role's policies and TTLs.
*/
#include "sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct secret_id {
  char accessor[37];
  struct timespec created;
  struct timespec expire; /* zero = never */
  int64_t uses_left;      /* 0 = unlimited */
  json_object *meta;      /* owned map or NULL */
};

struct role {
  char *name;
  char role_id[64];
  char entity_id[37];
  struct strlist policies;
  int64_t token_ttl, token_max_ttl, token_num_uses, token_period;
  int64_t token_explicit_max_ttl;
  int token_no_default;
  int bind_secret_id;
  int64_t secret_id_ttl, secret_id_num_uses;
  struct strlist secret_id_cidrs, token_cidrs;
  struct smap *secrets; /* secret id -> struct secret_id */
};

struct approle_state {
  struct smap *roles;    /* name -> role */
  struct smap *role_ids; /* role id -> name (char *) */
  struct approle_state *next;
};

static struct approle_state *g_states;

static void secret_free(void *p)
{
  struct secret_id *s = p;
  if (!s)
    return;
  json_object_put(s->meta);
  free(s);
}

static void role_free(void *p)
{
  struct role *r = p;
  if (!r)
    return;
  free(r->name);
  strlist_free(&r->policies);
  strlist_free(&r->secret_id_cidrs);
  strlist_free(&r->token_cidrs);
  smap_free(r->secrets);
  free(r);
}

static void *ar_create(struct sim_mount *m)
{
  (void)m;
  struct approle_state *s = xcalloc(1, sizeof *s);
  s->roles = smap_new(role_free);
  s->role_ids = smap_new(free);
  s->next = g_states;
  g_states = s;
  return s;
}

static void ar_destroy(void *p)
{
  struct approle_state *s = p;
  if (!s)
    return;
  for (struct approle_state **pp = &g_states; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  smap_free(s->roles);
  smap_free(s->role_ids);
  free(s);
}

static char *lower(const char *s)
{
  char *o = xstrdup(s);
  for (char *c = o; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  return o;
}

static json_object *role_json(const struct role *ro)
{
  json_object *d = json_object_new_object();
  json_object_object_add(d, "bind_secret_id",
                         json_object_new_boolean(ro->bind_secret_id));
  json_object_object_add(d, "local_secret_ids", json_object_new_boolean(0));
  json_object_object_add(d, "policies", strlist_json(&ro->policies));
  json_object_object_add(d, "period", json_object_new_int64(ro->token_period));
  json_object_object_add(d, "secret_id_bound_cidrs",
                         strlist_json(&ro->secret_id_cidrs));
  json_object_object_add(d, "secret_id_num_uses",
                         json_object_new_int64(ro->secret_id_num_uses));
  json_object_object_add(d, "secret_id_ttl",
                         json_object_new_int64(ro->secret_id_ttl));
  json_object_object_add(d, "token_bound_cidrs", strlist_json(&ro->token_cidrs));
  json_object_object_add(d, "token_explicit_max_ttl",
                         json_object_new_int64(ro->token_explicit_max_ttl));
  json_object_object_add(d, "token_max_ttl",
                         json_object_new_int64(ro->token_max_ttl));
  json_object_object_add(d, "token_no_default_policy",
                         json_object_new_boolean(ro->token_no_default));
  json_object_object_add(d, "token_num_uses",
                         json_object_new_int64(ro->token_num_uses));
  json_object_object_add(d, "token_period",
                         json_object_new_int64(ro->token_period));
  json_object_object_add(d, "token_policies", strlist_json(&ro->policies));
  json_object_object_add(d, "token_ttl", json_object_new_int64(ro->token_ttl));
  json_object_object_add(d, "token_type", json_object_new_string("default"));
  return d;
}

static void role_write(struct approle_state *s, const char *name,
                       struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {
      "role_name", "bind_secret_id", "secret_id_bound_cidrs",
      "secret_id_num_uses", "secret_id_ttl", "local_secret_ids",
      "token_ttl", "token_max_ttl", "token_policies", "policies",
      "token_bound_cidrs", "token_explicit_max_ttl",
      "token_no_default_policy", "token_num_uses", "token_period",
      "period", "token_type", "role_id", "bound_cidr_list", NULL};
  q->known = known;
  struct role *ro = smap_get(s->roles, name);
  int created = 0;
  if (!ro) {
    ro = xcalloc(1, sizeof *ro);
    ro->name = xstrdup(name);
    ro->bind_secret_id = 1;
    make_uuid(ro->role_id);
    make_uuid(ro->entity_id);
    ro->secrets = smap_new(secret_free);
    created = 1;
  }
  struct strlist pol = {0}, scidr = {0}, tcidr = {0};
  int rc = req_strlist(q, r, "token_policies", &pol);
  if (rc == 0)
    rc = req_strlist(q, r, "policies", &pol);
  int bind = ro->bind_secret_id, nodef = ro->token_no_default;
  int64_t ttl, maxttl, nuses, period, emax, sttl, suses;
  if (rc < 0 || req_strlist(q, r, "secret_id_bound_cidrs", &scidr) < 0 ||
      req_strlist(q, r, "token_bound_cidrs", &tcidr) < 0 ||
      req_bool(q, r, "bind_secret_id", bind, &bind) < 0 ||
      req_bool(q, r, "token_no_default_policy", nodef, &nodef) < 0 ||
      req_duration(q, r, "token_ttl", ro->token_ttl, &ttl) < 0 ||
      req_duration(q, r, "token_max_ttl", ro->token_max_ttl, &maxttl) < 0 ||
      req_duration(q, r, "token_explicit_max_ttl", ro->token_explicit_max_ttl,
                   &emax) < 0 ||
      req_int(q, r, "token_num_uses", ro->token_num_uses, &nuses) < 0 ||
      req_duration(q, r, "token_period", ro->token_period, &period) < 0 ||
      req_duration(q, r, "secret_id_ttl", ro->secret_id_ttl, &sttl) < 0 ||
      req_int(q, r, "secret_id_num_uses", ro->secret_id_num_uses, &suses) <
          0)
    goto fail;
  if (req_has(q, "period") &&
      req_duration(q, r, "period", period, &period) < 0)
    goto fail;
  if (ttl < 0 || maxttl < 0 || nuses < 0 || sttl < 0 || suses < 0) {
    resp_err(r, 400, "%s cannot be negative",
             nuses < 0 ? "token_num_uses" : suses < 0 ? "secret_id_num_uses"
                                                      : "ttl");
    goto fail;
  }
  if (maxttl > 0 && ttl > maxttl) {
    resp_err(r, 400, "\"token_ttl\" value must be less than \"token_max_ttl\" "
                     "value");
    goto fail;
  }
  if (!bind && !scidr.n && !ro->secret_id_cidrs.n && !tcidr.n &&
      !ro->token_cidrs.n) {
    resp_err(r, 400,
             "at least one constraint should be enabled on the role");
    goto fail;
  }
  const char *rid = "";
  req_str(q, "role_id", &rid);
  if (*rid) {
    const char *owner = smap_get(s->role_ids, rid);
    if (owner && strcmp(owner, name) != 0) {
      resp_err(r, 400, "role_id already in use");
      goto fail;
    }
    if (!created)
      smap_del(s->role_ids, ro->role_id);
    snprintf(ro->role_id, sizeof ro->role_id, "%s", rid);
  }
  if (req_has(q, "token_policies") || req_has(q, "policies")) {
    strlist_free(&ro->policies);
    for (size_t i = 0; i < pol.n; i++) {
      char *l = lower(pol.v[i]);
      strlist_add(&ro->policies, l);
      free(l);
    }
    strlist_sort_uniq(&ro->policies);
  }
  if (req_has(q, "secret_id_bound_cidrs")) {
    strlist_free(&ro->secret_id_cidrs);
    ro->secret_id_cidrs = scidr;
    scidr = (struct strlist){0};
  }
  if (req_has(q, "token_bound_cidrs")) {
    strlist_free(&ro->token_cidrs);
    ro->token_cidrs = tcidr;
    tcidr = (struct strlist){0};
  }
  ro->bind_secret_id = bind;
  ro->token_no_default = nodef;
  ro->token_ttl = ttl;
  ro->token_max_ttl = maxttl;
  ro->token_explicit_max_ttl = emax;
  ro->token_num_uses = nuses;
  ro->token_period = period;
  ro->secret_id_ttl = sttl;
  ro->secret_id_num_uses = suses;
  if (created)
    smap_put(s->roles, name, ro);
  smap_put(s->role_ids, ro->role_id, xstrdup(name));
  strlist_free(&pol);
  strlist_free(&scidr);
  strlist_free(&tcidr);
  resp_nocontent(r);
  return;
fail:
  strlist_free(&pol);
  strlist_free(&scidr);
  strlist_free(&tcidr);
  if (created)
    role_free(ro);
}

static void secret_id_issue(struct role *ro, const char *custom,
                            struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {"metadata", "cidr_list",
                                      "token_bound_cidrs", "ttl",
                                      "num_uses", "secret_id", NULL};
  q->known = known;
  json_object *meta = NULL;
  const char *ms = "";
  json_object *mv = req_get(q, "metadata");
  if (mv && json_object_is_type(mv, json_type_object)) {
    meta = json_object_new_object();
    json_object_object_foreach(mv, k, v)
        json_object_object_add(meta, k, json_object_new_string(json_as_str(v)));
  } else if (req_str(q, "metadata", &ms) > 0 && *ms) {
    json_object *parsed = json_tokener_parse(ms);
    if (!parsed || !json_object_is_type(parsed, json_type_object)) {
      json_object_put(parsed);
      resp_err(r, 400, "failed to parse metadata: invalid JSON");
      return;
    }
    meta = json_object_new_object();
    json_object_object_foreach(parsed, k, v)
        json_object_object_add(meta, k, json_object_new_string(json_as_str(v)));
    json_object_put(parsed);
  }
  int64_t ttl = ro->secret_id_ttl, uses = ro->secret_id_num_uses;
  if (req_duration(q, r, "ttl", ttl, &ttl) < 0 ||
      req_int(q, r, "num_uses", uses, &uses) < 0) {
    json_object_put(meta);
    return;
  }
  char sid[64];
  if (custom)
    snprintf(sid, sizeof sid, "%s", custom);
  else
    make_uuid(sid);
  struct secret_id *s = xcalloc(1, sizeof *s);
  make_uuid(s->accessor);
  s->created = q->now;
  if (ttl > 0)
    s->expire = ts_add(q->now, ttl);
  s->uses_left = uses;
  s->meta = meta;
  smap_put(ro->secrets, sid, s);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "secret_id_accessor",
                         json_object_new_string(s->accessor));
  json_object_object_add(d, "secret_id", json_object_new_string(sid));
  json_object_object_add(d, "secret_id_ttl", json_object_new_int64(ttl));
  json_object_object_add(d, "secret_id_num_uses", json_object_new_int64(uses));
  resp_data(r, 200, d);
}

static struct role *role_by_id(struct approle_state *s, const char *rid)
{
  const char *name = smap_get(s->role_ids, rid);
  return name ? smap_get(s->roles, name) : NULL;
}

static const char *const k_login[] = {"role_id", "secret_id", NULL};

static void login(struct sim_mount *m, struct approle_state *s,
                  struct sim_req *q, struct sim_resp *r)
{
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  const char *rid = "", *sid = "";
  req_str(q, "role_id", &rid);
  req_str(q, "secret_id", &sid);
  if (!*rid) {
    resp_err(r, 400, "missing role_id");
    return;
  }
  struct role *ro = role_by_id(s, rid);
  if (!ro) {
    resp_err(r, 400, "invalid role or secret ID");
    return;
  }
  json_object *meta = json_object_new_object();
  if (ro->bind_secret_id) {
    if (!*sid) {
      json_object_put(meta);
      resp_err(r, 400, "missing secret_id");
      return;
    }
    struct secret_id *se = smap_get(ro->secrets, sid);
    if (se && !ts_zero(se->expire) && !ts_before(q->now, se->expire)) {
      smap_del(ro->secrets, sid);
      se = NULL;
    }
    if (!se) {
      json_object_put(meta);
      resp_err(r, 400, "invalid role or secret ID");
      return;
    }
    if (se->meta) {
      json_object_object_foreach(se->meta, k, v)
          json_object_object_add(meta, k, json_object_get(v));
    }
    if (se->uses_left > 0 && --se->uses_left == 0)
      smap_del(ro->secrets, sid);
  }
  json_object_object_add(meta, "role_name", json_object_new_string(ro->name));
  char *path = xasprintf("%slogin", m->path);
  struct sim_token *t = sim_token_issue_login(
      q, r, &ro->policies, ro->token_no_default, ro->token_ttl,
      ro->token_max_ttl, ro->token_explicit_max_ttl, ro->token_num_uses,
      ro->token_period, "approle",
      meta, path, ro->name);
  free(path);
  json_object_put(meta);
  /* One identity per role, like the entity alias Vault creates. */
  snprintf(t->entity_id, sizeof t->entity_id, "%s", ro->entity_id);
  json_object_object_add(r->auth, "entity_id",
                         json_object_new_string(ro->entity_id));
}

const char *sim_approle_renew_check(const char *role,
                                    const struct strlist *policies)
{
  for (struct approle_state *s = g_states; s; s = s->next) {
    struct role *ro = smap_get(s->roles, role);
    if (!ro)
      continue;
    struct strlist want = {0};
    for (size_t i = 0; i < ro->policies.n; i++)
      strlist_add(&want, ro->policies.v[i]);
    if (!ro->token_no_default)
      strlist_add(&want, "default");
    strlist_sort_uniq(&want);
    int same = want.n == policies->n;
    for (size_t i = 0; same && i < want.n; i++)
      same = strcmp(want.v[i], policies->v[i]) == 0;
    strlist_free(&want);
    return same ? NULL : "policies have changed, not renewing";
  }
  return "role no longer exists, not renewing";
}

static int is_write(const struct sim_req *q)
{
  return q->op == SIM_OP_UPDATE || q->op == SIM_OP_CREATE;
}

/* Row handlers below role/<role_name>: the name is case-insensitive
** (stored lower-cased) and the role may not exist yet. */
static void p_role(struct sim_call *c)
{
  struct approle_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  char *lname = lower(sim_cap(c, "role_name"));
  struct role *ro = smap_get(s->roles, lname);
  if (q->op == SIM_OP_READ) {
    if (ro)
      resp_data(r, 200, role_json(ro));
    else
      resp_err_empty(r, 404);
  } else if (is_write(q)) {
    role_write(s, lname, q, r);
  } else if (q->op == SIM_OP_DELETE) {
    if (ro) {
      smap_del(s->role_ids, ro->role_id);
      smap_del(s->roles, lname);
    }
    resp_nocontent(r);
  } else {
    resp_unsupported_op(r);
  }
  free(lname);
}

static void p_role_id(struct sim_call *c)
{
  struct approle_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  char *lname = lower(sim_cap(c, "role_name"));
  struct role *ro = smap_get(s->roles, lname);
  if (q->op == SIM_OP_READ) {
    if (!ro) {
      resp_err_empty(r, 404);
    } else {
      json_object *d = json_object_new_object();
      json_object_object_add(d, "role_id", json_object_new_string(ro->role_id));
      resp_data(r, 200, d);
    }
  } else if (is_write(q)) {
    const char *rid = "";
    req_str(q, "role_id", &rid);
    if (!ro)
      resp_err(r, 400, "role \"%s\" does not exist", lname);
    else if (!*rid)
      resp_err(r, 400, "missing role_id");
    else {
      smap_del(s->role_ids, ro->role_id);
      snprintf(ro->role_id, sizeof ro->role_id, "%s", rid);
      smap_put(s->role_ids, rid, xstrdup(lname));
      resp_nocontent(r);
    }
  } else {
    resp_unsupported_op(r);
  }
  free(lname);
}

static void p_secret_id(struct sim_call *c)
{
  struct approle_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  char *lname = lower(sim_cap(c, "role_name"));
  struct role *ro = smap_get(s->roles, lname);
  if (q->op == SIM_OP_LIST) {
    if (!ro) {
      resp_err(r, 400, "role \"%s\" does not exist", lname);
    } else {
      size_t n = 0;
      const char **keys = smap_keys(ro->secrets, &n);
      struct strlist acc = {0};
      for (size_t i = 0; i < n; i++) {
        struct secret_id *se = smap_get(ro->secrets, keys[i]);
        strlist_add(&acc, se->accessor);
      }
      free(keys);
      strlist_sort_uniq(&acc);
      if (!acc.n) {
        resp_err_empty(r, 404);
      } else {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "keys", strlist_json(&acc));
        resp_data(r, 200, d);
      }
      strlist_free(&acc);
    }
  } else if (is_write(q)) {
    if (!ro)
      resp_err(r, 400, "role \"%s\" does not exist", lname);
    else
      secret_id_issue(ro, NULL, q, r);
  } else {
    resp_unsupported_op(r);
  }
  free(lname);
}

static void p_custom_secret_id(struct sim_call *c)
{
  struct approle_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  char *lname = lower(sim_cap(c, "role_name"));
  struct role *ro = smap_get(s->roles, lname);
  const char *sid = "";
  req_str(q, "secret_id", &sid);
  if (!is_write(q))
    resp_unsupported_op(r);
  else if (!ro)
    resp_err(r, 400, "role \"%s\" does not exist", lname);
  else if (!*sid)
    resp_err(r, 400, "missing secret_id");
  else
    secret_id_issue(ro, sid, q, r);
  free(lname);
}

static void p_secret_id_lookup(struct sim_call *c)
{
  struct approle_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  char *lname = lower(sim_cap(c, "role_name"));
  struct role *ro = smap_get(s->roles, lname);
  const char *sid = "";
  req_str(q, "secret_id", &sid);
  /* One handler for the lookup and destroy rows. */
  int destroy = strstr(c->path->pattern, "destroy") != NULL;
  if (!is_write(q) && !(destroy && q->op == SIM_OP_DELETE)) {
    resp_unsupported_op(r);
  } else if (!*sid) {
    resp_err(r, 400, "missing secret_id");
  } else if (!ro) {
    resp_err(r, 400, "role \"%s\" does not exist", lname);
  } else if (destroy) {
    smap_del(ro->secrets, sid);
    resp_nocontent(r);
  } else {
    struct secret_id *se = smap_get(ro->secrets, sid);
    if (!se) {
      resp_nocontent(r);
    } else {
      char buf[40];
      json_object *d = json_object_new_object();
      fmt_rfc3339(se->created, buf);
      json_object_object_add(d, "creation_time", json_object_new_string(buf));
      fmt_rfc3339(se->expire, buf);
      json_object_object_add(d, "expiration_time",
                             json_object_new_string(ts_zero(se->expire)
                                                        ? "0001-01-01T00:00:00Z"
                                                        : buf));
      json_object_object_add(d, "last_updated_time",
                             json_object_new_string(buf));
      json_object_object_add(d, "metadata",
                             se->meta ? json_object_get(se->meta)
                                      : json_object_new_object());
      json_object_object_add(d, "secret_id_accessor",
                             json_object_new_string(se->accessor));
      json_object_object_add(d, "secret_id_num_uses",
                             json_object_new_int64(se->uses_left));
      json_object_object_add(
          d, "secret_id_ttl",
          json_object_new_int64(ts_zero(se->expire)
                                    ? 0
                                    : se->expire.tv_sec - q->now.tv_sec));
      resp_data(r, 200, d);
    }
  }
  free(lname);
}

/* ---- path table (builtin/credential/approle/path_role.go, path_login.go) */

static int ar_exists(struct sim_call *c)
{
  struct approle_state *s = c->state;
  char *l = lower(sim_cap(c, "role_name"));
  int e = smap_get(s->roles, l) != NULL;
  free(l);
  return e;
}

static void p_login(struct sim_call *c)
{
  login(c->m, c->state, c->q, c->r);
}

static void p_role_list(struct sim_call *c)
{
  struct approle_state *s = c->state;
  resp_list_keys(c->r, s->roles);
}

#define RWD (SIM_OPB_READ | SIM_OPB_WRITE | SIM_OPB_DELETE)
#define W SIM_OPB_WRITE

static const char *const k_role_id[] = {"role_id", NULL};
static const char *const k_secret_id[] = {"secret_id", NULL};

/* builtin/credential/approle/path_role.go: "role/" +
** framework.GenericNameRegex("role_name") [+ sub-path]. */
static const struct sim_path approle_paths[] = {
    {"login", W, k_login, SIM_PATH_UNAUTH, p_login, NULL, NULL, NULL},
    {"role/?", SIM_OPB_LIST, NULL, 0, p_role_list, NULL, NULL, NULL},
    {"role/{role_name}", RWD, NULL, 0, p_role, ar_exists, NULL, NULL},
    {"role/{role_name}/role-id", SIM_OPB_READ | W, k_role_id, 0,
     p_role_id, NULL, NULL, NULL},
    {"role/{role_name}/secret-id/?", SIM_OPB_LIST | W, NULL, 0,
     p_secret_id, NULL, NULL, NULL},
    {"role/{role_name}/custom-secret-id", W, NULL, 0, p_custom_secret_id,
     NULL, NULL, NULL},
    {"role/{role_name}/secret-id/lookup/?", W, k_secret_id, 0,
     p_secret_id_lookup, NULL, NULL, NULL},
    {"role/{role_name}/secret-id/destroy/?", W | SIM_OPB_DELETE,
     k_secret_id, 0, p_secret_id_lookup, NULL, NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_approle = {
    .type = "approle",
    .create = ar_create,
    .destroy = ar_destroy,
    .paths = approle_paths,
};
