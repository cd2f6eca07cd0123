/*
** config_file.c - strict readers for the config file formats.
**
** TOML: Debian 12 packages no C TOML library, and a config file needs
** only flat "key = value" pairs, so we read a strict subset ourselves:
** comments, bare or quoted keys, basic and literal strings (one line),
** decimal integers, booleans, and one-line arrays of those. Tables,
** dotted keys, multi-line strings, dates and floats are refused with a
** message naming the line (docs/configuration.md).
*/
#include "config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <yaml.h>

#include "util.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_DEPTH_MAX 16

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  char *data;
  size_t n;
  if(!f) {
    snprintf(err, errlen, "invalid configuration: cannot open config file %.200s: %s",
             path, strerror(errno));
    return NULL;
  }
  data = malloc(CONFIG_FILE_MAX + 1);
  if(!data) {
    fclose(f);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  n = fread(data, 1, CONFIG_FILE_MAX + 1, f);
  fclose(f);
  if(n > CONFIG_FILE_MAX) {
    free(data);
    snprintf(err, errlen, "invalid configuration: config file %.200s is larger than 1 MiB", path);
    return NULL;
  }
  data[n] = '\0';
  *len = n;
  return data;
}

/* Hand one json-c value to entry() as text. */
static int emit_json_value(const char *key, json_object *v,
                           vmb_config_entry_fn entry, void *ud, char *err,
                           size_t errlen)
{
  const char *text;
  switch(json_object_get_type(v)) {
  case json_type_string:
    text = json_object_get_string(v);
    if(strlen(text) != (size_t)json_object_get_string_len(v)) {
      snprintf(err, errlen, "invalid configuration: %.64s (from file): NUL in value", key);
      return -1;
    }
    break;
  case json_type_null:
    snprintf(err, errlen, "invalid configuration: %.64s (from file): null is not a value", key);
    return -1;
  case json_type_double:
    snprintf(err, errlen, "invalid configuration: %.64s (from file): fractional numbers are not accepted", key);
    return -1;
  default:
    text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    break;
  }
  return entry(ud, key, text, err, errlen);
}

int vmb_config_text_json(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen)
{
  json_object *root = vmb_json_parse(text, len, CONFIG_DEPTH_MAX);
  int rc = 0;
  if(!root || !json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    snprintf(err, errlen, "invalid configuration: config file is not a JSON object");
    return -1;
  }
  json_object_object_foreach(root, k, v) {
    if((rc = emit_json_value(k, v, entry, ud, err, errlen)) != 0)
      break;
  }
  json_object_put(root);
  return rc;
}

/* ---- YAML ---------------------------------------------------------- */

/* Convert a YAML node to json-c (NEW reference). Scalars stay strings,
   except that plain (unquoted) true/false/integers inside nested values
   become JSON booleans/integers, as a YAML reader would expect. */
static json_object *yaml_to_json(yaml_document_t *doc, yaml_node_t *node,
                                 int depth)
{
  json_object *out = NULL;
  if(!node || depth > CONFIG_DEPTH_MAX)
    return NULL;
  switch(node->type) {
  case YAML_SCALAR_NODE: {
    const char *s = (const char *)node->data.scalar.value;
    if(strlen(s) != node->data.scalar.length)
      return NULL;
    if(node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && depth > 1) {
      long x;
      if(!strcmp(s, "true")) return json_object_new_boolean(1);
      if(!strcmp(s, "false")) return json_object_new_boolean(0);
      if(!vmb_parse_long(s, -2147483647L, 2147483647L, &x))
        return json_object_new_int64(x);
    }
    return json_object_new_string(s);
  }
  case YAML_SEQUENCE_NODE: {
    yaml_node_item_t *it;
    out = json_object_new_array();
    for(it = node->data.sequence.items.start;
        out && it < node->data.sequence.items.top; it++) {
      json_object *v = yaml_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
      if(!v) { json_object_put(out); return NULL; }
      json_object_array_add(out, v);
    }
    return out;
  }
  case YAML_MAPPING_NODE: {
    yaml_node_pair_t *p;
    out = json_object_new_object();
    for(p = node->data.mapping.pairs.start;
        out && p < node->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(doc, p->key);
      json_object *v;
      if(!k || k->type != YAML_SCALAR_NODE) { json_object_put(out); return NULL; }
      v = yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
      if(!v) { json_object_put(out); return NULL; }
      json_object_object_add(out, (const char *)k->data.scalar.value, v);
    }
    return out;
  }
  default:
    return NULL;
  }
}

int vmb_config_text_yaml(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen)
{
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_node_t *root;
  json_object *obj = NULL;
  int rc = -1;
  if(memchr(text, '\0', len)) {
    snprintf(err, errlen, "invalid configuration: config file contains NUL");
    return -1;
  }
  if(!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if(!yaml_parser_load(&parser, &doc)) {
    snprintf(err, errlen, "invalid configuration: YAML error at line %lu: %.100s",
             (unsigned long)parser.problem_mark.line + 1,
             parser.problem ? parser.problem : "syntax error");
    yaml_parser_delete(&parser);
    return -1;
  }
  root = yaml_document_get_root_node(&doc);
  if(!root) {
    rc = 0;   /* an empty file sets nothing */
    goto out;
  }
  if(root->type != YAML_MAPPING_NODE ||
     !(obj = yaml_to_json(&doc, root, 1))) {
    snprintf(err, errlen, "invalid configuration: the YAML config must be one "
             "mapping of settings (no anchors to non-scalars, depth <= 16)");
    goto out;
  }
  rc = 0;
  json_object_object_foreach(obj, k, v) {
    if((rc = emit_json_value(k, v, entry, ud, err, errlen)) != 0)
      break;
  }
out:
  json_object_put(obj);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

/* ---- TOML subset --------------------------------------------------- */

struct toml_cur {
  const char *p;
  const char *end;
  unsigned line;
};

static void toml_skip_ws(struct toml_cur *c)
{
  while(c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

/* Parse a string at c->p (basic "..." or literal '...') into a json-c
   string. NULL on error. */
static json_object *toml_string(struct toml_cur *c)
{
  char quote = *c->p++;
  char buf[4096];
  size_t n = 0;
  while(c->p < c->end && *c->p != quote) {
    char ch = *c->p++;
    if(ch == '\n' || (unsigned char)ch < 0x20 || n + 1 >= sizeof(buf))
      return NULL;
    if(ch == '\\' && quote == '"') {
      if(c->p >= c->end)
        return NULL;
      ch = *c->p++;
      switch(ch) {
      case 'n': ch = '\n'; break;
      case 't': ch = '\t'; break;
      case 'r': ch = '\r'; break;
      case '"': case '\\': break;
      default: return NULL;   /* \uXXXX etc. are outside the subset */
      }
    }
    buf[n++] = ch;
  }
  if(c->p >= c->end)
    return NULL;
  c->p++;   /* closing quote */
  return json_object_new_string_len(buf, (int)n);
}

static json_object *toml_value(struct toml_cur *c, int depth)
{
  toml_skip_ws(c);
  if(c->p >= c->end || depth > CONFIG_DEPTH_MAX)
    return NULL;
  if(*c->p == '"' || *c->p == '\'') {
    if(c->end - c->p >= 3 && c->p[1] == c->p[0] && c->p[2] == c->p[0])
      return NULL;   /* multi-line strings are outside the subset */
    return toml_string(c);
  }
  if(*c->p == '[') {
    json_object *arr = json_object_new_array();
    c->p++;
    for(;;) {
      json_object *v;
      toml_skip_ws(c);
      if(c->p < c->end && *c->p == ']') { c->p++; return arr; }
      v = toml_value(c, depth + 1);
      if(!v) { json_object_put(arr); return NULL; }
      json_object_array_add(arr, v);
      toml_skip_ws(c);
      if(c->p < c->end && *c->p == ',') { c->p++; continue; }
      if(c->p < c->end && *c->p == ']') { c->p++; return arr; }
      json_object_put(arr);
      return NULL;
    }
  }
  {
    const char *s = c->p;
    char tok[32];
    size_t n;
    long x;
    while(c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n' &&
          *c->p != ',' && *c->p != ']' && *c->p != '#' && *c->p != '\r')
      c->p++;
    n = (size_t)(c->p - s);
    if(n == 0 || n >= sizeof(tok))
      return NULL;
    memcpy(tok, s, n);
    tok[n] = '\0';
    if(!strcmp(tok, "true")) return json_object_new_boolean(1);
    if(!strcmp(tok, "false")) return json_object_new_boolean(0);
    if(!vmb_parse_long(tok, -2147483647L, 2147483647L, &x) &&
       (tok[0] != '0' || n == 1))
      return json_object_new_int64(x);
    return NULL;
  }
}

int vmb_config_text_toml(const char *text, size_t len, vmb_config_entry_fn entry,
                         void *ud, char *err, size_t errlen)
{
  struct toml_cur c = {text, text + len, 1};
  if(memchr(text, '\0', len)) {
    snprintf(err, errlen, "invalid configuration: config file contains NUL");
    return -1;
  }
  while(c.p < c.end) {
    char key[128];
    size_t kn = 0;
    json_object *v;
    int rc;
    toml_skip_ws(&c);
    if(c.p < c.end && (*c.p == '#' || *c.p == '\n' || *c.p == '\r')) {
      while(c.p < c.end && *c.p != '\n') c.p++;
      if(c.p < c.end) c.p++;
      c.line++;
      continue;
    }
    if(c.p >= c.end)
      break;
    if(*c.p == '[') {
      snprintf(err, errlen, "invalid configuration: TOML line %u: tables are "
               "not supported; write settings as top-level key = value", c.line);
      return -1;
    }
    if(*c.p == '"') {
      json_object *k = toml_string(&c);
      const char *ks = k ? json_object_get_string(k) : NULL;
      if(!ks || strlen(ks) >= sizeof(key)) {
        json_object_put(k);
        goto syntax;
      }
      kn = strlen(ks);
      memcpy(key, ks, kn + 1);
      json_object_put(k);
    }
    else {
      while(c.p < c.end && kn + 1 < sizeof(key) &&
            ((*c.p >= 'A' && *c.p <= 'Z') || (*c.p >= 'a' && *c.p <= 'z') ||
             (*c.p >= '0' && *c.p <= '9') || *c.p == '_' || *c.p == '-'))
        key[kn++] = *c.p++;
      key[kn] = '\0';
      if(kn == 0)
        goto syntax;
    }
    toml_skip_ws(&c);
    if(c.p >= c.end || *c.p != '=')
      goto syntax;
    c.p++;
    v = toml_value(&c, 1);
    if(!v)
      goto syntax;
    toml_skip_ws(&c);
    if(c.p < c.end && *c.p == '#')
      while(c.p < c.end && *c.p != '\n') c.p++;
    if(c.p < c.end && *c.p == '\r') c.p++;
    if(c.p < c.end && *c.p != '\n') {
      json_object_put(v);
      goto syntax;
    }
    rc = emit_json_value(key, v, entry, ud, err, errlen);
    json_object_put(v);
    if(rc)
      return rc;
  }
  return 0;
syntax:
  snprintf(err, errlen, "invalid configuration: TOML line %u: expected "
           "key = string | integer | boolean | [array] (subset, see docs)", c.line);
  return -1;
}

typedef int (*text_reader)(const char *, size_t, vmb_config_entry_fn, void *,
                           char *, size_t);

static int read_file(const char *path, text_reader reader,
                     vmb_config_entry_fn entry, void *ud, char *err,
                     size_t errlen)
{
  size_t len;
  char *text = slurp(path, &len, err, errlen);
  int rc;
  if(!text)
    return -1;
  rc = reader(text, len, entry, ud, err, errlen);
  free(text);
  return rc;
}

int vmb_config_file_json(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen)
{
  return read_file(path, vmb_config_text_json, entry, ud, err, errlen);
}

int vmb_config_file_yaml(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen)
{
  return read_file(path, vmb_config_text_yaml, entry, ud, err, errlen);
}

int vmb_config_file_toml(const char *path, vmb_config_entry_fn entry, void *ud,
                         char *err, size_t errlen)
{
  return read_file(path, vmb_config_text_toml, entry, ud, err, errlen);
}
