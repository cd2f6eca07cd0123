/*
** scope.c - the one list of scope names (enum vmb_scope in
** vmb/request.h) and their text and JSON forms. Authentication (API key
** files, JWT claims), the gate, MCP and the OAuth metadata all use it.
*/
#include "scope.h"

#include <string.h>

static const struct {
  unsigned bit;
  const char *name;
} scope_names[] = {
  {VMB_SCOPE_READ, "read"},   {VMB_SCOPE_WRITE, "write"},
  {VMB_SCOPE_DELETE, "delete"}, {VMB_SCOPE_LIST, "list"},
  {VMB_SCOPE_ADMIN, "admin"},
};
#define N_SCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

const char *vmb_scope_name(unsigned scope_bit)
{
  size_t i;
  for(i = 0; i < N_SCOPES; i++)
    if(scope_names[i].bit == scope_bit)
      return scope_names[i].name;
  return "unknown";
}

static unsigned scope_bit_of(const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < N_SCOPES; i++)
    if(strlen(scope_names[i].name) == n && !memcmp(scope_names[i].name, s, n))
      return scope_names[i].bit;
  return 0;
}

unsigned vmb_scopes_parse_text(const char *s)
{
  unsigned bits = 0;
  while(s && *s) {
    size_t n = strcspn(s, " ,\t");
    bits |= scope_bit_of(s, n);
    s += n;
    while(*s == ' ' || *s == ',' || *s == '\t')
      s++;
  }
  return bits;
}

unsigned vmb_scopes_parse_json(json_object *arr)
{
  unsigned bits = 0;
  size_t i, n = json_object_array_length(arr);
  for(i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(arr, i);
    if(json_object_is_type(e, json_type_string))
      bits |= scope_bit_of(json_object_get_string(e),
                           (size_t)json_object_get_string_len(e));
  }
  return bits;
}

json_object *vmb_scopes_to_json(unsigned scopes)
{
  json_object *arr = json_object_new_array();
  size_t i;
  for(i = 0; arr && i < N_SCOPES; i++)
    if(scopes & scope_names[i].bit)
      json_object_array_add(arr, json_object_new_string(scope_names[i].name));
  return arr;
}

