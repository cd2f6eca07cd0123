/*
** vault-sim KV secrets engine, version 2 (CONTRACT §6) and a plain
** version 1 for mounts enabled without options.version=2.
**
** Stored JSON is never shared with a request or response: values are
** deep-copied in and out, because json-c reference counts are not atomic
** and requests are parsed and serialised outside the global lock.
*/
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_INVALID_PATH                                                      \
  "Invalid path for a versioned K/V secrets engine. See the API docs for " \
  "the appropriate API endpoints to use. If using the Vault CLI, use "     \
  "'vault kv get' for this operation."

struct kv_version {
  int64_t version;
  struct timespec created;
  struct timespec deletion; /* zero = not deleted */
  int destroyed;
  json_object *data; /* owned; NULL once destroyed */
};

struct kv_key {
  struct timespec created;
  struct timespec updated;
  int64_t current;
  int64_t oldest;
  int64_t max_versions;
  int cas_required;
  int64_t delete_after;
  json_object *custom; /* owned map or NULL */
  struct kv_version *v;
  size_t nv;
};

struct kv_state {
  struct smap *keys; /* v2: path -> kv_key; v1: path -> json_object */
  int64_t max_versions;
  int cas_required;
  int64_t delete_after;
};

static json_object *copy_json(json_object *o)
{
  json_object *c = NULL;
  if (!o)
    return NULL;
  if (json_object_deep_copy(o, &c, NULL) != 0)
    return NULL;
  return c;
}

static void key_free(void *p)
{
  struct kv_key *k = p;
  if (!k)
    return;
  for (size_t i = 0; i < k->nv; i++)
    json_object_put(k->v[i].data);
  free(k->v);
  json_object_put(k->custom);
  free(k);
}

static void v1_free(void *p)
{
  json_object_put(p);
}

static void *kv_create(struct sim_mount *m)
{
  struct kv_state *s = xcalloc(1, sizeof *s);
  s->keys = smap_new(m->kv_version == 2 ? key_free : v1_free);
  return s;
}

static void kv_destroy(void *p)
{
  struct kv_state *s = p;
  if (!s)
    return;
  smap_free(s->keys);
  free(s);
}

static struct kv_version *find_version(struct kv_key *k, int64_t v)
{
  for (size_t i = 0; i < k->nv; i++)
    if (k->v[i].version == v)
      return &k->v[i];
  return NULL;
}

static int version_gone(const struct kv_version *v, struct timespec now)
{
  return v->destroyed ||
         (!ts_zero(v->deletion) && !ts_before(now, v->deletion));
}

static json_object *time_or_empty(struct timespec t)
{
  char buf[40];
  if (ts_zero(t))
    return json_object_new_string("");
  fmt_rfc3339(t, buf);
  return json_object_new_string(buf);
}

/* The flat per-version metadata of writes, reads and patch 404s. */
static json_object *version_meta(const struct kv_key *k,
                                 const struct kv_version *v)
{
  json_object *o = json_object_new_object();
  json_object_object_add(o, "created_time", time_or_empty(v->created));
  json_object_object_add(o, "custom_metadata", copy_json(k->custom));
  json_object_object_add(o, "deletion_time", time_or_empty(v->deletion));
  json_object_object_add(o, "destroyed", json_object_new_boolean(v->destroyed));
  json_object_object_add(o, "version", json_object_new_int64(v->version));
  return o;
}

static void invalid_path(struct sim_resp *r)
{
  resp_data(r, 404, NULL);
  resp_warn(r, KV_INVALID_PATH);
}

/* vault-plugin-secrets-kv delete_version_after.go deletionTime, as
** path_data.go pathDataWrite (and patch, undelete) call it: nothing when
** the mount disabled it (IsDeleteVersionAfterDisabled, -1s), else the
** smaller non-zero of the mount's and the key's delete_version_after.
** Returns 1 with *secs when a version gets a deletion time. */
static int deletion_after(const struct kv_state *s, const struct kv_key *k,
                          int64_t *secs)
{
  int64_t mount = s->delete_after, meta = k->delete_after;
  if (mount == -1 || (mount == 0 && meta == 0))
    return 0;
  int64_t min = meta;
  if ((mount != 0 && mount < min) || min == 0)
    min = mount;
  *secs = min;
  return 1;
}

static int64_t effective_max(const struct kv_state *s, const struct kv_key *k)
{
  int64_t m = k->max_versions > s->max_versions ? k->max_versions
                                                : s->max_versions;
  return m > 0 ? m : 10;
}

/* Reads options.cas. 0 none, 1 set, -1 error already answered. */
static int get_cas(struct sim_req *q, struct sim_resp *r, int64_t *cas)
{
  json_object *opts = req_get(q, "options"), *c = NULL;
  if (!opts || !json_object_is_type(opts, json_type_object) ||
      !json_object_object_get_ex(opts, "cas", &c) ||
      json_object_is_type(c, json_type_null))
    return 0;
  if (json_object_is_type(c, json_type_int)) {
    *cas = json_object_get_int64(c);
    return 1;
  }
  if (json_object_is_type(c, json_type_double)) {
    double d = json_object_get_double(c);
    if (d > -9.2e18 && d < 9.2e18) { /* else no undefined cast */
      *cas = (int64_t)d;
      return 1;
    }
  }
  if (json_object_is_type(c, json_type_string) &&
      parse_int64(json_object_get_string(c), cas) == 0)
    return 1;
  resp_err(r, 400, "error parsing check-and-set parameter");
  return -1;
}

/* Appends a version holding data (stolen) and prunes beyond max. */
static struct kv_version *add_version(struct kv_state *s, struct kv_key *k,
                                      json_object *data, struct timespec now)
{
  struct kv_version *nv = realloc(k->v, (k->nv + 1) * sizeof *nv);
  if (!nv)
    abort();
  k->v = nv;
  struct kv_version *v = &k->v[k->nv++];
  memset(v, 0, sizeof *v);
  v->version = ++k->current;
  v->created = now;
  v->data = data;
  int64_t dva;
  if (deletion_after(s, k, &dva))
    v->deletion = ts_add(now, dva);
  k->updated = now;
  int64_t max = effective_max(s, k);
  size_t drop = 0;
  while (drop < k->nv && k->v[drop].version <= k->current - max) {
    json_object_put(k->v[drop].data);
    drop++;
  }
  if (drop) {
    memmove(k->v, k->v + drop, (k->nv - drop) * sizeof *k->v);
    k->nv -= drop;
    k->oldest = k->v[0].version;
  }
  return &k->v[k->nv - 1];
}

static int check_cas(struct kv_state *s, struct kv_key *k, struct sim_req *q,
                     struct sim_resp *r)
{
  int64_t cas = 0;
  int has = get_cas(q, r, &cas);
  if (has < 0)
    return -1;
  int required = s->cas_required || (k && k->cas_required);
  if (!has && required) {
    resp_err(r, 400, "check-and-set parameter required for this call");
    return -1;
  }
  if (has && cas != (k ? k->current : 0)) {
    resp_err(r, 400,
             "check-and-set parameter did not match the current version");
    return -1;
  }
  return 0;
}

static void data_write(struct kv_state *s, const char *path, struct sim_req *q,
                       struct sim_resp *r)
{
  static const char *const known[] = {"data", "options", NULL};
  q->known = known;
  json_object *d = req_get(q, "data");
  if (!d || json_object_is_type(d, json_type_null)) {
    resp_err(r, 400, "no data provided");
    return;
  }
  if (!json_object_is_type(d, json_type_object)) {
    resp_err(r, 400, "error converting input for field \"data\": expected a map");
    return;
  }
  struct kv_key *k = smap_get(s->keys, path);
  if (check_cas(s, k, q, r) < 0)
    return;
  if (!k) {
    k = xcalloc(1, sizeof *k);
    k->created = q->now;
    smap_put(s->keys, path, k);
  }
  struct kv_version *v = add_version(s, k, copy_json(d), q->now);
  resp_data(r, 200, version_meta(k, v));
}

static int parse_version_param(struct sim_req *q, struct sim_resp *r,
                               int64_t *ver)
{
  return req_int(q, r, "version", 0, ver) < 0 ? -1 : 0;
}

/* Resolves version for reads: NULL with 404 filled when absent. */
static struct kv_version *read_target(struct kv_state *s, const char *path,
                                      struct sim_req *q, struct sim_resp *r,
                                      struct kv_key **kout)
{
  int64_t ver = 0;
  if (parse_version_param(q, r, &ver) < 0)
    return NULL;
  struct kv_key *k = smap_get(s->keys, path);
  if (!k || k->current == 0) {
    resp_err_empty(r, 404);
    return NULL;
  }
  if (ver <= 0)
    ver = k->current;
  struct kv_version *v = find_version(k, ver);
  if (!v) {
    resp_err_empty(r, 404);
    return NULL;
  }
  *kout = k;
  return v;
}

static void data_read(struct kv_state *s, const char *path, struct sim_req *q,
                      struct sim_resp *r)
{
  static const char *const known[] = {"version", NULL};
  q->known = known;
  struct kv_key *k = NULL;
  struct kv_version *v = read_target(s, path, q, r, &k);
  if (!v)
    return;
  json_object *d = json_object_new_object();
  int gone = version_gone(v, q->now);
  json_object_object_add(d, "data", gone ? NULL : copy_json(v->data));
  json_object_object_add(d, "metadata", version_meta(k, v));
  resp_data(r, gone ? 404 : 200, d);
}

/* RFC 7396 merge patch of patch onto target (both owned by caller). */
static void merge_patch(json_object *target, json_object *patch)
{
  json_object_object_foreach(patch, key, val)
  {
    if (!val || json_object_is_type(val, json_type_null)) {
      json_object_object_del(target, key);
      continue;
    }
    json_object *cur = NULL;
    if (json_object_is_type(val, json_type_object)) {
      if (!json_object_object_get_ex(target, key, &cur) ||
          !json_object_is_type(cur, json_type_object)) {
        cur = json_object_new_object();
        json_object_object_add(target, key, cur);
      }
      merge_patch(cur, val);
    } else {
      json_object_object_add(target, key, copy_json(val));
    }
  }
}

static void data_patch(struct kv_state *s, const char *path, struct sim_req *q,
                       struct sim_resp *r)
{
  static const char *const known[] = {"data", "options", NULL};
  q->known = known;
  json_object *d = req_get(q, "data");
  if (!d || json_object_is_type(d, json_type_null)) {
    resp_err(r, 400, "no data provided");
    return;
  }
  if (!json_object_is_type(d, json_type_object)) {
    resp_err(r, 400, "error converting input for field \"data\": expected a map");
    return;
  }
  struct kv_key *k = smap_get(s->keys, path);
  if (!k || k->current == 0) {
    resp_clear(r);
    r->status = 404;
    r->kind = RESP_EMPTY;
    return;
  }
  if (check_cas(s, k, q, r) < 0)
    return;
  struct kv_version *cur = find_version(k, k->current);
  if (!cur || version_gone(cur, q->now)) {
    if (cur)
      resp_data(r, 404, version_meta(k, cur));
    else
      resp_err_empty(r, 404);
    return;
  }
  json_object *merged = copy_json(cur->data);
  if (!merged)
    merged = json_object_new_object();
  merge_patch(merged, d);
  struct kv_version *v = add_version(s, k, merged, q->now);
  resp_data(r, 200, version_meta(k, v));
}

static void data_delete_latest(struct kv_state *s, const char *path,
                               struct sim_req *q, struct sim_resp *r)
{
  struct kv_key *k = smap_get(s->keys, path);
  struct kv_version *v = k ? find_version(k, k->current) : NULL;
  if (v && !version_gone(v, q->now)) {
    v->deletion = q->now;
    k->updated = q->now;
  }
  resp_nocontent(r);
}

/* versions: [1,2], 3 or "1,2". Returns count (0 = none) or -1. */
static int parse_versions(struct sim_req *q, struct sim_resp *r,
                          int64_t **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  json_object *v = req_get(q, "versions");
  if (!v || json_object_is_type(v, json_type_null))
    return 0;
  struct strlist items = {0};
  if (json_object_is_type(v, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(v); i++)
      strlist_split(&items, json_as_str(json_object_array_get_idx(v, i)));
  } else {
    strlist_split(&items, json_as_str(v));
  }
  *out = xcalloc(items.n + 1, sizeof **out);
  for (size_t i = 0; i < items.n; i++) {
    if (parse_int64(items.v[i], &(*out)[i]) < 0) {
      resp_err(r, 400, "error converting input %s for field \"versions\"",
               items.v[i]);
      strlist_free(&items);
      free(*out);
      *out = NULL;
      return -1;
    }
  }
  *n = items.n;
  strlist_free(&items);
  return (int)*n;
}

enum vop { VOP_DELETE, VOP_UNDELETE, VOP_DESTROY };

static void versions_op(struct kv_state *s, const char *path, enum vop op,
                        struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {"versions", NULL};
  q->known = known;
  int64_t *vs = NULL;
  size_t n = 0;
  int rc = parse_versions(q, r, &vs, &n);
  if (rc < 0)
    return;
  if (rc == 0) {
    free(vs);
    resp_err(r, 400, op == VOP_DESTROY ? "no version number provided"
                                       : "No version number provided");
    return;
  }
  struct kv_key *k = smap_get(s->keys, path);
  for (size_t i = 0; k && i < n; i++) {
    struct kv_version *v = find_version(k, vs[i]);
    if (!v || v->destroyed)
      continue;
    switch (op) {
    case VOP_DELETE:
      if (ts_zero(v->deletion) || ts_before(q->now, v->deletion))
        v->deletion = q->now;
      break;
    case VOP_UNDELETE: {
      /* path_undelete.go: the deletion time is computed afresh. */
      int64_t dva;
      v->deletion = deletion_after(s, k, &dva) ? ts_add(q->now, dva)
                                               : (struct timespec){0, 0};
      break;
    }
    case VOP_DESTROY:
      v->destroyed = 1;
      json_object_put(v->data);
      v->data = NULL;
      break;
    }
    k->updated = q->now;
  }
  free(vs);
  resp_nocontent(r);
}

static json_object *metadata_json(const struct kv_key *k)
{
  json_object *o = json_object_new_object();
  char buf[40];
  json_object_object_add(o, "cas_required",
                         json_object_new_boolean(k->cas_required));
  json_object_object_add(o, "created_time", time_or_empty(k->created));
  json_object_object_add(o, "current_version",
                         json_object_new_int64(k->current));
  json_object_object_add(o, "custom_metadata", copy_json(k->custom));
  fmt_go_duration(k->delete_after, buf);
  json_object_object_add(o, "delete_version_after",
                         json_object_new_string(buf));
  json_object_object_add(o, "max_versions",
                         json_object_new_int64(k->max_versions));
  json_object_object_add(o, "oldest_version", json_object_new_int64(k->oldest));
  json_object_object_add(o, "updated_time", time_or_empty(k->updated));
  json_object *vs = json_object_new_object();
  for (size_t i = 0; i < k->nv; i++) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "created_time", time_or_empty(k->v[i].created));
    json_object_object_add(e, "deletion_time",
                           time_or_empty(k->v[i].deletion));
    json_object_object_add(e, "destroyed",
                           json_object_new_boolean(k->v[i].destroyed));
    snprintf(buf, sizeof buf, "%lld", (long long)k->v[i].version);
    json_object_object_add(vs, buf, e);
  }
  json_object_object_add(o, "versions", vs);
  return o;
}

static int printable(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

/* Validates a custom_metadata map; returns a new copy or NULL (with r
** filled) on error. */
static json_object *check_custom(json_object *cm, struct sim_resp *r)
{
  if (!json_object_is_type(cm, json_type_object)) {
    resp_err(r, 400, "error converting input for field \"custom_metadata\"");
    return NULL;
  }
  struct sbuf errs = {0};
  int nerr = 0;
  if (json_object_object_length(cm) > 64) {
    char *m = xasprintf("\t* custom_metadata validation failed: payload must "
                        "contain at most 64 keys, provided %d\n",
                        json_object_object_length(cm));
    sbuf_put(&errs, m, strlen(m));
    free(m);
    nerr++;
  }
  json_object *out = json_object_new_object();
  json_object_object_foreach(cm, k, v)
  {
    const char *val = json_as_str(v);
    char *m = NULL;
    if (strlen(k) == 0 || strlen(k) > 128)
      m = xasprintf("\t* custom_metadata validation failed: length of key "
                    "\"%s\" is %zu but must be 0 < len(key) <= 128\n",
                    k, strlen(k));
    else if (strlen(val) > 512 || strlen(val) == 0)
      m = xasprintf("\t* custom_metadata validation failed: length of value "
                    "for key \"%s\" is %zu but must be 0 < len(value) <= 512\n",
                    k, strlen(val));
    else if (!printable(k) || !printable(val))
      m = xasprintf("\t* custom_metadata validation failed: key \"%s\" or its "
                    "value contains unprintable characters\n",
                    k);
    if (m) {
      sbuf_put(&errs, m, strlen(m));
      free(m);
      nerr++;
    }
    json_object_object_add(out, k, json_object_new_string(val));
  }
  if (nerr) {
    sbuf_put(&errs, "", 1);
    resp_err(r, 400, "%d error%s occurred:\n%s\n", nerr, nerr > 1 ? "s" : "",
             (char *)errs.p);
    sbuf_free(&errs);
    json_object_put(out);
    return NULL;
  }
  sbuf_free(&errs);
  return out;
}

static void metadata_write(struct kv_state *s, const char *path, int patch,
                           struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {"max_versions", "cas_required",
                                      "delete_version_after",
                                      "custom_metadata", NULL};
  q->known = known;
  struct kv_key *k = smap_get(s->keys, path);
  if (patch && !k) {
    resp_err_empty(r, 404);
    return;
  }
  int64_t maxv = k ? k->max_versions : 0, dva = k ? k->delete_after : 0;
  int cas = k ? k->cas_required : 0;
  int any = 0, rc;
  if ((rc = req_int(q, r, "max_versions", maxv, &maxv)) < 0)
    return;
  any |= rc;
  if ((rc = req_bool(q, r, "cas_required", cas, &cas)) < 0)
    return;
  any |= rc;
  if ((rc = req_duration(q, r, "delete_version_after", dva, &dva)) < 0)
    return;
  any |= rc;
  json_object *custom = NULL;
  json_object *cm = req_get(q, "custom_metadata");
  if (cm && !json_object_is_type(cm, json_type_null)) {
    if (patch && k && k->custom) {
      json_object *merged = copy_json(k->custom);
      merge_patch(merged, cm);
      custom = check_custom(merged, r);
      json_object_put(merged);
    } else {
      custom = check_custom(cm, r);
    }
    if (!custom)
      return;
    any = 1;
  }
  if (!any) {
    resp_nocontent(r);
    return;
  }
  if (maxv < 0) {
    json_object_put(custom);
    resp_err(r, 400, "max_versions must be greater than or equal to 0");
    return;
  }
  if (!k) {
    k = xcalloc(1, sizeof *k);
    k->created = q->now;
    smap_put(s->keys, path, k);
  }
  k->max_versions = maxv;
  k->cas_required = cas;
  k->delete_after = dva < 0 ? 0 : dva;
  if (custom) {
    json_object_put(k->custom);
    k->custom = custom;
  }
  k->updated = q->now;
  resp_nocontent(r);
}

/* Leaves become null, objects recurse; depth limits the recursion. */
static json_object *subkeys_of(json_object *o, int64_t depth, int64_t level)
{
  if (!o || !json_object_is_type(o, json_type_object) ||
      json_object_object_length(o) == 0)
    return NULL;
  if (depth > 0 && level >= depth)
    return NULL;
  json_object *out = json_object_new_object();
  json_object_object_foreach(o, k, v)
      json_object_object_add(out, k, subkeys_of(v, depth, level + 1));
  return out;
}

static void subkeys(struct kv_state *s, const char *path, struct sim_req *q,
                    struct sim_resp *r)
{
  static const char *const known[] = {"version", "depth", NULL};
  q->known = known;
  int64_t depth = 0;
  if (req_int(q, r, "depth", 0, &depth) < 0)
    return;
  struct kv_key *k = NULL;
  struct kv_version *v = read_target(s, path, q, r, &k);
  if (!v)
    return;
  int gone = version_gone(v, q->now);
  json_object *d = json_object_new_object();
  json_object *sk = NULL;
  if (!gone) {
    sk = subkeys_of(v->data, depth, 0);
    if (!sk)
      sk = json_object_new_object();
  }
  json_object_object_add(d, "subkeys", sk);
  json_object_object_add(d, "metadata", version_meta(k, v));
  resp_data(r, gone ? 404 : 200, d);
}

static void config(struct kv_state *s, struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {"max_versions", "cas_required",
                                      "delete_version_after", NULL};
  q->known = known;
  if (q->op == SIM_OP_READ) {
    json_object *d = json_object_new_object();
    char buf[40];
    json_object_object_add(d, "cas_required",
                           json_object_new_boolean(s->cas_required));
    fmt_go_duration(s->delete_after, buf);
    json_object_object_add(d, "delete_version_after",
                           json_object_new_string(buf));
    json_object_object_add(d, "max_versions",
                           json_object_new_int64(s->max_versions));
    resp_data(r, 200, d);
    return;
  }
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  int64_t mv = s->max_versions, dva = s->delete_after;
  int cas = s->cas_required;
  if (req_int(q, r, "max_versions", mv, &mv) < 0 ||
      req_bool(q, r, "cas_required", cas, &cas) < 0 ||
      req_duration(q, r, "delete_version_after", dva, &dva) < 0)
    return;
  s->max_versions = mv;
  s->cas_required = cas;
  /* path_config.go pathConfigWrite: negative disables the setting on
  ** every key (stored as -1s, read back as "-1s"), 0 clears it. */
  s->delete_after = dva < 0 ? -1 : dva;
  resp_nocontent(r);
}

static int valid_key(const char *p)
{
  return *p && !str_has_suffix(p, "/");
}

/* ---- KV v2 rows (vault-plugin-secrets-kv backend.go pathsV2) --------- */

static void p_config(struct sim_call *c)
{
  config(c->state, c->q, c->r);
}

static void p_data(struct sim_call *c)
{
  struct kv_state *s = c->state;
  struct sim_req *q = c->q;
  const char *p = sim_cap(c, "path");
  if (!valid_key(p) || q->op == SIM_OP_LIST) {
    invalid_path(c->r);
    return;
  }
  switch (q->op) {
  case SIM_OP_READ:
    data_read(s, p, q, c->r);
    break;
  case SIM_OP_PATCH:
    data_patch(s, p, q, c->r);
    break;
  case SIM_OP_DELETE:
    data_delete_latest(s, p, q, c->r);
    break;
  default:
    data_write(s, p, q, c->r);
  }
}

static void p_metadata(struct sim_call *c)
{
  struct kv_state *s = c->state;
  struct sim_req *q = c->q;
  struct sim_resp *r = c->r;
  const char *p = sim_cap(c, "path");
  if (q->op == SIM_OP_LIST) {
    resp_list_children(r, s->keys, p, 1);
    return;
  }
  if (!valid_key(p)) {
    invalid_path(r);
    return;
  }
  switch (q->op) {
  case SIM_OP_READ: {
    struct kv_key *k = smap_get(s->keys, p);
    if (!k)
      resp_err_empty(r, 404);
    else
      resp_data(r, 200, metadata_json(k));
    break;
  }
  case SIM_OP_PATCH:
    metadata_write(s, p, 1, q, r);
    break;
  case SIM_OP_DELETE:
    smap_del(s->keys, p);
    resp_nocontent(r);
    break;
  default:
    metadata_write(s, p, 0, q, r);
  }
}

static void versions_row(struct sim_call *c, enum vop op)
{
  const char *p = sim_cap(c, "path");
  if (!valid_key(p)) {
    invalid_path(c->r);
    return;
  }
  if (c->q->op != SIM_OP_CREATE && c->q->op != SIM_OP_UPDATE) {
    resp_unsupported_op(c->r);
    return;
  }
  versions_op(c->state, p, op, c->q, c->r);
}

static void p_delete(struct sim_call *c)
{
  versions_row(c, VOP_DELETE);
}

static void p_undelete(struct sim_call *c)
{
  versions_row(c, VOP_UNDELETE);
}

static void p_destroy(struct sim_call *c)
{
  versions_row(c, VOP_DESTROY);
}

static void p_subkeys(struct sim_call *c)
{
  const char *p = sim_cap(c, "path");
  if (!valid_key(p)) {
    invalid_path(c->r);
    return;
  }
  if (c->q->op != SIM_OP_READ) {
    resp_unsupported_op(c->r);
    return;
  }
  subkeys(c->state, p, c->q, c->r);
}

static int key_exists(struct sim_call *c)
{
  struct kv_state *s = c->state;
  return smap_get(s->keys, sim_cap(c, "path")) != NULL;
}

static void nomatch_v2(struct sim_call *c)
{
  invalid_path(c->r);
}

/* The rows take every operation: an invalid key path answers the
** plugin's own 404 before the operation is looked at. */
static const struct sim_path kv2_paths[] = {
    {"config", SIM_OPB_ALL, NULL, 0, p_config, NULL, NULL, NULL},
    {"data/{path:any}", SIM_OPB_ALL, NULL, 0, p_data, key_exists, NULL,
     NULL},
    {"metadata", SIM_OPB_ALL, NULL, 0, p_metadata, NULL, NULL, NULL},
    {"metadata/{path:any}", SIM_OPB_ALL, NULL, 0, p_metadata, key_exists,
     NULL, NULL},
    {"delete/{path:any}", SIM_OPB_ALL, NULL, 0, p_delete, NULL, NULL, NULL},
    {"undelete/{path:any}", SIM_OPB_ALL, NULL, 0, p_undelete, NULL, NULL,
     NULL},
    {"destroy/{path:any}", SIM_OPB_ALL, NULL, 0, p_destroy, NULL, NULL,
     NULL},
    {"subkeys/{path:any}", SIM_OPB_ALL, NULL, 0, p_subkeys, NULL, NULL,
     NULL},
    SIM_PATH_END};

/* KV version 1: the body is the secret, no versions. */
static void v1_handle(struct kv_state *s, const char *rest, struct sim_req *q,
                      struct sim_resp *r)
{
  q->known_all = 1;
  if (q->op == SIM_OP_LIST) {
    resp_list_children(r, s->keys, rest, 1);
    return;
  }
  if (!*rest) {
    resp_unsupported_path(r);
    return;
  }
  switch (q->op) {
  case SIM_OP_READ: {
    json_object *v = smap_get(s->keys, rest);
    if (!v)
      resp_err_empty(r, 404);
    else
      resp_data(r, 200, copy_json(v));
    break;
  }
  case SIM_OP_CREATE:
  case SIM_OP_UPDATE:
    smap_put(s->keys, rest, copy_json(q->data));
    resp_nocontent(r);
    break;
  case SIM_OP_DELETE:
    smap_del(s->keys, rest);
    resp_nocontent(r);
    break;
  default:
    resp_unsupported_op(r);
  }
}

/* ---- KV v1 rows (vault-plugin-secrets-kv passthrough.go) ------------- */

static void p_v1(struct sim_call *c)
{
  v1_handle(c->state, sim_cap(c, "path"), c->q, c->r);
}

static const struct sim_path kv1_paths[] = {
    {"{path:any}", SIM_OPB_ALL, NULL, SIM_PATH_ANY_FIELDS, p_v1, key_exists,
     NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_kv = {
    .type = "kv",
    .create = kv_create,
    .destroy = kv_destroy,
    .paths = kv2_paths,
    .nomatch = nomatch_v2,
};

/* Chosen by sim_sys.c's mount_add for a version 1 mount. */
const struct sim_backend sim_backend_kv1 = {
    .type = "kv",
    .create = kv_create,
    .destroy = kv_destroy,
    .paths = kv1_paths,
};
