/*
** ops.c - everything derived from the operation table: routing, tool
** lookup, argument validation and JSON Schema.
*/
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "vmb/arena.h"

/* ---- the table --------------------------------------------------- */

static const struct vmb_op *ops_rows;   /* BORROWED, set at start-up */
static size_t ops_n;

int vmb_ops_install(const struct vmb_op *rows, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++) {
    if((rows[i].flags & VMB_OP_TOOL) &&
       (rows[i].flags & (VMB_OP_RAW | VMB_OP_DOCUMENT | VMB_OP_BODY_OPAQUE)))
      return -1;
    if(!(rows[i].flags & VMB_OP_DOCUMENT) != !rows[i].produces)
      return -1;
  }
  ops_rows = rows;
  ops_n = n;
  return 0;
}

const struct vmb_op *vmb_ops_rows(size_t *n)
{
  *n = ops_n;
  return ops_rows;
}

/* ---- routing ------------------------------------------------------ */

/* Match path against a template. Returns the number of literal
   characters matched (the specificity), or -1. Parameter names and values
   (arena) go to tp[0..*ntp).
   One {param} may sit anywhere in a segment; only one called "path" may
   span several segments. A template with several parameters (the admin
   routes) is matched segment by segment: each {param} is one whole,
   non-empty segment. */
#define TP_MAX 4
struct tparam {
  const char *name;
  char *value;
};

static int template_match_multi(struct vmb_arena *a, const char *tmpl, const char *path,
                                struct tparam *tp, size_t *ntp)
{
  int score = 0;
  while(*tmpl || *path) {
    size_t tl = strcspn(tmpl, "/"), pl = strcspn(path, "/");
    if(tmpl[0] != path[0] || (tmpl[0] != '/' && tmpl[0] != '\0'))
      return -1;                /* both must sit on a '/' here */
    if(!*tmpl)
      break;
    tmpl++;
    path++;
    tl = strcspn(tmpl, "/");
    pl = strcspn(path, "/");
    if(tl > 2 && tmpl[0] == '{' && tmpl[tl - 1] == '}') {
      if(pl == 0 || *ntp >= TP_MAX)
        return -1;
      tp[*ntp].name = vmb_arena_strndup(a, tmpl + 1, tl - 2);
      tp[*ntp].value = vmb_arena_strndup(a, path, pl);
      if(!tp[*ntp].name || !tp[*ntp].value)
        return -1;
      (*ntp)++;
    }
    else {
      if(tl != pl || strncmp(tmpl, path, tl))
        return -1;
      score += (int)tl + 1;
    }
    tmpl += tl;
    path += pl;
  }
  return score;
}

static int template_match(struct vmb_arena *a, const char *tmpl,
                          const char *path, struct tparam *tp, size_t *ntp)
{
  const char *open = strchr(tmpl, '{'), *close;
  size_t plen, slen, pathlen = strlen(path), mid;
  *ntp = 0;
  if(!open)
    return strcmp(tmpl, path) == 0 ? (int)strlen(tmpl) + 1000 : -1;
  close = strchr(open, '}');
  if(!close)
    return -1;
  if(strchr(close, '{'))
    return template_match_multi(a, tmpl, path, tp, ntp);
  plen = (size_t)(open - tmpl);
  slen = strlen(close + 1);
  if(pathlen < plen + slen + 1 || strncmp(path, tmpl, plen) ||
     strcmp(path + pathlen - slen, close + 1))
    return -1;
  mid = pathlen - plen - slen;
  /* Only a parameter called "path" may span several segments. */
  if(!(close - open - 1 == 4 && !strncmp(open + 1, "path", 4)) &&
     memchr(path + plen, '/', mid))
    return -1;
  tp[0].name = vmb_arena_strndup(a, open + 1, (size_t)(close - open - 1));
  tp[0].value = vmb_arena_strndup(a, path + plen, mid);
  if(!tp[0].name || !tp[0].value)
    return -1;
  *ntp = 1;
  return (int)(plen + slen);
}

const struct vmb_op *vmb_route_find(struct vmb_request *req, const char *path,
                                    json_object **params, char *allow,
                                    size_t allowlen)
{
  const struct vmb_op *best = NULL;
  int best_score = -1, best_other = -1;
  struct tparam best_tp[TP_MAX], tp[TP_MAX];
  size_t i, used = 0, best_n = 0, ntp;

  *params = NULL;
  if(allowlen)
    allow[0] = '\0';
  for(i = 0; i < ops_n; i++) {
    const struct vmb_op *op = &ops_rows[i];
    int score;
    if(!op->method || !op->path)
      continue;
    score = template_match(req->arena, op->path, path, tp, &ntp);
    if(score < 0)
      continue;
    if(strcmp(op->method, req->method) == 0) {
      if(score > best_score) {
        best = op;
        best_score = score;
        memcpy(best_tp, tp, sizeof(tp));
        best_n = ntp;
      }
    }
    else if(score > best_other) {
      best_other = score;
    }
  }
  if(best && best_score >= best_other) {
    if(best_n) {
      *params = json_object_new_object();
      for(i = 0; *params && i < best_n; i++)
        json_object_object_add(*params, best_tp[i].name,
                               json_object_new_string(best_tp[i].value));
    }
    return best;
  }
  /* Collect the methods of the most specific templates that matched. */
  for(i = 0; i < ops_n && best_other >= 0; i++) {
    const struct vmb_op *op = &ops_rows[i];
    if(!op->method || !op->path ||
       template_match(req->arena, op->path, path, tp, &ntp) != best_other)
      continue;
    if(strstr(allow, op->method))
      continue;
    used += (size_t)snprintf(allow + used, used < allowlen ? allowlen - used : 0,
                             "%s%s", used ? ", " : "", op->method);
  }
  return NULL;
}

const struct vmb_op *vmb_tool_find(const char *name)
{
  size_t i;
  for(i = 0; i < ops_n; i++)
    if((ops_rows[i].flags & VMB_OP_TOOL) && !strcmp(ops_rows[i].id, name))
      return &ops_rows[i];
  return NULL;
}

/* ---- validation --------------------------------------------------- */

static const struct vmb_arg *arg_find(const struct vmb_op *op, const char *name)
{
  const struct vmb_arg *a;
  for(a = op->args; a && a->name; a++)
    if(!strcmp(a->name, name))
      return a;
  return NULL;
}

static bool enum_has(const char *values, const char *s)
{
  size_t n = strlen(s);
  while(values && *values) {
    size_t m = strcspn(values, "|");
    if(m == n && !memcmp(values, s, n))
      return true;
    values += m;
    if(*values == '|')
      values++;
  }
  return false;
}

static const char *type_name(enum vmb_arg_type t)
{
  switch(t) {
  case VMB_ARG_STRING: return "a string";
  case VMB_ARG_INTEGER: return "an integer";
  case VMB_ARG_BOOLEAN: return "a boolean";
  case VMB_ARG_OBJECT: return "an object";
  case VMB_ARG_INT_ARRAY: return "an array of integers";
  case VMB_ARG_STRING_ARRAY: return "an array of strings";
  case VMB_ARG_STRINGS: return "a string or an array of strings";
  }
  return "a value";
}

/* Query-string values arrive as text; turn them into the declared type
   so one validator serves REST and MCP. Returns a NEW object or NULL. */
static json_object *coerce_text(const struct vmb_arg *a, json_object *v)
{
  const char *s = json_object_get_string(v);
  long x;
  if(a->type == VMB_ARG_INTEGER) {
    if(vmb_parse_long(s, -9007199254740991L, 9007199254740991L, &x))
      return NULL;
    return json_object_new_int64(x);
  }
  if(a->type == VMB_ARG_BOOLEAN) {
    if(!strcmp(s, "true")) return json_object_new_boolean(1);
    if(!strcmp(s, "false")) return json_object_new_boolean(0);
    return NULL;
  }
  return json_object_get(v);
}

enum vmb_err vmb_args_validate(const struct vmb_op *op, json_object *args,
                               struct vmb_arena *arena, const char **detail)
{
  const struct vmb_arg *a;
  if(!json_object_is_type(args, json_type_object)) {
    *detail = "arguments must be a JSON object";
    return VMB_ERR_BAD_REQUEST;
  }
  json_object_object_foreach(args, key, val) {
    (void)val;
    if(!arg_find(op, key)) {
      *detail = vmb_arena_printf(arena, "unknown field '%.64s'", key);
      return VMB_ERR_BAD_REQUEST;
    }
  }
  for(a = op->args; a && a->name; a++) {
    json_object *v;
    bool ok = true;
    if(!json_object_object_get_ex(args, a->name, &v) || !v) {
      if(a->flags & VMB_ARG_REQUIRED) {
        *detail = vmb_arena_printf(arena, "missing required field '%s'", a->name);
        return VMB_ERR_BAD_REQUEST;
      }
      continue;
    }
    if((a->flags & VMB_ARG_IN_QUERY) && json_object_is_type(v, json_type_string) &&
       (a->type == VMB_ARG_INTEGER || a->type == VMB_ARG_BOOLEAN)) {
      json_object *c = coerce_text(a, v);
      if(!c) {
        *detail = vmb_arena_printf(arena, "field '%s' must be %s", a->name,
                                   type_name(a->type));
        return VMB_ERR_BAD_REQUEST;
      }
      json_object_object_add(args, a->name, c);
      v = c;
    }
    switch(a->type) {
    case VMB_ARG_STRING: {
      size_t n;
      ok = json_object_is_type(v, json_type_string);
      if(!ok)
        break;
      n = (size_t)json_object_get_string_len(v);
      if(strlen(json_object_get_string(v)) != n) {
        *detail = vmb_arena_printf(arena, "field '%s' contains NUL", a->name);
        return VMB_ERR_BAD_REQUEST;
      }
      if((a->max && n > (size_t)a->max) || n < (size_t)a->min) {
        *detail = vmb_arena_printf(arena, "field '%s' must be %ld to %ld characters",
                                   a->name, a->min, a->max);
        return VMB_ERR_BAD_REQUEST;
      }
      if(a->enum_values && !enum_has(a->enum_values, json_object_get_string(v))) {
        *detail = vmb_arena_printf(arena, "field '%s' must be one of %s", a->name,
                                   a->enum_values);
        return VMB_ERR_BAD_REQUEST;
      }
      if(a->flags & VMB_ARG_BASE64) {
        size_t outlen;
        unsigned char *d = vmb_b64_decode(json_object_get_string(v), n, &outlen);
        if(!d) {
          *detail = vmb_arena_printf(arena, "field '%s' must be standard base64", a->name);
          return VMB_ERR_BAD_REQUEST;
        }
        free(d);
      }
      break;
    }
    case VMB_ARG_INTEGER: {
      int64_t x;
      ok = json_object_is_type(v, json_type_int);
      if(!ok)
        break;
      x = json_object_get_int64(v);
      if((a->min || a->max) && (x < a->min || x > a->max)) {
        *detail = vmb_arena_printf(arena, "field '%s' must be between %ld and %ld",
                                   a->name, a->min, a->max);
        return VMB_ERR_BAD_REQUEST;
      }
      break;
    }
    case VMB_ARG_BOOLEAN:
      ok = json_object_is_type(v, json_type_boolean);
      break;
    case VMB_ARG_OBJECT:
      ok = json_object_is_type(v, json_type_object);
      break;
    case VMB_ARG_INT_ARRAY:
    case VMB_ARG_STRING_ARRAY:
    case VMB_ARG_STRINGS: {
      size_t i, n;
      json_type want = a->type == VMB_ARG_INT_ARRAY ? json_type_int : json_type_string;
      if(a->type == VMB_ARG_STRINGS && json_object_is_type(v, json_type_string))
        break;
      ok = json_object_is_type(v, json_type_array);
      if(!ok)
        break;
      n = json_object_array_length(v);
      if(a->max && n > (size_t)a->max) {
        *detail = vmb_arena_printf(arena, "field '%s' has more than %ld items",
                                   a->name, a->max);
        return VMB_ERR_BAD_REQUEST;
      }
      for(i = 0; ok && i < n; i++)
        ok = json_object_is_type(json_object_array_get_idx(v, i), want);
      break;
    }
    }
    if(!ok) {
      *detail = vmb_arena_printf(arena, "field '%s' must be %s", a->name,
                                 type_name(a->type));
      return VMB_ERR_BAD_REQUEST;
    }
  }
  return VMB_ERR_OK;
}

/* ---- JSON Schema -------------------------------------------------- */

static json_object *arg_schema(const struct vmb_arg *a)
{
  json_object *s = json_object_new_object();
  switch(a->type) {
  case VMB_ARG_STRING:
    json_object_object_add(s, "type", json_object_new_string("string"));
    if(a->min)
      json_object_object_add(s, "minLength", json_object_new_int64(a->min));
    if(a->max)
      json_object_object_add(s, "maxLength", json_object_new_int64(a->max));
    if(a->flags & VMB_ARG_BASE64)
      json_object_object_add(s, "contentEncoding", json_object_new_string("base64"));
    if(a->enum_values) {
      json_object *e = json_object_new_array();
      const char *p = a->enum_values;
      while(*p) {
        size_t m = strcspn(p, "|");
        json_object_array_add(e, json_object_new_string_len(p, (int)m));
        p += m;
        if(*p == '|')
          p++;
      }
      json_object_object_add(s, "enum", e);
    }
    break;
  case VMB_ARG_INTEGER:
    json_object_object_add(s, "type", json_object_new_string("integer"));
    if(a->min || a->max) {
      json_object_object_add(s, "minimum", json_object_new_int64(a->min));
      json_object_object_add(s, "maximum", json_object_new_int64(a->max));
    }
    break;
  case VMB_ARG_BOOLEAN:
    json_object_object_add(s, "type", json_object_new_string("boolean"));
    break;
  case VMB_ARG_OBJECT:
    json_object_object_add(s, "type", json_object_new_string("object"));
    break;
  case VMB_ARG_INT_ARRAY:
  case VMB_ARG_STRING_ARRAY: {
    json_object *items = json_object_new_object();
    json_object_object_add(items, "type", json_object_new_string(
                             a->type == VMB_ARG_INT_ARRAY ? "integer" : "string"));
    json_object_object_add(s, "type", json_object_new_string("array"));
    json_object_object_add(s, "items", items);
    if(a->max)
      json_object_object_add(s, "maxItems", json_object_new_int64(a->max));
    break;
  }
  case VMB_ARG_STRINGS: {
    json_object *any = json_object_new_array(), *s1 = json_object_new_object(),
                *s2 = json_object_new_object(), *items = json_object_new_object();
    json_object_object_add(s1, "type", json_object_new_string("string"));
    json_object_object_add(items, "type", json_object_new_string("string"));
    json_object_object_add(s2, "type", json_object_new_string("array"));
    json_object_object_add(s2, "items", items);
    json_object_array_add(any, s1);
    json_object_array_add(any, s2);
    json_object_object_add(s, "anyOf", any);
    break;
  }
  }
  if(a->description)
    json_object_object_add(s, "description", json_object_new_string(a->description));
  return s;
}

json_object *vmb_args_schema(const struct vmb_op *op)
{
  json_object *schema = json_object_new_object(), *props = json_object_new_object(),
              *required = json_object_new_array();
  const struct vmb_arg *a;
  json_object_object_add(schema, "type", json_object_new_string("object"));
  for(a = op->args; a && a->name; a++) {
    json_object_object_add(props, a->name, arg_schema(a));
    if(a->flags & VMB_ARG_REQUIRED)
      json_object_array_add(required, json_object_new_string(a->name));
  }
  json_object_object_add(schema, "properties", props);
  if(json_object_array_length(required))
    json_object_object_add(schema, "required", required);
  else
    json_object_put(required);
  json_object_object_add(schema, "additionalProperties", json_object_new_boolean(0));
  return schema;
}
