/*
** vault-sim token store and the auth/token/ backend (CONTRACT §3).
**
** Tokens form a tree through their parent id. Revoking a token revokes
** its non-orphan descendants and every lease they own. Expiry is by wall
** clock: a token found expired at look-up (or by the periodic sweep) is
** revoked with its subtree, exactly as an explicit revocation.
**
** That is Vault's path too: a token's own lease expires in the expiration
** manager (vault/expiration.go revokeEntry, for an auth lease, calls
** TokenStore.revokeTree), vault/token_store.go revokeTreeInternal walks
** the children depth first and revokeInternal calls
** ExpirationManager.RevokeByToken for each token, which marks every lease
** in that token's index as expired now. A lease therefore never outlives
** the token that created it, or that token's parent, however long its own
** TTL (the sub-tree test in tests/vaultsim/run_tests.py, suite database).
** Orphans (create-orphan, no_parent with sudo) have no parent to die with.
*/
#include "sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct smap *g_tokens;    /* id -> struct sim_token */
static struct smap *g_accessors; /* accessor -> token id (char *) */
static time_t g_last_sweep;


static void token_free(void *p)
{
  struct sim_token *t = p;
  if (!t)
    return;
  free(t->id);
  free(t->parent);
  strlist_free(&t->policies);
  json_object_put(t->meta);
  free(t->display_name);
  free(t->path);
  free(t->role_name);
  free(t);
}

static struct sim_token *token_new(const char *id)
{
  struct sim_token *t = xcalloc(1, sizeof *t);
  if (id && *id) {
    t->id = xstrdup(id);
  } else {
    char rnd[25];
    rand_base62(rnd, 24);
    t->id = xasprintf("hvs.%s", rnd);
  }
  rand_base62(t->accessor, 24);
  t->issue = now_ts();
  return t;
}

static void token_store(struct sim_token *t)
{
  smap_put(g_tokens, t->id, t);
  smap_put(g_accessors, t->accessor, xstrdup(t->id));
}

void sim_token_init(const char *root_id)
{
  g_tokens = smap_new(token_free);
  g_accessors = smap_new(free);
  struct sim_token *t = token_new(root_id);
  t->is_root = 1;
  t->orphan = 1;
  strlist_add(&t->policies, "root");
  t->display_name = xstrdup("root");
  t->path = xstrdup("auth/token/root");
  token_store(t);
}

void sim_token_revoke_tree(const char *id_in)
{
  struct sim_token *t = smap_get(g_tokens, id_in);
  if (!t)
    return;
  char *id = xstrdup(id_in);
  struct strlist kids = {0};
  size_t n = 0;
  const char **keys = smap_keys(g_tokens, &n);
  for (size_t i = 0; i < n; i++) {
    struct sim_token *c = smap_get(g_tokens, keys[i]);
    if (c->parent && strcmp(c->parent, id) == 0)
      strlist_add(&kids, c->id);
  }
  free(keys);
  for (size_t i = 0; i < kids.n; i++)
    sim_token_revoke_tree(kids.v[i]);
  strlist_free(&kids);
  sim_lease_revoke_by_token(id);
  sim_cubby_drop(id); /* a token's cubbyhole dies with it */
  t = smap_get(g_tokens, id);
  if (t) {
    smap_del(g_accessors, t->accessor);
    smap_del(g_tokens, id);
  }
  free(id);
}

static int expired(const struct sim_token *t, struct timespec now)
{
  return !ts_zero(t->expire) && !ts_before(now, t->expire);
}

/* Revokes every expired token; run at most once a second so that leases
** of tokens nobody uses any more still die on time. */
void sim_token_sweep(struct timespec now)
{
  if (now.tv_sec == g_last_sweep)
    return;
  g_last_sweep = now.tv_sec;
  size_t n = 0;
  const char **keys = smap_keys(g_tokens, &n);
  struct strlist dead = {0};
  for (size_t i = 0; i < n; i++) {
    struct sim_token *t = smap_get(g_tokens, keys[i]);
    if (expired(t, now))
      strlist_add(&dead, t->id);
  }
  free(keys);
  for (size_t i = 0; i < dead.n; i++)
    sim_token_revoke_tree(dead.v[i]);
  strlist_free(&dead);
}

struct sim_token *sim_token_lookup(const char *id, struct timespec now)
{
  sim_token_sweep(now);
  struct sim_token *t = smap_get(g_tokens, id);
  if (!t || t->num_uses < 0)
    return NULL;
  for (struct sim_token *c = t; c;
       c = c->parent ? smap_get(g_tokens, c->parent) : NULL) {
    if (expired(c, now)) {
      sim_token_revoke_tree(c->id);
      return NULL;
    }
  }
  return smap_get(g_tokens, id);
}

int64_t sim_token_ttl_left(const struct sim_token *t, struct timespec now)
{
  if (ts_zero(t->expire))
    return 0;
  int64_t s = (int64_t)(t->expire.tv_sec - now.tv_sec);
  if (t->expire.tv_nsec < now.tv_nsec)
    s--;
  return s < 0 ? 0 : s;
}

json_object *sim_token_auth_json(const struct sim_token *t,
                                 int64_t lease_duration)
{
  json_object *a = json_object_new_object();
  json_object_object_add(a, "client_token", json_object_new_string(t->id));
  json_object_object_add(a, "accessor", json_object_new_string(t->accessor));
  json_object_object_add(a, "policies", strlist_json(&t->policies));
  json_object_object_add(a, "token_policies", strlist_json(&t->policies));
  json_object_object_add(a, "metadata",
                         t->meta ? json_object_get(t->meta) : NULL);
  json_object_object_add(a, "lease_duration",
                         json_object_new_int64(lease_duration));
  json_object_object_add(a, "renewable", json_object_new_boolean(t->renewable));
  json_object_object_add(a, "entity_id", json_object_new_string(t->entity_id));
  json_object_object_add(a, "token_type", json_object_new_string("service"));
  json_object_object_add(a, "orphan", json_object_new_boolean(t->orphan));
  json_object_object_add(a, "mfa_requirement", NULL);
  json_object_object_add(a, "num_uses",
                         json_object_new_int64(t->num_uses < 0 ? 0
                                                               : t->num_uses));
  return a;
}

static json_object *lookup_json(const struct sim_token *t, struct timespec now,
                                int with_id)
{
  json_object *d = json_object_new_object();
  char buf[40];
  json_object_object_add(d, "accessor", json_object_new_string(t->accessor));
  json_object_object_add(d, "creation_time",
                         json_object_new_int64(ts_sec(t->issue)));
  json_object_object_add(d, "creation_ttl",
                         json_object_new_int64(t->creation_ttl));
  json_object_object_add(d, "display_name",
                         json_object_new_string(t->display_name));
  json_object_object_add(d, "entity_id", json_object_new_string(t->entity_id));
  if (ts_zero(t->expire)) {
    json_object_object_add(d, "expire_time", NULL);
  } else {
    fmt_rfc3339(t->expire, buf);
    json_object_object_add(d, "expire_time", json_object_new_string(buf));
  }
  json_object_object_add(d, "explicit_max_ttl",
                         json_object_new_int64(t->explicit_max_ttl));
  json_object_object_add(d, "id", json_object_new_string(with_id ? t->id : ""));
  if (!ts_zero(t->expire)) {
    fmt_rfc3339(t->issue, buf);
    json_object_object_add(d, "issue_time", json_object_new_string(buf));
  }
  if (!ts_zero(t->last_renewal)) {
    fmt_rfc3339(t->last_renewal, buf);
    json_object_object_add(d, "last_renewal", json_object_new_string(buf));
    json_object_object_add(d, "last_renewal_time",
                           json_object_new_int64(ts_sec(t->last_renewal)));
  }
  json_object_object_add(d, "meta", t->meta ? json_object_get(t->meta) : NULL);
  json_object_object_add(d, "num_uses", json_object_new_int64(t->num_uses));
  json_object_object_add(d, "orphan", json_object_new_boolean(t->orphan));
  json_object_object_add(d, "path", json_object_new_string(t->path));
  if (t->period)
    json_object_object_add(d, "period", json_object_new_int64(t->period));
  json_object_object_add(d, "policies", strlist_json(&t->policies));
  if (!ts_zero(t->expire))
    json_object_object_add(d, "renewable",
                           json_object_new_boolean(t->renewable));
  json_object_object_add(d, "ttl",
                         json_object_new_int64(sim_token_ttl_left(t, now)));
  json_object_object_add(d, "type", json_object_new_string("service"));
  return d;
}

/* policyutil.SanitizePolicies: trim, lower-case, drop empties, root
** alone, optional default, sorted and unique. */
static void sanitize_policies(struct strlist *l, int add_default)
{
  struct strlist out = {0};
  for (size_t i = 0; i < l->n; i++) {
    char *s = l->v[i];
    for (char *c = s; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    if (*s)
      strlist_add(&out, s);
  }
  strlist_free(l);
  if (strlist_has(&out, "root")) {
    strlist_free(&out);
    strlist_add(&out, "root");
    *l = out;
    return;
  }
  if (add_default)
    strlist_add(&out, "default");
  strlist_sort_uniq(&out);
  *l = out;
}

static int is_subset(const struct strlist *sub, const struct strlist *super)
{
  for (size_t i = 0; i < sub->n; i++)
    if (!strlist_has(super, sub->v[i]))
      return 0;
  return 1;
}

static void warn_missing_policies(struct sim_resp *r, const struct strlist *p)
{
  for (size_t i = 0; i < p->n; i++)
    if (!sim_acl_policy_exists(p->v[i]))
      resp_warn(r, "Policy \"%s\" does not exist", p->v[i]);
}

/* Applies the system max TTL, with Vault's warning when it bites. */
static int64_t cap_ttl(struct sim_resp *r, int64_t ttl, int64_t max)
{
  if (ttl > max) {
    char a[40], b[40];
    fmt_go_duration(ttl, a);
    fmt_go_duration(max, b);
    resp_warn(r,
              "TTL of \"%s\" exceeded the effective max_ttl of \"%s\"; TTL "
              "value is capped accordingly",
              a, b);
    return max;
  }
  return ttl;
}

static const char *const k_create[] = {
    "policies", "meta", "no_parent", "no_default_policy", "renewable",
    "ttl", "explicit_max_ttl", "period", "num_uses", "display_name", "id",
    "type", "entity_alias", "lease", "role_name", "format", NULL};

static void token_create(struct sim_req *q, struct sim_resp *r,
                         int orphan_path)
{
  struct sim_token *parent = q->token;
  struct strlist pol = {0};
  json_object *meta = NULL;
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  if (parent->num_uses != 0) {
    resp_err(r, 400, "restricted use token cannot generate child tokens");
    return;
  }
  int sudo = parent->is_root ||
             (sim_acl_caps(&parent->policies, q->path, 0) & CAP_SUDO);

  int no_parent, no_default, renewable;
  int64_t ttl, explicit_max, period, num_uses;
  const char *display = "", *id = "", *type = "";
  int have_pol = req_strlist(q, r, "policies", &pol);
  if (have_pol < 0 ||
      req_bool(q, r, "no_parent", 0, &no_parent) < 0 ||
      req_bool(q, r, "no_default_policy", 0, &no_default) < 0 ||
      req_bool(q, r, "renewable", 1, &renewable) < 0 ||
      req_int(q, r, "num_uses", 0, &num_uses) < 0 ||
      req_duration(q, r, "ttl", 0, &ttl) < 0 ||
      req_duration(q, r, "explicit_max_ttl", 0, &explicit_max) < 0 ||
      req_duration(q, r, "period", 0, &period) < 0)
    goto out;
  if (req_has(q, "lease") && !req_has(q, "ttl") &&
      req_duration(q, r, "lease", 0, &ttl) < 0)
    goto out;
  req_str(q, "display_name", &display);
  req_str(q, "id", &id);
  req_str(q, "type", &type);
  json_object *mv = req_get(q, "meta");
  if (mv && !json_object_is_type(mv, json_type_null)) {
    if (!json_object_is_type(mv, json_type_object)) {
      resp_err(r, 400, "error decoding meta: expected a map");
      goto out;
    }
    meta = json_object_new_object();
    json_object_object_foreach(mv, k, v)
    {
      if (json_object_is_type(v, json_type_object) ||
          json_object_is_type(v, json_type_array)) {
        resp_err(r, 400, "error decoding meta: values must be strings");
        goto out;
      }
      json_object_object_add(meta, k, json_object_new_string(json_as_str(v)));
    }
  }
  if (*type && strcmp(type, "service") != 0 && strcmp(type, "batch") != 0) {
    resp_err(r, 400, "unsupported token type %s", type);
    goto out;
  }
  if (num_uses < 0) {
    resp_err(r, 400, "number of uses cannot be negative");
    goto out;
  }
  if (*id && !sudo) {
    resp_err(r, 400, "root or sudo privileges required to specify token id");
    goto out;
  }
  if (*id && smap_get(g_tokens, id)) {
    resp_err(r, 400, "cannot create a token with a duplicate ID");
    goto out;
  }

  /* Policies: the rules of resolveTokenPolicies (CONTRACT §3.2). */
  if (have_pol > 0) {
    sanitize_policies(&pol, 0);
    if (strlist_has(&pol, "root") && !strlist_has(&parent->policies, "root")) {
      resp_err(r, 400,
               "root tokens may not be created without parent token being "
               "root");
      goto out;
    }
    if (!sudo && !is_subset(&pol, &parent->policies)) {
      resp_err(r, 400, "child policies must be subset of parent");
      goto out;
    }
    int add_default = !no_default && !strlist_has(&pol, "root") &&
                      (sudo || strlist_has(&parent->policies, "default"));
    if (add_default)
      strlist_add(&pol, "default");
    strlist_sort_uniq(&pol);
  } else {
    for (size_t i = 0; i < parent->policies.n; i++)
      if (!(no_default && strcmp(parent->policies.v[i], "default") == 0))
        strlist_add(&pol, parent->policies.v[i]);
  }
  if (!orphan_path && no_parent && !sudo) {
    resp_err(r, 400, "root or sudo privileges required to create orphan token");
    goto out;
  }
  if (period && !sudo) {
    resp_err(r, 400, "root or sudo privileges required to create periodic token");
    goto out;
  }
  if (ttl < 0) {
    resp_err(r, 400, "ttl must be positive");
    goto out;
  }
  if (explicit_max < 0) {
    resp_err(r, 400, "explicit_max_ttl must be positive");
    goto out;
  }
  if (strcmp(type, "batch") == 0 && (num_uses || period || explicit_max)) {
    resp_err(r, 400, "batch tokens cannot have num_uses, period or "
                     "explicit_max_ttl set");
    goto out;
  }

  int is_root_child = strlist_has(&pol, "root");
  if (period)
    ttl = period;
  if (ttl == 0 && !is_root_child)
    ttl = SIM_DEFAULT_TTL;
  if (explicit_max && (ttl == 0 || ttl > explicit_max))
    ttl = explicit_max;
  if (!period)
    ttl = cap_ttl(r, ttl, SIM_MAX_TTL);

  struct sim_token *t = token_new(*id ? id : NULL);
  t->policies = pol;
  pol.v = NULL;
  pol.n = 0;
  t->meta = meta;
  meta = NULL;
  /* "token-" + name, with anything outside [A-Za-z0-9-] turned into '-'
  ** and one trailing '-' trimmed. */
  char *dn = xasprintf("token-%s", *display ? display : "");
  for (char *c = dn; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '-')
      *c = '-';
  size_t dl = strlen(dn);
  if (dl && dn[dl - 1] == '-')
    dn[dl - 1] = 0;
  t->display_name = dn;
  t->path = xasprintf("auth/token/%s", orphan_path ? "create-orphan" : "create");
  t->orphan = orphan_path || no_parent;
  if (!t->orphan)
    t->parent = xstrdup(parent->id);
  t->is_root = is_root_child;
  t->creation_ttl = ttl;
  t->explicit_max_ttl = explicit_max;
  t->period = period;
  t->num_uses = num_uses;
  t->renewable = ttl > 0 ? renewable : 0;
  if (ttl > 0)
    t->expire = ts_add(t->issue, ttl);
  token_store(t);
  warn_missing_policies(r, &t->policies);
  json_object *w = r->warnings;
  r->warnings = NULL;
  resp_data(r, 200, NULL);
  r->warnings = w;
  r->auth = sim_token_auth_json(t, ttl);
out:
  strlist_free(&pol);
  json_object_put(meta);
}

struct sim_token *sim_token_issue_login(struct sim_req *q, struct sim_resp *r,
                                        const struct strlist *policies,
                                        int no_default, int64_t ttl,
                                        int64_t max_ttl,
                                        int64_t explicit_max,
                                        int64_t num_uses, int64_t period,
                                        const char *display_name,
                                        json_object *meta, const char *path,
                                        const char *role_name)
{
  (void)q;
  struct sim_token *t = token_new(NULL);
  for (size_t i = 0; i < policies->n; i++)
    strlist_add(&t->policies, policies->v[i]);
  sanitize_policies(&t->policies, !no_default);
  t->meta = meta ? json_object_get(meta) : NULL;
  t->display_name = xstrdup(display_name);
  t->path = xstrdup(path);
  t->orphan = 1;
  make_uuid(t->entity_id);
  if (period)
    ttl = period;
  if (ttl <= 0)
    ttl = SIM_DEFAULT_TTL;
  int64_t max = max_ttl > 0 && max_ttl < SIM_MAX_TTL ? max_ttl : SIM_MAX_TTL;
  if (ttl > max)
    ttl = max;
  if (explicit_max > 0 && ttl > explicit_max)
    ttl = explicit_max;
  t->creation_ttl = ttl;
  t->explicit_max_ttl = explicit_max > 0 ? explicit_max : 0;
  t->max_ttl = max;
  t->period = period;
  t->num_uses = num_uses;
  t->renewable = 1;
  t->expire = ts_add(t->issue, ttl);
  t->role_name = role_name ? xstrdup(role_name) : NULL;
  token_store(t);
  json_object *w = r->warnings;
  r->warnings = NULL;
  resp_data(r, 200, NULL);
  r->warnings = w;
  r->auth = sim_token_auth_json(t, ttl);
  return t;
}

struct sim_token *sim_token_by_accessor(const char *accessor,
                                        struct timespec now)
{
  const char *id = accessor && *accessor ? smap_get(g_accessors, accessor)
                                         : NULL;
  return id ? sim_token_lookup(id, now) : NULL;
}

/* vault/wrapping.go wrapInCubbyhole: a wrapping token is an orphan
** service token with the single "response-wrapping" policy, one use, and
** TTL = explicit max TTL = the wrap TTL; its path is the wrapped
** request's path. It is not renewable. */
struct sim_token *sim_token_issue_wrapping(int64_t ttl, const char *path,
                                           struct timespec now)
{
  struct sim_token *t = token_new(NULL);
  strlist_add(&t->policies, SIM_WRAP_POLICY);
  t->display_name = xstrdup("");
  t->path = xstrdup(path);
  t->orphan = 1;
  t->issue = now;
  t->creation_ttl = ttl;
  t->explicit_max_ttl = ttl;
  t->max_ttl = ttl;
  t->num_uses = 1;
  t->renewable = 0;
  t->expire = ts_add(now, ttl);
  token_store(t);
  return t;
}

/* Sets entity ids for login tokens that share one identity. */
static struct sim_token *token_by_field(struct sim_req *q, const char *field)
{
  const char *id = "";
  req_str(q, field, &id);
  if (!*id)
    return NULL;
  return sim_token_lookup(id, q->now);
}

static void token_renew(struct sim_req *q, struct sim_resp *r,
                        struct sim_token *t)
{
  int64_t inc = 0;
  if (req_duration(q, r, "increment", 0, &inc) < 0)
    return;
  if (ts_zero(t->expire)) {
    resp_err(r, 400, "invalid lease ID");
    return;
  }
  if (!t->renewable) {
    resp_err(r, 400, "lease is not renewable");
    return;
  }
  if (t->role_name) {
    const char *e = sim_approle_renew_check(t->role_name, &t->policies);
    if (e) {
      resp_err(r, 400, "%s", e);
      return;
    }
  }
  int64_t ttl = t->period ? t->period : (inc > 0 ? inc : t->creation_ttl);
  /* The renewal cap: explicit_max_ttl always; otherwise (not for periodic
  ** tokens) the role/mount max TTL, never above the system max. Counted
  ** from the issue time, so repeated renewals cannot outlive it. */
  int64_t maxttl = 0;
  if (!t->period)
    maxttl = t->max_ttl > 0 && t->max_ttl < SIM_MAX_TTL ? t->max_ttl
                                                        : SIM_MAX_TTL;
  if (t->explicit_max_ttl && (maxttl == 0 || t->explicit_max_ttl < maxttl))
    maxttl = t->explicit_max_ttl;
  int64_t left = 0;
  struct timespec limit = {0, 0};
  if (maxttl) {
    limit = ts_add(t->issue, maxttl);
    left = (int64_t)(limit.tv_sec - q->now.tv_sec);
    if (limit.tv_nsec < q->now.tv_nsec)
      left--; /* whole seconds still left before the cap */
    if (!ts_before(q->now, limit)) {
      resp_err(r, 400, "past the max TTL, cannot renew");
      return;
    }
  }
  int capped = maxttl && ttl > left;
  if (capped) {
    char a[40], b[40];
    fmt_go_duration(ttl, a);
    fmt_go_duration(maxttl, b);
    resp_warn(r,
              "TTL of \"%s\" exceeded the effective max_ttl of \"%s\"; TTL "
              "value is capped accordingly",
              a, b);
    ttl = left;
  }
  /* A capped token lives exactly until the max TTL; the reported
  ** lease_duration is the whole seconds left. */
  t->expire = capped ? limit : ts_add(q->now, ttl);
  t->last_renewal = q->now;
  json_object *w = r->warnings;
  r->warnings = NULL;
  resp_data(r, 200, NULL);
  r->warnings = w;
  r->auth = sim_token_auth_json(t, ttl);
}

static const char *const k_token[] = {"token", "increment", NULL};
static const char *const k_acc[] = {"accessor", "increment", NULL};
static const char *const k_inc[] = {"increment", NULL};

static void p_create(struct sim_call *c)
{
  token_create(c->q, c->r, 0);
}

static void p_create_orphan(struct sim_call *c)
{
  token_create(c->q, c->r, 1);
}

static void p_lookup_self(struct sim_call *c)
{
  resp_data(c->r, 200, lookup_json(c->q->token, c->q->now, 1));
}

static void p_lookup(struct sim_call *c)
{
  struct sim_req *q = c->q;
  const char *id = "";
  req_str(q, "token", &id);
  struct sim_token *t = *id ? sim_token_lookup(id, q->now) : q->token;
  if (!t) {
    resp_err(c->r, 403, "bad token");
    return;
  }
  resp_data(c->r, 200, lookup_json(t, q->now, 1));
}

static void p_lookup_accessor(struct sim_call *c)
{
  struct sim_req *q = c->q;
  const char *acc = "";
  req_str(q, "accessor", &acc);
  const char *id = *acc ? smap_get(g_accessors, acc) : NULL;
  struct sim_token *t = id ? sim_token_lookup(id, q->now) : NULL;
  if (!t) {
    resp_err(c->r, 400, "invalid accessor");
    return;
  }
  resp_data(c->r, 200, lookup_json(t, q->now, 0));
}

static void p_renew_self(struct sim_call *c)
{
  token_renew(c->q, c->r, c->q->token);
}

static void p_renew(struct sim_call *c)
{
  struct sim_req *q = c->q;
  const char *id = "";
  req_str(q, "token", &id);
  if (!*id) {
    resp_err(c->r, 400, "missing token ID");
    return;
  }
  struct sim_token *t = token_by_field(q, "token");
  if (!t) {
    resp_err(c->r, 400, "invalid lease ID");
    return;
  }
  token_renew(q, c->r, t);
}

static void p_revoke_self(struct sim_call *c)
{
  sim_token_revoke_tree(c->q->token->id);
  c->q->token = NULL;
  resp_nocontent(c->r);
}

static void revoke_common(struct sim_call *c, int orphan)
{
  struct sim_req *q = c->q;
  const char *id = "";
  req_str(q, "token", &id);
  if (!*id) {
    resp_err(c->r, 400, "missing token ID");
    return;
  }
  char *idc = xstrdup(id);
  struct sim_token *t = smap_get(g_tokens, idc);
  if (t && orphan) {
    /* Children survive as orphans. */
    size_t n = 0;
    const char **keys = smap_keys(g_tokens, &n);
    for (size_t i = 0; i < n; i++) {
      struct sim_token *ch = smap_get(g_tokens, keys[i]);
      if (ch->parent && strcmp(ch->parent, idc) == 0) {
        free(ch->parent);
        ch->parent = NULL;
        ch->orphan = 1;
      }
    }
    free(keys);
  }
  if (t) {
    if (q->token && strcmp(q->token->id, idc) == 0)
      q->token = NULL;
    sim_token_revoke_tree(idc);
  }
  free(idc);
  resp_nocontent(c->r);
}

static void p_revoke(struct sim_call *c)
{
  revoke_common(c, 0);
}

static void p_revoke_orphan(struct sim_call *c)
{
  revoke_common(c, 1);
}

static void p_revoke_accessor(struct sim_call *c)
{
  struct sim_req *q = c->q;
  const char *acc = "";
  req_str(q, "accessor", &acc);
  const char *id = *acc ? smap_get(g_accessors, acc) : NULL;
  if (id) {
    char *idc = xstrdup(id);
    if (q->token && strcmp(q->token->id, idc) == 0)
      q->token = NULL;
    sim_token_revoke_tree(idc);
    free(idc);
  }
  resp_nocontent(c->r);
}

static void p_accessors(struct sim_call *c)
{
  size_t n = 0;
  const char **keys = smap_keys(g_accessors, &n);
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < n; i++)
    json_object_array_add(a, json_object_new_string(keys[i]));
  free(keys);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "keys", a);
  resp_data(c->r, 200, d);
}

#define RW (SIM_OPB_READ | SIM_OPB_WRITE)
#define W SIM_OPB_WRITE

/* vault/token_store.go paths(). */
static const struct sim_path token_paths[] = {
    {"create", SIM_OPB_ALL, k_create, 0, p_create, NULL, NULL, NULL},
    {"create-orphan", SIM_OPB_ALL, k_create, 0, p_create_orphan, NULL, NULL,
     NULL},
    {"lookup-self", RW, NULL, 0, p_lookup_self, NULL, NULL, NULL},
    {"lookup", RW, k_token, 0, p_lookup, NULL, NULL, NULL},
    {"lookup-accessor", W, k_acc, 0, p_lookup_accessor, NULL, NULL, NULL},
    {"renew-self", W, k_inc, 0, p_renew_self, NULL, NULL, NULL},
    {"renew", W, k_token, 0, p_renew, NULL, NULL, NULL},
    {"revoke-self", W, NULL, 0, p_revoke_self, NULL, NULL, NULL},
    {"revoke", W, k_token, 0, p_revoke, NULL, NULL, NULL},
    {"revoke-orphan", W, k_token, 0, p_revoke_orphan, NULL, NULL, NULL},
    {"revoke-accessor", W, k_acc, 0, p_revoke_accessor, NULL, NULL, NULL},
    {"accessors/", SIM_OPB_LIST, NULL, 0, p_accessors, NULL, NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_token = {
    .type = "token",
    .paths = token_paths,
};
