/*
** vault-sim expiration manager for secret leases (CONTRACT §8.2-§8.4):
** issue, renew, revoke, lookup, revocation with the owning token.
**
** An engine may attach hooks to a lease (struct sim_lease_hooks): the
** database engine drops the real database user on revocation and moves
** its expiry on renewal. As in Vault, a revocation that fails keeps the
** lease and is retried by the expiry sweep; after SIM_LEASE_ATTEMPTS
** failed attempts the lease is left alone (Vault's "irrevocable"
** lease). Expired leases are revoked by sim_lease_sweep(), which the
** main loop calls every second, so a lease ends on time even when
** nobody talks to the simulator.
*/
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_lease {
  char *id;
  char *path; /* the request path that created it */
  char *token_id;
  struct timespec issue;
  struct timespec expire;
  struct timespec last_renewal;
  int64_t default_ttl;
  int64_t max_ttl;
  int renewable;
  int attempts; /* failed revocations */
  const struct sim_lease_hooks *hooks;
  void *ud;
};

#define SIM_LEASE_ATTEMPTS 6

static struct smap *g_leases;
static time_t g_last_sweep;

static void lease_free(void *p)
{
  struct sim_lease *l = p;
  if (!l)
    return;
  free(l->id);
  free(l->path);
  free(l->token_id);
  if (l->hooks && l->hooks->free_ud)
    l->hooks->free_ud(l->ud);
  free(l);
}

static struct smap *leases(void)
{
  if (!g_leases)
    g_leases = smap_new(lease_free);
  return g_leases;
}

void sim_lease_issue(struct sim_req *q, struct sim_resp *r, const char *path,
                     int64_t ttl, int64_t max_ttl, int renewable,
                     const struct sim_lease_hooks *hooks, void *ud)
{
  struct sim_lease *l = xcalloc(1, sizeof *l);
  char rnd[25];
  rand_base62(rnd, 24);
  l->id = xasprintf("%s/%s", path, rnd);
  l->path = xstrdup(path);
  l->token_id = q->token ? xstrdup(q->token->id) : NULL;
  l->issue = q->now;
  l->expire = ts_add(q->now, ttl);
  l->default_ttl = ttl;
  l->max_ttl = max_ttl;
  l->renewable = renewable;
  l->hooks = hooks;
  l->ud = ud;
  smap_put(leases(), l->id, l);
  free(r->lease_id);
  r->lease_id = xstrdup(l->id);
  r->renewable = renewable;
  r->lease_duration = ttl;
}

char *sim_lease_revoke_err(const char *id)
{
  struct sim_lease *l = smap_get(leases(), id);
  if (!l)
    return NULL;
  if (l->hooks && l->hooks->revoke) {
    char *err = l->hooks->revoke(l->ud);
    if (err) {
      l->attempts++;
      fprintf(stderr, "vault-sim: revocation of lease %s failed (attempt %d):"
                      " %s\n", l->id, l->attempts, err);
      return err;
    }
  }
  lease_free(smap_take(leases(), id));
  return NULL;
}

void sim_lease_revoke(const char *id)
{
  free(sim_lease_revoke_err(id));
}

/* Returns how many of the matching leases could not be revoked. */
static int revoke_matching(const char *token_id, const char *prefix,
                           struct timespec *expired_before)
{
  size_t n = 0;
  const char **keys = smap_keys(leases(), &n);
  struct strlist dead = {0};
  for (size_t i = 0; i < n; i++) {
    struct sim_lease *l = smap_get(leases(), keys[i]);
    if ((token_id && l->token_id && strcmp(l->token_id, token_id) == 0) ||
        (prefix && str_has_prefix(l->id, prefix)) ||
        (expired_before && !ts_before(*expired_before, l->expire) &&
         l->attempts < SIM_LEASE_ATTEMPTS))
      strlist_add(&dead, l->id);
  }
  free(keys);
  int failed = 0;
  for (size_t i = 0; i < dead.n; i++) {
    char *err = sim_lease_revoke_err(dead.v[i]);
    failed += err != NULL;
    free(err);
  }
  strlist_free(&dead);
  return failed;
}

int sim_lease_revoke_prefix(const char *prefix)
{
  return revoke_matching(NULL, prefix, NULL);
}

/* vault/expiration.go RevokeByToken: every lease the token created (its
** secondary index, createIndexByToken in Register) goes with the token.
** Vault sets their expiry to now and lets the timers revoke them; here it
** happens at once, which is the same as seen from any later request. */
void sim_lease_revoke_by_token(const char *token_id)
{
  revoke_matching(token_id, NULL, NULL);
}

void sim_lease_sweep(struct timespec now)
{
  if (now.tv_sec == g_last_sweep)
    return;
  g_last_sweep = now.tv_sec;
  revoke_matching(NULL, NULL, &now);
}

static const char *lease_id_arg(struct sim_req *q, const char *urlpart)
{
  const char *id = "";
  if (req_str(q, "lease_id", &id) > 0 && *id)
    return id;
  if (req_str(q, "url_lease_id", &id) > 0 && *id)
    return id;
  return urlpart && *urlpart ? urlpart : NULL;
}

static const char *const k_renew[] = {"lease_id", "increment",
                                    "url_lease_id", NULL};

static void renew(const char *urlid, struct sim_req *q, struct sim_resp *r)
{
  const char *id = lease_id_arg(q, urlid);
  int64_t inc = 0;
  if (req_duration(q, r, "increment", 0, &inc) < 0)
    return;
  if (!id) {
    resp_err(r, 400, "lease_id must be specified");
    return;
  }
  if (str_has_prefix(id, "auth/")) {
    resp_err(r, 400, "tokens cannot be renewed through this endpoint");
    return;
  }
  struct sim_lease *l = smap_get(leases(), id);
  if (!l) {
    resp_err(r, 400, "lease not found");
    return;
  }
  if (!ts_before(q->now, l->expire)) {
    sim_lease_revoke(l->id);
    resp_err(r, 400, "lease expired");
    return;
  }
  if (!l->renewable) {
    resp_err(r, 400, "lease is not renewable");
    return;
  }
  int64_t ttl = inc > 0 ? inc : l->default_ttl;
  int64_t maxttl = l->max_ttl > 0 ? l->max_ttl : SIM_MAX_TTL;
  struct timespec limit = ts_add(l->issue, maxttl);
  int64_t left = (int64_t)(limit.tv_sec - q->now.tv_sec);
  if (left <= 0) {
    resp_err(r, 400, "past the max TTL, cannot renew");
    return;
  }
  if (ttl > left) {
    char a[40], b[40];
    fmt_go_duration(ttl, a);
    fmt_go_duration(maxttl, b);
    resp_warn(r,
              "TTL of \"%s\" exceeded the effective max_ttl of \"%s\"; TTL "
              "value is capped accordingly",
              a, b);
    ttl = left;
  }
  if (l->hooks && l->hooks->renew) {
    char *err = l->hooks->renew(l->ud, ts_add(q->now, ttl));
    if (err) {
      char *msg = xasprintf("failed to renew entry: resp: "
                            "(*logical.Response)(nil) err: %s", err);
      free(err);
      json_object_put(r->warnings);
      r->warnings = NULL;
      resp_multierr(r, 500, msg);
      free(msg);
      return;
    }
  }
  l->expire = ts_add(q->now, ttl);
  l->last_renewal = q->now;
  json_object *w = r->warnings;
  r->warnings = NULL;
  resp_data(r, 200, NULL);
  r->warnings = w;
  r->lease_id = xstrdup(l->id);
  r->renewable = 1;
  r->lease_duration = ttl;
}

static const char *const k_revoke[] = {"lease_id", "sync", "url_lease_id",
                                    NULL};

static void revoke(const char *urlid, struct sim_req *q, struct sim_resp *r)
{
  const char *id = lease_id_arg(q, urlid);
  int sync = 1;
  if (req_bool(q, r, "sync", 1, &sync) < 0)
    return;
  if (!id) {
    resp_err(r, 400, "lease_id must be specified");
    return;
  }
  char *idc = xstrdup(id);
  char *err = sim_lease_revoke_err(idc);
  free(idc);
  if (err && sync) {
    char *msg = xasprintf("failed to revoke entry: resp: "
                          "(*logical.Response)(nil) err: %s", err);
    free(err);
    resp_multierr(r, 500, msg);
    free(msg);
    return;
  }
  free(err); /* sync=false: Vault answers 202 and retries in the background */
  if (sync) {
    resp_nocontent(r);
  } else {
    resp_clear(r);
    r->status = 202;
    r->kind = RESP_EMPTY;
  }
}

static const char *const k_lookup[] = {"lease_id", NULL};

static void lookup(struct sim_req *q, struct sim_resp *r)
{
  const char *id = lease_id_arg(q, NULL);
  if (!id) {
    resp_err(r, 400, "lease_id must be specified");
    return;
  }
  struct sim_lease *l = smap_get(leases(), id);
  if (!l) {
    resp_err(r, 400, "invalid lease");
    return;
  }
  char buf[40];
  json_object *d = json_object_new_object();
  json_object_object_add(d, "id", json_object_new_string(l->id));
  fmt_rfc3339(l->issue, buf);
  json_object_object_add(d, "issue_time", json_object_new_string(buf));
  fmt_rfc3339(l->expire, buf);
  json_object_object_add(d, "expire_time", json_object_new_string(buf));
  if (ts_zero(l->last_renewal)) {
    json_object_object_add(d, "last_renewal", NULL);
  } else {
    fmt_rfc3339(l->last_renewal, buf);
    json_object_object_add(d, "last_renewal", json_object_new_string(buf));
  }
  json_object_object_add(d, "path", json_object_new_string(l->path));
  json_object_object_add(d, "renewable", json_object_new_boolean(l->renewable));
  int64_t ttl = (int64_t)(l->expire.tv_sec - q->now.tv_sec);
  json_object_object_add(d, "ttl", json_object_new_int64(ttl < 0 ? 0 : ttl));
  resp_data(r, 200, d);
}

/* ---- path tables (vault/logical_system_paths.go leasePaths) ---------- */

static const char *url_id(struct sim_call *c)
{
  const char *id = sim_cap(c, "url_lease_id");
  return *id ? id : NULL;
}

static void p_renew(struct sim_call *c)
{
  sim_lease_sweep(c->q->now);
  renew(url_id(c), c->q, c->r);
}

static void p_revoke(struct sim_call *c)
{
  sim_lease_sweep(c->q->now);
  revoke(url_id(c), c->q, c->r);
}

static void p_revoke_prefix(struct sim_call *c)
{
  sim_lease_sweep(c->q->now);
  revoke_matching(NULL, sim_cap(c, "prefix"), NULL);
  resp_nocontent(c->r);
}

static void p_lookup(struct sim_call *c)
{
  sim_lease_sweep(c->q->now);
  lookup(c->q, c->r);
}

static void p_list(struct sim_call *c)
{
  sim_lease_sweep(c->q->now);
  resp_list_children(c->r, leases(), sim_cap(c, "prefix"), 0);
}

/* vault/logical_system.go handleTidyLeases: tidying runs in the
** background; the answer is RespondWithStatusCode(resp, req, 202) with a
** warning (the envelope as raw body, so no mount_type). Nothing to tidy
** in memory here. */
static void p_tidy(struct sim_call *c)
{
  resp_data(c->r, 202, NULL);
  resp_warn(c->r, "Tidy operation successfully started. Any information "
                  "from the operation will be printed to Vault's server "
                  "logs.");
  c->r->mount_type = "";
}

/* Below sys/leases/. */
const struct sim_path sim_lease_paths[] = {
    {"renew{url_lease_id:opt}", SIM_OPB_WRITE, k_renew, 0, p_renew, NULL, NULL,
     NULL},
    {"revoke{url_lease_id:opt}", SIM_OPB_WRITE, k_revoke, 0, p_revoke, NULL,
     NULL, NULL},
    {"revoke-prefix/{prefix:any}", SIM_OPB_WRITE, NULL, 0, p_revoke_prefix,
     NULL, NULL, NULL},
    {"revoke-force/{prefix:any}", SIM_OPB_WRITE, NULL, 0, p_revoke_prefix,
     NULL, NULL, NULL},
    {"lookup", SIM_OPB_WRITE, k_lookup, 0, p_lookup, NULL, NULL, NULL},
    {"lookup/{prefix:any}", SIM_OPB_LIST, NULL, 0, p_list, NULL, NULL, NULL},
    {"tidy", SIM_OPB_WRITE, NULL, 0, p_tidy, NULL, NULL, NULL},
    SIM_PATH_END};

/* sys/renew and sys/revoke, the legacy forms. */
const struct sim_path sim_lease_legacy_paths[] = {
    {"renew{url_lease_id:opt}", SIM_OPB_WRITE, k_renew, 0, p_renew, NULL, NULL,
     NULL},
    {"revoke{url_lease_id:opt}", SIM_OPB_WRITE, k_revoke, 0, p_revoke, NULL,
     NULL, NULL},
    SIM_PATH_END};
