/*
** vault-sim HTTP model: the response envelope, the error shapes of
** CONTRACT §1.4/§1.5, and weakly-typed field decoding the way Vault's
** framework decodes request fields (numbers in strings, comma lists).
*/
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resp_init(struct sim_resp *r)
{
  memset(r, 0, sizeof *r);
}

void resp_clear(struct sim_resp *r)
{
  json_object_put(r->body);
  json_object_put(r->data);
  json_object_put(r->auth);
  json_object_put(r->warnings);
  json_object_put(r->top);
  json_object_put(r->wrap_info);
  free(r->lease_id);
  free(r->text);
  resp_init(r);
}

static void reset_keep_nothing(struct sim_resp *r)
{
  /* A handler may have started an envelope before failing; an error
  ** replaces the whole response, as Vault's error path does. */
  resp_clear(r);
}

void resp_err(struct sim_resp *r, int status, const char *fmt, ...)
{
  reset_keep_nothing(r);
  va_list ap;
  va_start(ap, fmt);
  char *msg = xvasprintf(fmt, ap);
  va_end(ap);
  json_object *arr = json_object_new_array();
  json_object_array_add(arr, json_object_new_string(msg));
  free(msg);
  r->body = json_object_new_object();
  json_object_object_add(r->body, "errors", arr);
  r->status = status;
  r->kind = RESP_ERROR;
}

void resp_err_empty(struct sim_resp *r, int status)
{
  reset_keep_nothing(r);
  r->body = json_object_new_object();
  json_object_object_add(r->body, "errors", json_object_new_array());
  r->status = status;
  r->kind = RESP_ERROR;
}

void resp_multierr(struct sim_resp *r, int status, const char *msg)
{
  resp_err(r, status, "1 error occurred:\n\t* %s\n\n", msg);
}

void resp_unsupported_path(struct sim_resp *r)
{
  resp_multierr(r, 404, "unsupported path");
}

void resp_unsupported_op(struct sim_resp *r)
{
  resp_multierr(r, 405, "unsupported operation");
}

void resp_data(struct sim_resp *r, int status, json_object *data)
{
  json_object *w = r->warnings;
  r->warnings = NULL;
  reset_keep_nothing(r);
  r->warnings = w;
  r->status = status;
  r->kind = RESP_ENVELOPE;
  r->data = data;
}

void resp_nocontent(struct sim_resp *r)
{
  json_object *w = r->warnings;
  r->warnings = NULL;
  reset_keep_nothing(r);
  r->warnings = w;
  r->status = 204;
  r->kind = RESP_EMPTY;
}

/* logical.ListResponse: {"keys": [...]}; an empty list is a bare 404, as
** Vault's HTTP layer answers it. */
static void resp_keys(struct sim_resp *r, const struct strlist *l)
{
  if (!l->n) {
    resp_err_empty(r, 404);
    return;
  }
  json_object *d = json_object_new_object();
  json_object_object_add(d, "keys", strlist_json(l));
  resp_data(r, 200, d);
}

void resp_list_keys(struct sim_resp *r, const struct smap *m)
{
  size_t n = 0;
  const char **keys = smap_keys(m, &n);
  struct strlist out = {0};
  for (size_t i = 0; i < n; i++)
    strlist_add(&out, keys[i]);
  free(keys);
  resp_keys(r, &out);
  strlist_free(&out);
}

void resp_list_children(struct sim_resp *r, const struct smap *m,
                        const char *prefix, int skip_self)
{
  size_t n = 0, pl = strlen(prefix);
  const char **keys = m ? smap_keys(m, &n) : NULL;
  struct strlist out = {0};
  for (size_t i = 0; i < n; i++) {
    if (strncmp(keys[i], prefix, pl) != 0 || (skip_self && !keys[i][pl]))
      continue;
    const char *tail = keys[i] + pl;
    const char *slash = strchr(tail, '/');
    char *item = slash ? xstrndup(tail, (size_t)(slash - tail + 1))
                       : xstrdup(tail);
    strlist_add(&out, item);
    free(item);
  }
  free(keys);
  strlist_sort_uniq(&out);
  resp_keys(r, &out);
  strlist_free(&out);
}

void resp_raw(struct sim_resp *r, int status, json_object *body)
{
  reset_keep_nothing(r);
  r->status = status;
  r->kind = RESP_RAW;
  r->body = body;
}

void resp_warn(struct sim_resp *r, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = xvasprintf(fmt, ap);
  va_end(ap);
  if (!r->warnings)
    r->warnings = json_object_new_array();
  json_object_array_add(r->warnings, json_object_new_string(msg));
  free(msg);
}

static json_object *or_null(json_object *o)
{
  return o ? json_object_get(o) : NULL;
}

void resp_render(struct sim_resp *r, const char *request_id, char **body,
                 size_t *len)
{
  *body = NULL;
  *len = 0;
  json_object *out = NULL;
  switch (r->kind) {
  case RESP_NONE:
  case RESP_EMPTY:
    /* Vault turns a 204 with warnings into a 200 with a body. */
    if (r->kind == RESP_EMPTY && r->warnings &&
        json_object_array_length(r->warnings) > 0) {
      r->status = 200;
      break;
    }
    return;
  case RESP_TEXT:
    *body = xstrdup(r->text ? r->text : "");
    *len = strlen(*body);
    return;
  case RESP_RAW:
  case RESP_ERROR:
    out = json_object_get(r->body);
    goto serialise;
  case RESP_ENVELOPE:
    break;
  }
  out = json_object_new_object();
  /* http/logical.go respondLogical builds a wrap's envelope from the
  ** wrap info alone: no request id, no warnings, no mount type. */
  json_object_object_add(out, "request_id",
                         json_object_new_string(r->wrapped ? ""
                                                           : request_id));
  json_object_object_add(out, "lease_id",
                         json_object_new_string(r->lease_id ? r->lease_id
                                                            : ""));
  json_object_object_add(out, "renewable",
                         json_object_new_boolean(r->renewable));
  json_object_object_add(out, "lease_duration",
                         json_object_new_int64(r->lease_duration));
  json_object_object_add(out, "data", or_null(r->data));
  json_object_object_add(out, "wrap_info", or_null(r->wrap_info));
  json_object_object_add(out, "warnings", or_null(r->warnings));
  json_object_object_add(out, "auth", or_null(r->auth));
  json_object_object_add(out, "mount_type",
                         json_object_new_string(r->mount_type ? r->mount_type
                                                              : ""));
  if (r->top) {
    json_object_object_foreach(r->top, k, v)
        json_object_object_add(out, k, json_object_get(v));
  }
serialise:;
  size_t n = 0;
  const char *s = json_object_to_json_string_length(
      out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
  *body = xstrndup(s, n);
  *len = n;
  json_object_put(out);
}

/* ---- field decoding -------------------------------------------------------- */

json_object *req_get(const struct sim_req *q, const char *name)
{
  json_object *v = NULL;
  if (!q->data || !json_object_object_get_ex(q->data, name, &v))
    return NULL;
  return v;
}

int req_has(const struct sim_req *q, const char *name)
{
  json_object *v = req_get(q, name);
  return v != NULL;
}

const char *json_as_str(json_object *v)
{
  if (!v || json_object_is_type(v, json_type_null))
    return "";
  if (json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  if (json_object_is_type(v, json_type_boolean))
    return json_object_get_boolean(v) ? "true" : "false";
  return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

int req_str(const struct sim_req *q, const char *name, const char **out)
{
  json_object *v = req_get(q, name);
  if (!v || json_object_is_type(v, json_type_null)) {
    *out = "";
    return 0;
  }
  *out = json_as_str(v);
  return 1;
}

static void bad_field(struct sim_resp *r, const char *name, json_object *v,
                      const char *what)
{
  resp_err(r, 400, "error converting input %s for field \"%s\": %s",
           json_as_str(v), name, what);
}

int req_bool(const struct sim_req *q, struct sim_resp *r, const char *name,
             int def, int *out)
{
  json_object *v = req_get(q, name);
  *out = def;
  if (!v || json_object_is_type(v, json_type_null))
    return 0;
  if (json_object_is_type(v, json_type_boolean)) {
    *out = json_object_get_boolean(v);
    return 1;
  }
  if (json_object_is_type(v, json_type_int)) {
    *out = json_object_get_int64(v) != 0;
    return 1;
  }
  if (json_object_is_type(v, json_type_string)) {
    int b = parse_go_bool(json_object_get_string(v));
    if (b >= 0) {
      *out = b;
      return 1;
    }
  }
  bad_field(r, name, v, "cannot parse as bool");
  return -1;
}

int req_int(const struct sim_req *q, struct sim_resp *r, const char *name,
            int64_t def, int64_t *out)
{
  json_object *v = req_get(q, name);
  *out = def;
  if (!v || json_object_is_type(v, json_type_null))
    return 0;
  if (json_object_is_type(v, json_type_int)) {
    *out = json_object_get_int64(v);
    return 1;
  }
  if (json_object_is_type(v, json_type_double)) {
    double d = json_object_get_double(v);
    /* Range first: casting a huge or NaN double is undefined. */
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d) {
      *out = (int64_t)d;
      return 1;
    }
  }
  if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    if (*s == 0) {
      *out = def;
      return 1;
    }
    if (parse_int64(s, out) == 0)
      return 1;
  }
  bad_field(r, name, v, "cannot parse as int");
  return -1;
}

int req_duration(const struct sim_req *q, struct sim_resp *r,
                 const char *name, int64_t def, int64_t *out)
{
  json_object *v = req_get(q, name);
  *out = def;
  if (!v || json_object_is_type(v, json_type_null))
    return 0;
  if (parse_duration_json(v, out) == 0)
    return 1;
  bad_field(r, name, v, "invalid duration");
  return -1;
}

int req_strlist(const struct sim_req *q, struct sim_resp *r,
                const char *name, struct strlist *out)
{
  json_object *v = req_get(q, name);
  if (!v || json_object_is_type(v, json_type_null))
    return 0;
  if (json_object_is_type(v, json_type_array)) {
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(v, i);
      if (json_object_is_type(e, json_type_object) ||
          json_object_is_type(e, json_type_array)) {
        bad_field(r, name, v, "expected a list of strings");
        return -1;
      }
      /* Comma strings inside arrays are split too, like
      ** TypeCommaStringSlice does. */
      strlist_split(out, json_as_str(e));
    }
    return 1;
  }
  if (json_object_is_type(v, json_type_object)) {
    bad_field(r, name, v, "expected a list of strings");
    return -1;
  }
  strlist_split(out, json_as_str(v));
  return 1;
}

void req_check_unknown(const struct sim_req *q, struct sim_resp *r)
{
  if (!q->known || q->known_all || !q->data)
    return;
  if (r->kind != RESP_ENVELOPE || r->wrapped)
    return;
  struct strlist bad = {0};
  json_object_object_foreach(q->data, k, v)
  {
    (void)v;
    int ok = 0;
    for (const char *const *p = q->known; *p; p++)
      if (strcmp(*p, k) == 0)
        ok = 1;
    if (!ok)
      strlist_add(&bad, k);
  }
  if (bad.n) {
    strlist_sort_uniq(&bad);
    char *j = strlist_join(&bad, " ");
    resp_warn(r, "Endpoint ignored these unrecognized parameters: [%s]", j);
    free(j);
  }
  strlist_free(&bad);
}
