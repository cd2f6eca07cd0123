/*
** openapi.c - /openapi.json, generated from the operation table.
**
** The document is built once per process (pthread_once) and kept as an
** immutable string, so serving threads never share a json-c object (whose
** reference counts are not atomic).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ops.h"
#include "vmb/version.h"

static pthread_once_t openapi_once = PTHREAD_ONCE_INIT;
static char *openapi_text;

/* "/secrets/{path}:undelete" stays as is: OpenAPI path templates use the
   same {name} syntax. */
static json_object *error_response(const char *what)
{
  json_object *r = json_object_new_object();
  json_object_object_add(r, "description", json_object_new_string(what));
  json_object *content = json_object_new_object(), *mt = json_object_new_object(),
              *schema = json_object_new_object();
  json_object_object_add(schema, "$ref", json_object_new_string("#/components/schemas/Error"));
  json_object_object_add(mt, "schema", schema);
  json_object_object_add(content, "application/json", mt);
  json_object_object_add(r, "content", content);
  return r;
}

static json_object *operation_doc(const struct vmb_op *op)
{
  json_object *o = json_object_new_object(), *params = json_object_new_array(),
              *responses = json_object_new_object(), *ok = json_object_new_object();
  json_object *schema = vmb_args_schema(op), *props = NULL, *body_props = json_object_new_object();
  json_object *body_required = json_object_new_array(), *req;
  const struct vmb_arg *a;
  json_object_object_add(o, "operationId", json_object_new_string(op->id));
  if(op->flags & VMB_OP_TOOL) {
    /* The MCP tool of this operation under its default, portable name
       (kv.read -> kv_read; docs/mcp.md "Tool names"). */
    char tool[128];
    size_t k;
    snprintf(tool, sizeof(tool), "%s", op->id);
    for(k = 0; tool[k]; k++)
      if(tool[k] == '.')
        tool[k] = '_';
    json_object_object_add(o, "x-mcp-tool", json_object_new_string(tool));
  }
  json_object_object_add(o, "summary", json_object_new_string(op->title ? op->title : op->id));
  if(op->description)
    json_object_object_add(o, "description", json_object_new_string(op->description));
  json_object_object_get_ex(schema, "properties", &props);
  for(a = op->args; a && a->name; a++) {
    json_object *ps = NULL;
    if(props)
      json_object_object_get_ex(props, a->name, &ps);
    if(a->flags & (VMB_ARG_IN_PATH | VMB_ARG_IN_QUERY)) {
      json_object *p = json_object_new_object();
      json_object_object_add(p, "name", json_object_new_string(a->name));
      json_object_object_add(p, "in", json_object_new_string(
                               (a->flags & VMB_ARG_IN_PATH) ? "path" : "query"));
      json_object_object_add(p, "required", json_object_new_boolean(
                               (a->flags & (VMB_ARG_IN_PATH | VMB_ARG_REQUIRED)) != 0));
      if(ps)
        json_object_object_add(p, "schema", json_object_get(ps));
      json_object_array_add(params, p);
    }
    else {
      if(ps)
        json_object_object_add(body_props, a->name, json_object_get(ps));
      if(a->flags & VMB_ARG_REQUIRED)
        json_object_array_add(body_required, json_object_new_string(a->name));
    }
  }
  if(json_object_array_length(params))
    json_object_object_add(o, "parameters", params);
  else
    json_object_put(params);
  if(json_object_object_length(body_props) && !(op->flags & VMB_OP_NO_BODY)) {
    json_object *rb = json_object_new_object(), *content = json_object_new_object(),
                *mt = json_object_new_object(), *bs = json_object_new_object();
    json_object_object_add(bs, "type", json_object_new_string("object"));
    json_object_object_add(bs, "properties", body_props);
    if(json_object_array_length(body_required))
      json_object_object_add(bs, "required", json_object_get(body_required));
    json_object_object_add(bs, "additionalProperties", json_object_new_boolean(0));
    json_object_object_add(mt, "schema", bs);
    json_object_object_add(content, "application/json", mt);
    json_object_object_add(rb, "content", content);
    json_object_object_add(rb, "required", json_object_new_boolean(1));
    json_object_object_add(o, "requestBody", rb);
  }
  else {
    json_object_put(body_props);
  }
  json_object_put(body_required);
  json_object_put(schema);
  json_object_object_add(ok, "description", json_object_new_string("success"));
  if(op->produces) {
    /* A document: its media type (the key without parameters, which
       stay in the description of what is sent) and a string body, or the
       JSON object this document is. */
    char media[64];
    size_t k = strcspn(op->produces, ";");
    json_object *content = json_object_new_object(), *mt = json_object_new_object(),
                *ds = json_object_new_object();
    snprintf(media, sizeof(media), "%.*s", (int)(k < sizeof(media) - 1 ? k : sizeof(media) - 1),
             op->produces);
    json_object_object_add(ds, "type", json_object_new_string(
                             strcmp(media, "application/json") ? "string" : "object"));
    json_object_object_add(mt, "schema", ds);
    json_object_object_add(content, media, mt);
    json_object_object_add(ok, "content", content);
    json_object_object_add(ok, "x-content-type", json_object_new_string(op->produces));
  }
  json_object_object_add(responses, "200", ok);
  /* The 4xx answers every operation of this kind can give (docs/errors):
     the linter's operation-4xx-response rule wants them named. */
  if(op->args && op->args[0].name)
    json_object_object_add(responses, "400", error_response("bad_request: an argument is "
                                                            "missing, of the wrong type or "
                                                            "out of range"));
  if(!(op->flags & VMB_OP_PUBLIC)) {
    json_object_object_add(responses, "401", error_response("no or an invalid credential"));
    json_object_object_add(responses, "403", error_response("scope, grant or subject refused"));
  }
  if(!(op->flags & VMB_OP_NO_RATE_LIMIT))
    json_object_object_add(responses, "429", error_response("rate limited"));
  json_object_object_add(responses, "default", error_response("error"));
  json_object_object_add(o, "responses", responses);
  if(op->flags & VMB_OP_PUBLIC) {
    /* Explicitly open: no credential needed (security: []). */
    json_object_object_add(o, "security", json_object_new_array());
  }
  else {
    json_object *sec = json_object_new_array(), *k = json_object_new_object(),
                *b = json_object_new_object();
    json_object_object_add(k, "apiKey", json_object_new_array());
    json_object_object_add(b, "bearer", json_object_new_array());
    json_object_array_add(sec, k);
    json_object_array_add(sec, b);
    json_object_object_add(o, "security", sec);
  }
  if(op->scope) {
    req = vmb_scopes_to_json(op->scope);
    json_object_object_add(o, "x-required-scopes", req);
  }
  return o;
}

static void build(void)
{
  json_object *doc = json_object_new_object(), *info = json_object_new_object(),
              *paths = json_object_new_object(), *comp = json_object_new_object(),
              *schemes = json_object_new_object(), *schemas = json_object_new_object();
  size_t i, n_ops;
  const struct vmb_op *ops = vmb_ops_rows(&n_ops);
  json_object_object_add(doc, "openapi", json_object_new_string("3.1.0"));
  json_object_object_add(info, "title", json_object_new_string("Vault MCP Bridge"));
  json_object_object_add(info, "version", json_object_new_string(vmb_version()));
  json_object_object_add(doc, "info", info);
  {
    /* Same origin: the document describes the bridge that serves it. */
    json_object *servers = json_object_new_array(), *srv = json_object_new_object();
    json_object_object_add(srv, "url", json_object_new_string("/"));
    json_object_object_add(srv, "description",
                           json_object_new_string("this bridge (the origin serving this document)"));
    json_object_array_add(servers, srv);
    json_object_object_add(doc, "servers", servers);
  }
  for(i = 0; i < n_ops; i++) {
    const struct vmb_op *op = &ops[i];
    json_object *item, *m;
    char method[16];
    size_t j;
    if(!op->method || !op->path || (op->flags & VMB_OP_RAW && !(op->flags & VMB_OP_PUBLIC) &&
                                     strncmp(op->path, "/mcp", 4) != 0 &&
                                     strncmp(op->path, "/admin/", 7) != 0))
      continue;
    if(!json_object_object_get_ex(paths, op->path, &item)) {
      item = json_object_new_object();
      json_object_object_add(paths, op->path, item);
    }
    for(j = 0; op->method[j] && j < sizeof(method) - 1; j++)
      method[j] = (char)(op->method[j] >= 'A' && op->method[j] <= 'Z'
                         ? op->method[j] - 'A' + 'a' : op->method[j]);
    method[j] = '\0';
    m = operation_doc(op);
    json_object_object_add(item, method, m);
  }
  json_object_object_add(doc, "paths", paths);
  {
    json_object *k = json_object_new_object(), *b = json_object_new_object();
    json_object_object_add(k, "type", json_object_new_string("apiKey"));
    json_object_object_add(k, "in", json_object_new_string("header"));
    json_object_object_add(k, "name", json_object_new_string("X-API-Key"));
    json_object_object_add(b, "type", json_object_new_string("http"));
    json_object_object_add(b, "scheme", json_object_new_string("bearer"));
    json_object_object_add(b, "bearerFormat", json_object_new_string("JWT"));
    json_object_object_add(schemes, "apiKey", k);
    json_object_object_add(schemes, "bearer", b);
  }
  {
    json_object *err = json_tokener_parse(
      "{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":"
      "{\"type\":\"object\",\"required\":[\"code\",\"message\",\"request_id\"],"
      "\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"},"
      "\"request_id\":{\"type\":\"string\"}}}}}");
    json_object_object_add(schemas, "Error", err);
  }
  json_object_object_add(comp, "securitySchemes", schemes);
  json_object_object_add(comp, "schemas", schemas);
  json_object_object_add(doc, "components", comp);
  openapi_text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(doc);
}

enum vmb_err vmb_h_openapi(struct vmb_call *c)
{
  pthread_once(&openapi_once, build);
  if(!openapi_text)
    return VMB_ERR_NOMEM;
  /* Built once per process and kept: the document borrows it. */
  c->document.content_type = c->op->produces;
  c->document.body = openapi_text;
  c->document.len = strlen(openapi_text);
  return VMB_ERR_OK;
}
