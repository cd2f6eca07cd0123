/*
** grantset.c - grant lists: validation, lookup, JSON (see grantset.h).
** A set's strings belong to whoever built it (arena, snapshot, static).
*/
#include "grantset.h"

#include <stdio.h>
#include <string.h>

#include "vmb/arena.h"
#include "vmb/buf.h"

#define GRANT_LIST_MAX 256

/* ---- grants --------------------------------------------------------- */

static const char *const grant_fields[VMB_GRANT__N] = {
  "transit_keys", "db_roles", "ssh_roles", "kms_keys"};
static const char *const grant_nouns[VMB_GRANT__N] = {
  "Transit key", "database role", "SSH role", "KMS key"};

const char *vmb_grant_field(enum vmb_grant_kind k)
{
  return (unsigned)k < VMB_GRANT__N ? grant_fields[k] : "?";
}

const char *vmb_grant_noun(enum vmb_grant_kind k)
{
  return (unsigned)k < VMB_GRANT__N ? grant_nouns[k] : "resource";
}

bool vmb_grant_allows(const struct vmb_grant_set *g, enum vmb_grant_kind k,
                      const char *name)
{
  const char *p;
  size_t n;
  if(!g || (unsigned)k >= VMB_GRANT__N || !g->names[k])
    return false;
  p = g->names[k];
  if(!name)
    return *p != '\0';
  n = strlen(name);
  while(*p) {
    size_t m = strcspn(p, "\n");
    if((m == 1 && p[0] == '*') || (m == n && !memcmp(p, name, n)))
      return true;
    p += m;
    if(*p == '\n')
      p++;
  }
  return false;
}

/* A grantable name: Vault key/role names are [A-Za-z0-9_.-]; KMS key ids
   may be ARNs or aliases, so ':' and '/' are allowed there. "*" alone
   means any. Quotes, '+', spaces and ".." never pass: the names end up
   in Vault policy paths. */
static bool grant_name_ok(enum vmb_grant_kind k, const char *s, size_t n)
{
  size_t i, max = k == VMB_GRANT_KMS ? 2048 : 128;
  if(n == 1 && s[0] == '*')
    return true;
  if(n < 1 || n > max)
    return false;
  for(i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
              (k == VMB_GRANT_KMS && (c == ':' || c == '/'));
    if(!ok)
      return false;
    if(c == '.' && i + 1 < n && s[i + 1] == '.')
      return false;
  }
  return true;
}

const struct vmb_grant_set *vmb_grants_from_json(struct vmb_arena *a,
                                                 json_object *grants,
                                                 const char **why)
{
  struct vmb_grant_set *g = vmb_arena_alloc(a, sizeof(*g));
  int k;
  if(!g) {
    *why = "out of memory";
    return NULL;
  }
  for(k = 0; k < VMB_GRANT__N; k++)
    g->names[k] = "";
  if(!grants)
    return g;
  if(!json_object_is_type(grants, json_type_object)) {
    *why = "'grants' must be an object of transit_keys, db_roles, ssh_roles, kms_keys";
    return NULL;
  }
  json_object_object_foreach(grants, key, val) {
    struct vmb_buf b;
    size_t i, n;
    for(k = 0; k < VMB_GRANT__N; k++)
      if(!strcmp(key, grant_fields[k]))
        break;
    if(k == VMB_GRANT__N) {
      *why = vmb_arena_printf(a, "unknown grant list '%.64s' (allowed: transit_keys, "
                              "db_roles, ssh_roles, kms_keys)", key);
      return NULL;
    }
    if(!json_object_is_type(val, json_type_array) ||
       (n = json_object_array_length(val)) > GRANT_LIST_MAX) {
      *why = vmb_arena_printf(a, "grants.%s must be an array of at most %d names",
                              key, GRANT_LIST_MAX);
      return NULL;
    }
    vmb_buf_init(&b, 1u << 20);
    for(i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(val, i);
      const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
      if(!s || !grant_name_ok((enum vmb_grant_kind)k, s, strlen(s))) {
        vmb_buf_free(&b);
        *why = vmb_arena_printf(a, "grants.%s[%zu] must be \"*\" or a name of %s", key, i,
                                k == VMB_GRANT_KMS ? "A-Z a-z 0-9 _ . - : / (1..2048)"
                                                   : "A-Z a-z 0-9 _ . - (1..128)");
        return NULL;
      }
      if((i && vmb_buf_append_str(&b, "\n")) || vmb_buf_append_str(&b, s)) {
        vmb_buf_free(&b);
        *why = "grant list too long";
        return NULL;
      }
    }
    g->names[k] = vmb_arena_strndup(a, b.data ? b.data : "", b.len);
    vmb_buf_free(&b);
    if(!g->names[k]) {
      *why = "out of memory";
      return NULL;
    }
  }
  return g;
}

json_object *vmb_grants_to_json(const struct vmb_grant_set *g)
{
  json_object *o = json_object_new_object();
  int k;
  if(!o)
    return NULL;
  for(k = 0; k < VMB_GRANT__N; k++) {
    json_object *arr = json_object_new_array();
    const char *p = g ? g->names[k] : "";
    while(p && *p) {
      size_t m = strcspn(p, "\n");
      json_object_array_add(arr, json_object_new_string_len(p, (int)m));
      p += m;
      if(*p == '\n')
        p++;
    }
    json_object_object_add(o, grant_fields[k], arr);
  }
  return o;
}

