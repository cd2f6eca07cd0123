/*
** mcp.c - transport-neutral MCP: JSON-RPC 2.0 messages in, at most one
** message out (SPEC section 5, MCP revisions 2025-06-18, 2025-11-25 and,
** with the envelope rules of mcp_modern.c, 2026-07-28).
**
** Every tool, resource and prompt is derived from the operation table:
** tools/list walks the table (vmb_ops_rows) for VMB_OP_TOOL rows the caller's scopes
** allow, tools/call and resources/read run those rows through
** vmb_gate_run(), so scope checks, argument validation, the handler and
** responses.log are exactly the REST ones.
**
** Ownership: every json_object built here is either added to a parent
** (json_object_object_add takes the reference) or put before returning;
** the functions that return one say NEW. Documents are built per call,
** never shared between threads (json-c refcounts are not atomic).
**
** Thread-safety: no mutable globals besides the configuration pointer,
** which is set once by vmb_mcp_init() before threads start.
*/
#include "mcp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/log.h"
#include "vmb/version.h"

/* Revisions we speak, newest first. 2025-03-26 is accepted because a
   client that sends no MCP-Protocol-Version header is to be taken as
   speaking it (Streamable HTTP, "Protocol Version Header"). */
static const char *const supported_versions[] = {
  VMB_MCP_MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26"
};

/* The settings this module reads, taken at start-up (vmb_mcp_init). */
static struct {
  const char *cors_allow_origins;   /* CORS_ALLOW_ORIGINS, BORROWED */
  bool tool_names_dotted;           /* MCP_TOOL_NAMES_DOTTED */
} conf;

bool vmb_mcp_origin_ok(const struct vmb_request *req)
{
  return vmb_cors_request_ok(conf.cors_allow_origins, req);
}

bool vmb_mcp_version_supported(const char *version)
{
  size_t i;
  for(i = 0; version && i < sizeof(supported_versions) / sizeof(*supported_versions); i++)
    if(!strcmp(version, supported_versions[i]))
      return true;
  return false;
}

/* ---- small json helpers --------------------------------------------- */

static void json_put(void *p) { json_object_put(p); }

/* Add val under key; on failure the value is put, so the caller never
   leaks whatever happens (json-c keeps val's ownership on failure). */
static void jadd(json_object *obj, const char *key, json_object *val)
{
  if(!obj || !val || json_object_object_add(obj, key, val))
    json_object_put(val);
}

static void jpush(json_object *arr, json_object *val)
{
  if(!arr || !val || json_object_array_add(arr, val))
    json_object_put(val);
}

static json_object *jstr(const char *s) { return json_object_new_string(s ? s : ""); }

/* BORROWED member of obj when it has the wanted type, else NULL. */
static json_object *member(json_object *obj, const char *key, json_type type)
{
  json_object *v = NULL;
  if(!obj || !json_object_object_get_ex(obj, key, &v) || !v ||
     !json_object_is_type(v, type))
    return NULL;
  return v;
}

static const char *text_of(json_object *doc)
{
  return json_object_to_json_string_ext(
    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

json_object *vmb_mcp_error(json_object *id, int code, const char *message,
                           json_object *data)
{
  json_object *doc = json_object_new_object(), *e = json_object_new_object();
  if(!doc || !e) {
    json_object_put(doc);
    json_object_put(e);
    json_object_put(data);
    return NULL;
  }
  jadd(doc, "jsonrpc", jstr("2.0"));
  /* json-c stores null as a NULL pointer: adding NULL writes "id":null. */
  json_object_object_add(doc, "id", id ? json_object_get(id) : NULL);
  jadd(e, "code", json_object_new_int(code));
  jadd(e, "message", jstr(message));
  if(data)
    jadd(e, "data", data);
  jadd(doc, "error", e);
  return doc;
}

static json_object *rpc_result(json_object *id, json_object *result)
{
  json_object *doc = json_object_new_object();
  if(!doc) {
    json_object_put(result);
    return NULL;
  }
  jadd(doc, "jsonrpc", jstr("2.0"));
  json_object_object_add(doc, "id", json_object_get(id));
  jadd(doc, "result", result);
  return doc;
}

/* ---- the per-message context ---------------------------------------- */

struct rpc {
  struct vmb_request *req;
  const char *via;
  bool *shutdown;
  bool modern;                /* served under 2026-07-28 rules */
  const char *tool_completed; /* op id of a tools/call that ran */
  /* set by a method that fails */
  int code;
  const char *message;        /* static or arena */
  json_object *data;          /* NEW or NULL */
};

static int fail(struct rpc *r, int code, const char *message)
{
  r->code = code;
  r->message = message;
  return -1;
}

static int fail_text(struct rpc *r, int code, const char *m)
{
  return fail(r, code, m ? m : "invalid params");
}

/* fail() with a formatted message; a macro so the compiler checks the
   format against its arguments. */
#define failf(r, code, ...) \
  fail_text((r), (code), vmb_arena_printf((r)->req->arena, __VA_ARGS__))

/* MCP's list methods take an optional opaque cursor. We return every
   item in one page and never hand out a cursor, so any cursor a client
   sends did not come from us (Pagination: invalid cursor -> VMB_RPC_INVALID_PARAMS). */
static int check_no_cursor(struct rpc *r, json_object *params)
{
  json_object *c = NULL;
  if(params && json_object_object_get_ex(params, "cursor", &c) && c)
    return fail(r, VMB_RPC_INVALID_PARAMS, "invalid cursor: this server returns every item in one page");
  return 0;
}

static bool caller_may(const struct vmb_request *req, const struct vmb_op *op)
{
  return (req->identity.scopes & op->scope) == op->scope;
}

/* ---- lifecycle ------------------------------------------------------ */

static int m_initialize(struct rpc *r, json_object *params, json_object **out)
{
  json_object *pv = member(params, "protocolVersion", json_type_string);
  json_object *res, *info;
  const char *version;

  if(!pv)
    return fail(r, VMB_RPC_INVALID_PARAMS, "initialize needs params.protocolVersion (a string)");
  /* Version Negotiation: echo a revision we speak, else offer ours.
     2025-03-26 is only taken on the header path, never offered here:
     its feature set (batching) is not what we implement. */
  version = json_object_get_string(pv);
  if(!vmb_mcp_version_supported(version) || !strcmp(version, "2025-03-26") ||
     !strcmp(version, VMB_MCP_MODERN_VERSION))
    version = VMB_MCP_DEFAULT_VERSION;

  res = json_object_new_object();
  jadd(res, "protocolVersion", jstr(version));
  jadd(res, "capabilities", vmb_mcp_capabilities(false));
  info = json_object_new_object();
  jadd(info, "name", jstr("vault-mcp-bridge"));
  jadd(info, "title", jstr("Vault MCP Bridge"));
  jadd(info, "version", jstr(vmb_version()));
  jadd(res, "serverInfo", info);
  jadd(res, "instructions", jstr(vmb_mcp_instructions()));
  *out = res;
  return 0;
}

json_object *vmb_mcp_capabilities(bool modern)
{
  json_object *caps = json_object_new_object(), *o;
  o = json_object_new_object();
  jadd(o, "listChanged", json_object_new_boolean(0));
  jadd(caps, "tools", o);
  o = json_object_new_object();
  jadd(o, "subscribe", json_object_new_boolean(0));
  jadd(o, "listChanged", json_object_new_boolean(0));
  jadd(caps, "resources", o);
  o = json_object_new_object();
  jadd(o, "listChanged", json_object_new_boolean(0));
  jadd(caps, "prompts", o);
  /* Legacy revisions: declared so clients may call logging/setLevel;
     the bridge sends no log notifications (its logs are files, and
     never hold secrets). 2026-07-28 deprecates Logging: not declared. */
  if(!modern)
    jadd(caps, "logging", json_object_new_object());
  return caps;
}

const char *vmb_mcp_instructions(void)
{
  return conf.tool_names_dotted ?
    "Scoped access to HashiCorp Vault for one subject. Secrets live under "
    "the caller's own namespace: use the kv.* tools with paths relative to it "
    "(or read kv://<subject>/<path> resources). Tool names are the "
    "operation ids of the REST API; a tool the caller's scopes do not "
    "allow is not listed." :
    "Scoped access to HashiCorp Vault for one subject. Secrets live under "
    "the caller's own namespace: use the kv_* tools with paths relative to it "
    "(or read kv://<subject>/<path> resources). Tool names are the "
    "operation ids of the REST API with '_' for '.' (kv_read is kv.read); a "
    "tool the caller's scopes do not allow is not listed.";
}

/* Tool names. The table's ids (kv.read) are the operation ids of REST,
   OpenAPI, metrics and logs. MCP lists them in the portable form
   (kv_read: '.' -> '_', within ^[a-zA-Z0-9_-]{1,64}$ as model APIs
   require) unless MCP_TOOL_NAMES_DOTTED; tools/call accepts both. */
const char *vmb_mcp_tool_name(struct vmb_request *req, const struct vmb_op *op)
{
  char *n, *p;
  if(conf.tool_names_dotted)
    return op->id;
  n = vmb_arena_strdup(req->arena, op->id);
  if(!n)
    return op->id;
  for(p = n; *p; p++)
    if(*p == '.')
      *p = '_';
  return n;
}

/* The tool row named name in either form, or NULL. */
static const struct vmb_op *tool_by_name(const char *name)
{
  const struct vmb_op *op = vmb_tool_find(name), *ops;
  size_t i, k, n_ops;
  if(op)
    return op;
  ops = vmb_ops_rows(&n_ops);
  for(i = 0; i < n_ops; i++) {
    const char *id = ops[i].id;
    if(!(ops[i].flags & VMB_OP_TOOL) || strlen(id) != strlen(name))
      continue;
    for(k = 0; id[k] && (id[k] == name[k] || (id[k] == '.' && name[k] == '_')); k++)
      ;
    if(!id[k])
      return &ops[i];
  }
  return NULL;
}

static int m_empty(struct rpc *r, json_object *params, json_object **out)
{
  (void)r;
  (void)params;
  *out = json_object_new_object();
  return 0;
}

static int m_shutdown(struct rpc *r, json_object *params, json_object **out)
{
  if(r->shutdown)
    *r->shutdown = true;
  return m_empty(r, params, out);
}

/* RFC 5424 severities as MCP names them (Utilities -> Logging). */
static int m_set_level(struct rpc *r, json_object *params, json_object **out)
{
  static const char *const levels[] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
  };
  json_object *lv = member(params, "level", json_type_string);
  size_t i;
  if(lv)
    for(i = 0; i < sizeof(levels) / sizeof(*levels); i++)
      if(!strcmp(json_object_get_string(lv), levels[i]))
        return m_empty(r, params, out);
  return fail(r, VMB_RPC_INVALID_PARAMS, "params.level must be one of debug, info, notice, "
              "warning, error, critical, alert, emergency");
}

/* ---- tools ---------------------------------------------------------- */

/* The output schema of every tool: handlers return one JSON object
   (non-object results are wrapped as {"result": ...}). */
static json_object *output_schema(void)
{
  json_object *s = json_object_new_object();
  jadd(s, "type", jstr("object"));
  return s;
}

/* tools/list entry for op: NEW reference. */
static json_object *tool_entry(struct rpc *r, const struct vmb_op *op)
{
  json_object *t = json_object_new_object(), *ann = json_object_new_object();
  const char *scope = op->scope ? vmb_scope_name(op->scope) : NULL;
  jadd(t, "name", jstr(vmb_mcp_tool_name(r->req, op)));
  if(op->title)
    jadd(t, "title", jstr(op->title));
  /* Say which scope the tool needs: agents choosing tools see why a
     sibling tool may be missing for another subject. */
  if(scope) {
    char desc[1024];
    snprintf(desc, sizeof(desc), "%s (scope: %s)",
             op->description ? op->description : op->id, scope);
    jadd(t, "description", jstr(desc));
  }
  else {
    jadd(t, "description", jstr(op->description ? op->description : op->id));
  }
  jadd(t, "inputSchema", vmb_args_schema(op));
  jadd(t, "outputSchema", output_schema());
  if(op->title)
    jadd(ann, "title", jstr(op->title));
  jadd(ann, "readOnlyHint", json_object_new_boolean(!!(op->flags & VMB_OP_READONLY)));
  jadd(ann, "destructiveHint", json_object_new_boolean(!!(op->flags & VMB_OP_DESTRUCTIVE)));
  jadd(ann, "idempotentHint", json_object_new_boolean(!!(op->flags & VMB_OP_IDEMPOTENT)));
  /* Vault is one closed system the operator configured, not the open
     web: openWorldHint false. */
  jadd(ann, "openWorldHint", json_object_new_boolean(0));
  jadd(t, "annotations", ann);
  return t;
}

static int m_tools_list(struct rpc *r, json_object *params, json_object **out)
{
  json_object *res, *tools;
  size_t i, n_ops;
  const struct vmb_op *ops = vmb_ops_rows(&n_ops);
  if(check_no_cursor(r, params))
    return -1;
  res = json_object_new_object();
  tools = json_object_new_array();
  for(i = 0; i < n_ops; i++) {
    const struct vmb_op *op = &ops[i];
    if((op->flags & VMB_OP_TOOL) && caller_may(r->req, op))
      jpush(tools, tool_entry(r, op));
  }
  jadd(res, "tools", tools);
  *out = res;
  return 0;
}

/*
** Run op for the caller through the shared gate. args is BORROWED.
** On success *result is a NEW reference; on failure *detail is the
** client-safe message (the gate's or the default one).
*/
static enum vmb_err run_op(struct rpc *r, const struct vmb_op *op, json_object *args,
                           json_object **result, const char **detail)
{
  struct vmb_call call;
  enum vmb_err err;

  memset(&call, 0, sizeof(call));
  /* No HTTP response: a tool's handler returns a result or an error
     (vmb_ops_install refuses RAW tools), and MCP renders it below. */
  call.req = r->req;
  call.op = op;
  call.args = args;
  call.via = r->via;
  call.log_fields = json_object_new_object();
  if(!call.log_fields || vmb_arena_defer(r->req->arena, json_put, call.log_fields)) {
    *result = NULL;
    *detail = vmb_err_message(VMB_ERR_NOMEM);
    return VMB_ERR_NOMEM;
  }
  err = vmb_gate_run(&call);
  if(err == VMB_ERR_OK && call.failed_with != VMB_ERR_OK)
    err = call.failed_with;      /* a result that describes a failure */
  if(err != VMB_ERR_OK) {
    *detail = call.detail ? call.detail : vmb_err_message(err);
    json_object_put(call.result);
    *result = NULL;
    return err;
  }
  *result = call.result ? call.result : json_object_new_object();
  *detail = NULL;
  return err;
}

static int m_tools_call(struct rpc *r, json_object *params, json_object **out)
{
  json_object *name = member(params, "name", json_type_string);
  json_object *args = NULL, *result = NULL, *res, *content, *text, *structured;
  const struct vmb_op *op;
  const char *detail = NULL;
  enum vmb_err err;

  if(!name)
    return fail(r, VMB_RPC_INVALID_PARAMS, "tools/call needs params.name (a string)");
  op = tool_by_name(json_object_get_string(name));
  if(!op)
    return failf(r, VMB_RPC_INVALID_PARAMS, "Unknown tool: %.128s", json_object_get_string(name));

  res = json_object_new_object();
  content = json_object_new_array();
  if(!res || !content) {
    json_object_put(res);
    json_object_put(content);
    return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");
  }
  if(params)
    json_object_object_get_ex(params, "arguments", &args);
  if(!args) {
    /* Absent and null both mean "no arguments". */
    args = json_object_new_object();
    if(!args || vmb_arena_defer(r->req->arena, json_put, args)) {
      json_object_put(res);
      json_object_put(content);
      return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");
    }
  }
  /* Argument problems are tool execution errors (2025-11-25, SEP-1303):
     the model reads the message and corrects its call. */
  err = run_op(r, op, args, &result, &detail);
  if(err == VMB_ERR_OK) {
    if(json_object_is_type(result, json_type_object)) {
      structured = result;
    }
    else {
      structured = json_object_new_object();
      jadd(structured, "result", result);
    }
    text = json_object_new_object();
    jadd(text, "type", jstr("text"));
    jadd(text, "text", jstr(text_of(structured)));
    jpush(content, text);
    jadd(res, "content", content);
    jadd(res, "structuredContent", structured);
    jadd(res, "isError", json_object_new_boolean(0));
  }
  else {
    json_object *e = json_object_new_object(), *ew = json_object_new_object();
    const char *msg = vmb_arena_printf(r->req->arena, "%s failed (%s): %s",
                                       vmb_mcp_tool_name(r->req, op),
                                       vmb_err_name(err), detail);
    text = json_object_new_object();
    jadd(text, "type", jstr("text"));
    jadd(text, "text", jstr(msg ? msg : detail));
    jpush(content, text);
    jadd(ew, "code", jstr(vmb_err_name(err)));
    jadd(ew, "message", jstr(detail));
    jadd(ew, "status", json_object_new_int(vmb_err_http_status(err)));
    jadd(e, "error", ew);
    jadd(res, "content", content);
    jadd(res, "structuredContent", e);
    jadd(res, "isError", json_object_new_boolean(1));
  }
  /* Over HTTP the caller's /mcp/sse streams hear of it, whichever
     process serves them. stdio subjects are self-asserted (SUBJECT env),
     so they never feed the host-wide bus. */
  if(r->via && !strcmp(r->via, "mcp"))
    vmb_mcp_bus_publish(op->id, r->req->identity.subject);
  r->tool_completed = op->id;
  *out = res;
  return 0;
}

/* ---- resources: kv://{subject}/{path}[?version=N] ------------------- */

/* Percent-encode everything outside RFC 3986 "unreserved" so any
   subject (an e-mail, a certificate DN) is a valid URI authority. */
static char *uri_encode(struct vmb_arena *a, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s), i, o = 0;
  char *out = vmb_arena_alloc(a, n * 3 + 1);
  if(!out)
    return NULL;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
       c == '-' || c == '.' || c == '_' || c == '~') {
      out[o++] = (char)c;
    }
    else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
  return out;
}

static const char *subject_root(struct rpc *r)
{
  const char *enc = uri_encode(r->req->arena, r->req->identity.subject);
  return enc ? vmb_arena_printf(r->req->arena, "kv://%s/", enc) : NULL;
}

static int m_resources_list(struct rpc *r, json_object *params, json_object **out)
{
  json_object *res, *list, *item;
  const char *root = subject_root(r);
  if(check_no_cursor(r, params))
    return -1;
  if(!root)
    return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");
  res = json_object_new_object();
  list = json_object_new_array();
  item = json_object_new_object();
  jadd(item, "uri", jstr(root));
  jadd(item, "name", jstr("secrets"));
  jadd(item, "title", jstr(vmb_arena_printf(r->req->arena, "Secrets of %s",
                                            r->req->identity.subject)));
  jadd(item, "description", jstr(
    "The caller's KV namespace. Reading this URI lists its keys as "
    "{\"keys\":[...]} (folders end in /); read kv://<subject>/<path> for "
    "one secret as {\"data\":{...},\"version\":N}, optionally ?version=N."));
  jadd(item, "mimeType", jstr("application/json"));
  jpush(list, item);
  jadd(res, "resources", list);
  *out = res;
  return 0;
}

static int m_templates_list(struct rpc *r, json_object *params, json_object **out)
{
  json_object *res, *list, *item;
  if(check_no_cursor(r, params))
    return -1;
  res = json_object_new_object();
  list = json_object_new_array();
  item = json_object_new_object();
  jadd(item, "uriTemplate", jstr("kv://{subject}/{+path}"));
  jadd(item, "name", jstr("secret"));
  jadd(item, "title", jstr("A secret by path"));
  jadd(item, "description", jstr(vmb_arena_printf(r->req->arena,
    "One secret of the caller's namespace as {\"data\":{...},\"version\":N}; "
    "subject must be your own (%s, percent-encoded); a path ending in / "
    "lists a folder; append ?version=N for an older version.",
    r->req->identity.subject)));
  jadd(item, "mimeType", jstr("application/json"));
  jpush(list, item);
  jadd(res, "resourceTemplates", list);
  *out = res;
  return 0;
}

/* A decoded KV path from a URI: relative, no empty, "." or ".."
   segments, no control characters. The KV handler checks again; this
   keeps nonsense from ever reaching the gate. */
static bool uri_path_ok(const char *p)
{
  const char *seg = p;
  for(;; p++) {
    if(*p == '/' || *p == '\0') {
      size_t n = (size_t)(p - seg);
      if(*p == '/' && n == 0)
        return false;
      if((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        return false;
      if(*p == '\0')
        return true;
      seg = p + 1;
    }
    else if((unsigned char)*p < 0x20 || *p == 0x7f) {
      return false;
    }
  }
}

/* Map a gate failure to a JSON-RPC error for resources/read: not found
   is MCP's VMB_RPC_RESOURCE_NOT_FOUND; bad input VMB_RPC_INVALID_PARAMS; anything else VMB_RPC_INTERNAL_ERROR with the wire
   name in data so a client can tell "forbidden" from "vault down". */
static int resource_fail(struct rpc *r, enum vmb_err err, const char *detail,
                         const char *uri)
{
  json_object *data = json_object_new_object();
  jadd(data, "uri", jstr(uri));
  jadd(data, "error", jstr(vmb_err_name(err)));
  r->data = data;
  /* 2026-07-28 moved "not found" to -32602 (and forbids -32002). */
  if(err == VMB_ERR_NOT_FOUND)
    return fail(r, r->modern ? VMB_RPC_INVALID_PARAMS : VMB_RPC_RESOURCE_NOT_FOUND, "Resource not found");
  if(vmb_err_jsonrpc_code(err) == VMB_RPC_INVALID_PARAMS)
    return fail(r, VMB_RPC_INVALID_PARAMS, detail);
  return fail(r, VMB_RPC_INTERNAL_ERROR, detail);
}

static int resources_read(struct rpc *r, json_object *params, json_object **out);

/* Every refusal of a URI names it in data.uri, so a client can tell
   which read failed (SEP-2164 asks it for "not found"). */
static int m_resources_read(struct rpc *r, json_object *params, json_object **out)
{
  json_object *juri = member(params, "uri", json_type_string);
  int rc = resources_read(r, params, out);
  if(rc && !r->data && juri) {
    r->data = json_object_new_object();
    jadd(r->data, "uri", json_object_get(juri));
  }
  return rc;
}

static int resources_read(struct rpc *r, json_object *params, json_object **out)
{
  json_object *juri = member(params, "uri", json_type_string);
  const char *uri, *auth, *pstart, *q, *subject, *path;
  const struct vmb_op *op;
  json_object *args, *result = NULL, *doc, *res, *contents, *item, *v;
  const char *detail;
  enum vmb_err err;
  long version = 0;
  bool listing;

  if(!juri)
    return fail(r, VMB_RPC_INVALID_PARAMS, "resources/read needs params.uri (a string)");
  uri = json_object_get_string(juri);
  if(strlen(uri) != (size_t)json_object_get_string_len(juri) || strlen(uri) > 2048)
    return fail(r, VMB_RPC_INVALID_PARAMS, "the URI is not acceptable");
  if(strncasecmp(uri, "kv://", 5))
    return failf(r, VMB_RPC_INVALID_PARAMS, "unsupported URI (expected kv://<subject>/<path>): %.200s", uri);
  if(strchr(uri, '#'))
    return fail(r, VMB_RPC_INVALID_PARAMS, "kv:// URIs take no fragment");
  auth = uri + 5;
  pstart = auth + strcspn(auth, "/?");
  subject = vmb_pct_decode(r->req->arena, auth, (size_t)(pstart - auth), false);
  if(!subject)
    return fail(r, VMB_RPC_INVALID_PARAMS, "the URI's subject is badly percent-encoded");
  if(strcmp(subject, r->req->identity.subject))
    return fail(r, VMB_RPC_INVALID_PARAMS, "this URI names another subject: only your own "
                "kv://<subject>/ resources may be read");
  if(*pstart == '/')
    pstart++;
  q = strchr(pstart, '?');
  path = vmb_pct_decode(r->req->arena, pstart, q ? (size_t)(q - pstart) : strlen(pstart),
                        false);
  if(!path)
    return fail(r, VMB_RPC_INVALID_PARAMS, "the URI's path is badly percent-encoded");
  listing = path[0] == '\0' || path[strlen(path) - 1] == '/';
  if(q) {
    const char *qs = q + 1;
    if(strncmp(qs, "version=", 8) || listing ||
       vmb_parse_long(qs + 8, 1, 2147483647L, &version))
      return fail(r, VMB_RPC_INVALID_PARAMS, "the only query parameter is version=N (N >= 1), "
                  "for a secret (not a folder)");
  }
  {
    /* Check the path without its trailing slash. */
    size_t n = strlen(path);
    char *check = vmb_arena_strndup(r->req->arena, path, listing && n ? n - 1 : n);
    if(!check || (check[0] && !uri_path_ok(check)))
      return fail(r, VMB_RPC_INVALID_PARAMS, "the URI's path is not a valid secret path");
  }

  op = vmb_tool_find(listing ? "kv.list" : "kv.read");
  if(!op)
    return fail(r, VMB_RPC_INTERNAL_ERROR, "the KV operations are not available on this server");
  args = json_object_new_object();
  if(!args || vmb_arena_defer(r->req->arena, json_put, args))
    return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");
  if(listing) {
    if(path[0])
      jadd(args, "prefix", jstr(path));
  }
  else {
    jadd(args, "path", jstr(path));
    if(version)
      jadd(args, "version", json_object_new_int64(version));
  }
  err = run_op(r, op, args, &result, &detail);
  if(err != VMB_ERR_OK)
    return resource_fail(r, err, detail, uri);

  /* Reshape the operation result into the resource document of SPEC
     section 5: {data, version} for a secret, {keys} for a folder. */
  doc = json_object_new_object();
  if(listing) {
    v = member(result, "keys", json_type_array);
    jadd(doc, "keys", v ? json_object_get(v) : json_object_new_array());
  }
  else {
    json_object *meta = member(result, "metadata", json_type_object);
    v = NULL;
    json_object_object_get_ex(result, "data", &v);
    jadd(doc, "data", v ? json_object_get(v) : json_object_new_object());
    v = NULL;
    if(!json_object_object_get_ex(result, "version", &v) || !v)
      v = member(meta, "version", json_type_int);
    json_object_object_add(doc, "version", v ? json_object_get(v) : NULL);
  }
  json_object_put(result);

  res = json_object_new_object();
  contents = json_object_new_array();
  item = json_object_new_object();
  jadd(item, "uri", jstr(uri));
  jadd(item, "mimeType", jstr("application/json"));
  jadd(item, "text", jstr(text_of(doc)));
  json_object_put(doc);
  jpush(contents, item);
  jadd(res, "contents", contents);
  *out = res;
  return 0;
}

/* ---- prompts -------------------------------------------------------- */

struct prompt_arg {
  const char *name;
  const char *description;
  bool required;
};

struct prompt {
  const char *name;
  const char *title;
  const char *description;
  const char *tool;           /* the operation the prompt suggests */
  struct prompt_arg args[4];  /* terminated by name NULL */
};

static const struct prompt prompts[] = {
  {"kv_read", "Read a secret",
   "Ask the assistant to read one secret of your namespace with the kv_read (kv.read) tool.",
   "kv.read",
   {{"path", "Secret path relative to your namespace, e.g. app/db", true},
    {"version", "Version number to read; the latest when omitted", false},
    {0}}},
  {"kv_write", "Write a secret",
   "Ask the assistant to store key/value pairs at a path with the kv_write (kv.write) tool.",
   "kv.write",
   {{"path", "Secret path relative to your namespace, e.g. app/db", true},
    {"data", "The key/value pairs as a JSON object, e.g. {\"user\":\"app\"}", true},
    {"cas", "Check-and-set: 0 = only create; N = only if the current version is N", false},
    {0}}},
};
#define N_PROMPTS (sizeof(prompts) / sizeof(prompts[0]))

/* A prompt is offered when its tool exists and the caller may use it,
   the same rule tools/list follows. */
static bool prompt_usable(const struct rpc *r, const struct prompt *p)
{
  const struct vmb_op *op = vmb_tool_find(p->tool);
  return op && caller_may(r->req, op);
}

static int m_prompts_list(struct rpc *r, json_object *params, json_object **out)
{
  json_object *res, *list;
  size_t i;
  if(check_no_cursor(r, params))
    return -1;
  res = json_object_new_object();
  list = json_object_new_array();
  for(i = 0; i < N_PROMPTS; i++) {
    const struct prompt *p = &prompts[i];
    const struct prompt_arg *a;
    json_object *item, *args;
    if(!prompt_usable(r, p))
      continue;
    item = json_object_new_object();
    args = json_object_new_array();
    jadd(item, "name", jstr(p->name));
    jadd(item, "title", jstr(p->title));
    jadd(item, "description", jstr(p->description));
    for(a = p->args; a->name; a++) {
      json_object *ja = json_object_new_object();
      jadd(ja, "name", jstr(a->name));
      jadd(ja, "description", jstr(a->description));
      jadd(ja, "required", json_object_new_boolean(a->required));
      jpush(args, ja);
    }
    jadd(item, "arguments", args);
    jpush(list, item);
  }
  jadd(res, "prompts", list);
  *out = res;
  return 0;
}

/* Prompt argument value as text; MCP prompt arguments are strings. */
static const char *prompt_value(json_object *args, const char *name)
{
  json_object *v = member(args, name, json_type_string);
  return v ? json_object_get_string(v) : NULL;
}

static int m_prompts_get(struct rpc *r, json_object *params, json_object **out)
{
  json_object *name = member(params, "name", json_type_string);
  json_object *args = NULL, *targs, *res, *msgs, *msg, *content, *suggest;
  const struct prompt *p = NULL;
  const struct prompt_arg *a;
  const char *path, *text, *tool_name;
  size_t i;

  if(!name)
    return fail(r, VMB_RPC_INVALID_PARAMS, "prompts/get needs params.name (a string)");
  for(i = 0; i < N_PROMPTS; i++)
    if(!strcmp(prompts[i].name, json_object_get_string(name)) && prompt_usable(r, &prompts[i]))
      p = &prompts[i];
  if(!p)
    return failf(r, VMB_RPC_INVALID_PARAMS, "Unknown prompt: %.128s", json_object_get_string(name));
  if(params && json_object_object_get_ex(params, "arguments", &args) && args &&
     !json_object_is_type(args, json_type_object))
    return fail(r, VMB_RPC_INVALID_PARAMS, "params.arguments must be an object of strings");
  if(args) {
    json_object_object_foreach(args, k, v) {
      bool known = false;
      for(a = p->args; a->name; a++)
        known = known || !strcmp(a->name, k);
      if(!known)
        return failf(r, VMB_RPC_INVALID_PARAMS, "unknown argument '%.64s'", k);
      if(!json_object_is_type(v, json_type_string))
        return failf(r, VMB_RPC_INVALID_PARAMS, "argument '%.64s' must be a string", k);
    }
  }
  for(a = p->args; a->name; a++)
    if(a->required && !(prompt_value(args, a->name) && *prompt_value(args, a->name)))
      return failf(r, VMB_RPC_INVALID_PARAMS, "missing required argument '%s'", a->name);

  /* The suggested call, with values converted to the tool's types and
     checked the way tools/call would check them. */
  targs = json_object_new_object();
  if(!targs || vmb_arena_defer(r->req->arena, json_put, targs))
    return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");
  path = prompt_value(args, "path");
  jadd(targs, "path", jstr(path));
  for(a = p->args; a->name; a++) {
    const char *val = prompt_value(args, a->name);
    long n;
    if(!val || !strcmp(a->name, "path"))
      continue;
    if(!strcmp(a->name, "data")) {
      json_object *d = vmb_json_parse(val, strlen(val), VMB_MCP_JSON_DEPTH);
      if(!d || !json_object_is_type(d, json_type_object)) {
        json_object_put(d);
        return fail(r, VMB_RPC_INVALID_PARAMS, "argument 'data' must be a JSON object");
      }
      jadd(targs, "data", d);
    }
    else {
      if(vmb_parse_long(val, 0, 2147483647L, &n))
        return failf(r, VMB_RPC_INVALID_PARAMS, "argument '%s' must be a whole number", a->name);
      jadd(targs, a->name, json_object_new_int64(n));
    }
  }
  {
    const struct vmb_op *op = vmb_tool_find(p->tool);
    const char *detail = NULL;
    if(vmb_args_validate(op, targs, r->req->arena, &detail) != VMB_ERR_OK)
      return fail(r, VMB_RPC_INVALID_PARAMS, detail ? detail : "invalid arguments");
  }

  tool_name = vmb_mcp_tool_name(r->req, vmb_tool_find(p->tool));
  if(!strcmp(p->name, "kv_read"))
    text = vmb_arena_printf(r->req->arena,
      "Read the secret at path \"%s\"%s%s of my Vault namespace with the %s "
      "tool, then tell me which keys it holds and its version. Do not repeat the "
      "secret values unless I ask for them.",
      path, prompt_value(args, "version") ? " version " : "",
      prompt_value(args, "version") ? prompt_value(args, "version") : "", tool_name);
  else
    text = vmb_arena_printf(r->req->arena,
      "Store these key/value pairs at path \"%s\" of my Vault namespace with the "
      "%s tool%s, then report the new version: %s",
      path, tool_name, prompt_value(args, "cas") ? " (check-and-set as given)" : "",
      text_of(json_object_object_get(targs, "data")));
  if(!text)
    return fail(r, VMB_RPC_INTERNAL_ERROR, "internal error");

  res = json_object_new_object();
  msgs = json_object_new_array();
  msg = json_object_new_object();
  content = json_object_new_object();
  jadd(content, "type", jstr("text"));
  jadd(content, "text", jstr(text));
  jadd(msg, "role", jstr("user"));
  jadd(msg, "content", content);
  jpush(msgs, msg);
  jadd(res, "description", jstr(p->description));
  jadd(res, "messages", msgs);
  suggest = json_object_new_object();
  jadd(suggest, "name", jstr(tool_name));
  jadd(suggest, "arguments", json_object_get(targs));
  jadd(res, "suggested_tool", suggest);
  *out = res;
  return 0;
}

/* ---- dispatch ------------------------------------------------------- */

typedef int (*method_fn)(struct rpc *r, json_object *params, json_object **out);

static const struct {
  const char *name;
  method_fn fn;
} methods[] = {
  {"initialize", m_initialize},
  {"ping", m_empty},
  {"tools/list", m_tools_list},
  {"tools/call", m_tools_call},
  {"resources/list", m_resources_list},
  {"resources/templates/list", m_templates_list},
  {"resources/read", m_resources_read},
  {"resources/get", m_resources_read},
  {"prompts/list", m_prompts_list},
  {"prompts/get", m_prompts_get},
  {"logging/setLevel", m_set_level},
  {"shutdown", m_shutdown},
};

static method_fn find_method(const char *name)
{
  size_t i;
  for(i = 0; i < sizeof(methods) / sizeof(*methods); i++)
    if(!strcmp(methods[i].name, name))
      return methods[i].fn;
  return NULL;
}

/* MCP ids are strings or integers. json-c clamps integers that do not
   fit in 64 bits instead of failing, so an id at either clamp value
   might not be the one the client sent: refuse it rather than answer
   to a different id. */
static bool id_ok(json_object *id)
{
  if(json_object_is_type(id, json_type_string))
    return json_object_get_string_len(id) <= 1024;
  if(json_object_is_type(id, json_type_int)) {
    int64_t v = json_object_get_int64(id);
    return v != INT64_MAX && v != INT64_MIN;
  }
  return false;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
   above U+10FFFF. */
static bool utf8_ok(const char *text, size_t len)
{
  const unsigned char *p = (const unsigned char *)text, *end = p + len;
  while(p < end) {
    unsigned c = *p;
    size_t n, k;
    unsigned cp, min;
    if(c < 0x80) {
      p++;
      continue;
    }
    if(c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; min = 0x80; }
    else if(c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; min = 0x800; }
    else if(c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if((size_t)(end - p) <= n)
      return false;
    for(k = 1; k <= n; k++) {
      if((p[k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[k] & 0x3f);
    }
    if(cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    p += n + 1;
  }
  return true;
}

/* json-c represents a parsed `null` as a NULL object, which looks like a
   parse failure: tell the two apart so `null` gets "invalid request". */
static bool is_json_null(const char *text, size_t len)
{
  size_t i = 0, j = len;
  while(i < len && strchr(" \t\r\n", text[i]))
    i++;
  while(j > i && strchr(" \t\r\n", text[j - 1]))
    j--;
  return j - i == 4 && !memcmp(text + i, "null", 4);
}

static void log_rejected(struct vmb_request *req, const char *why)
{
  json_object *f = json_object_new_object();
  jadd(f, "request_id", jstr(req->request_id));
  jadd(f, "subject", jstr(req->identity.subject));
  jadd(f, "reason", jstr(why));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "mcp", "message rejected", f);
  json_object_put(f);
}

static enum vmb_mcp_outcome reject(struct vmb_request *req, json_object **reply,
                                   int code, const char *message)
{
  log_rejected(req, message);
  *reply = vmb_mcp_error(NULL, code, message, NULL);
  return VMB_MCP_REJECTED;
}

/* reject() for a message whose id could be read: the error names it
   (2026-07-28 "Error Responses": the same id unless it could not be
   read). Still an invalid message (HTTP 400). */
static enum vmb_mcp_outcome reject_id(struct vmb_request *req, json_object **reply,
                                      json_object *id, int code, const char *message)
{
  log_rejected(req, message);
  *reply = vmb_mcp_error(id, code, message, NULL);
  return VMB_MCP_REJECTED;
}

/* A 2026-07-28 request: envelope checks, the method, the decorations.
   id is BORROWED. */
static enum vmb_mcp_outcome dispatch_modern(struct vmb_request *req, const char *via,
                                            const struct vmb_mcp_in *in, json_object *id,
                                            const char *method, json_object *params,
                                            json_object **reply, struct vmb_mcp_meta *meta)
{
  json_object *data = NULL, *result = NULL;
  const char *message = NULL;
  struct rpc r;
  method_fn fn;
  int code = 0, status = 0;

  meta->modern = true;
  if(vmb_mcp_modern_check(req, in, method, params, &code, &message, &data, &status)) {
    log_rejected(req, message);
    meta->http_status = status;
    *reply = vmb_mcp_error(id, code, message, data);
    return VMB_MCP_REPLY;
  }
  if(!strcmp(method, "server/discover")) {
    result = vmb_mcp_discover_result();
  }
  else if(!strcmp(method, "subscriptions/listen")) {
    if(vmb_mcp_listen_ack(id, params, &meta->listen_tool_events, reply, &message)) {
      meta->http_status = 400;
      *reply = vmb_mcp_error(id, -32602, message, NULL);
      return VMB_MCP_REPLY;
    }
    meta->listen_id = id;
    return VMB_MCP_LISTEN;
  }
  else {
    fn = find_method(method);
    memset(&r, 0, sizeof(r));
    r.req = req;
    r.via = via;
    r.modern = true;
    if(!fn) {
      meta->http_status = 404;
      *reply = vmb_mcp_error(id, -32601, "Method not found", NULL);
      return VMB_MCP_REPLY;
    }
    if(fn(&r, params, &result)) {
      meta->http_status = vmb_mcp_modern_error_status(r.code);
      *reply = vmb_mcp_error(id, r.code, r.message ? r.message : "error", r.data);
      return VMB_MCP_REPLY;
    }
    meta->tool_completed = r.tool_completed;
  }
  if(!result) {
    *reply = vmb_mcp_error(id, -32603, "internal error", NULL);
    return VMB_MCP_REPLY;
  }
  vmb_mcp_modern_finish(method, result);
  *reply = rpc_result(id, result);
  if(!*reply)
    *reply = vmb_mcp_error(id, -32603, "internal error", NULL);
  return VMB_MCP_REPLY;
}

enum vmb_mcp_outcome vmb_mcp_dispatch(struct vmb_request *req, const char *via,
                                      const struct vmb_mcp_in *in,
                                      const char *text, size_t len,
                                      json_object **reply, struct vmb_mcp_meta *meta)
{
  json_object *msg, *jv, *jmethod, *id = NULL, *params = NULL, *result = NULL;
  const char *method;
  struct rpc r;
  method_fn fn;
  bool has_id;

  *reply = NULL;
  memset(meta, 0, sizeof(*meta));
  /* json-c passes invalid UTF-8 through inside strings; we would echo
     it (an id, a tool name) into replies that are then not valid JSON
     text for the client. JSON-RPC is UTF-8: refuse anything else. */
  msg = utf8_ok(text, len) ? vmb_json_parse(text, len, VMB_MCP_JSON_DEPTH) : NULL;
  if(!msg && is_json_null(text, len))
    return reject(req, reply, VMB_RPC_INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a "
                  "JSON object");
  if(!msg)
    return reject(req, reply, VMB_RPC_PARSE_ERROR, "Parse error: the body is not one valid JSON "
                  "value (UTF-8, strict syntax, nesting at most 64 deep)");
  if(vmb_arena_defer(req->arena, json_put, msg))
    return reject(req, reply, VMB_RPC_INTERNAL_ERROR, "internal error");
  if(json_object_is_type(msg, json_type_array))
    return reject(req, reply, VMB_RPC_INVALID_REQUEST, "Invalid Request: batch arrays are not "
                  "supported (MCP 2025-06-18 removed JSON-RPC batching); send one "
                  "message per request");
  if(!json_object_is_type(msg, json_type_object))
    return reject(req, reply, VMB_RPC_INVALID_REQUEST, "Invalid Request: a JSON-RPC message is a "
                  "JSON object");
  has_id = json_object_object_get_ex(msg, "id", &id);
  if(has_id && !id)
    return reject(req, reply, VMB_RPC_INVALID_REQUEST, "Invalid Request: id must not be null");
  if(has_id && !id_ok(id))
    return reject(req, reply, VMB_RPC_INVALID_REQUEST, "Invalid Request: id must be a string or an "
                  "integer that fits in 64 bits");
  jv = member(msg, "jsonrpc", json_type_string);
  if(!jv || strcmp(json_object_get_string(jv), "2.0"))
    return reject_id(req, reply, id, VMB_RPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");

  if(!json_object_object_get_ex(msg, "method", &jmethod)) {
    /* A response to a request of ours. We send none, so there is
       nothing to match it with: accept it and move on. */
    if(has_id && (json_object_object_get_ex(msg, "result", NULL) ||
                  json_object_object_get_ex(msg, "error", NULL)))
      return VMB_MCP_ACCEPTED;
    return reject_id(req, reply, id, VMB_RPC_INVALID_REQUEST, "Invalid Request: no method");
  }
  if(!json_object_is_type(jmethod, json_type_string))
    return reject_id(req, reply, id, VMB_RPC_INVALID_REQUEST, "Invalid Request: method must be a string");
  method = json_object_get_string(jmethod);

  if(!has_id) {
    /* Notifications get no response of any kind, even when unknown or
       malformed (notifications/initialized, notifications/cancelled,
       ... carry nothing we need to act on: we hold no session). The
       stdio transport looks at notifications/cancelled itself. */
    return VMB_MCP_ACCEPTED;
  }

  if(json_object_object_get_ex(msg, "params", &params) && params &&
     !json_object_is_type(params, json_type_object)) {
    if(vmb_mcp_modern_wanted(in, method, NULL)) {
      meta->modern = true;
      meta->http_status = 400;
    }
    *reply = vmb_mcp_error(id, -32602, "Invalid params: params must be an object", NULL);
    return VMB_MCP_REPLY;
  }

  /* One endpoint, every revision: the request itself says which one
     (its _meta / MCP-Protocol-Version for 2026-07-28; legacy clients
     negotiated with initialize and send neither). */
  if(vmb_mcp_modern_wanted(in, method, params))
    return dispatch_modern(req, via, in, id, method, params, reply, meta);

  fn = find_method(method);
  if(!fn) {
    const char *m = vmb_arena_printf(req->arena, "Method not found: %.100s", method);
    *reply = vmb_mcp_error(id, -32601, m ? m : "Method not found", NULL);
    return VMB_MCP_REPLY;
  }

  memset(&r, 0, sizeof(r));
  r.req = req;
  r.via = via;
  r.shutdown = &meta->shutdown;
  if(fn(&r, params, &result)) {
    *reply = vmb_mcp_error(id, r.code, r.message ? r.message : "error", r.data);
    return VMB_MCP_REPLY;
  }
  meta->tool_completed = r.tool_completed;
  if(!result) {
    *reply = vmb_mcp_error(id, -32603, "internal error", NULL);
    return VMB_MCP_REPLY;
  }
  *reply = rpc_result(id, result);
  if(!*reply)
    *reply = vmb_mcp_error(id, -32603, "internal error", NULL);
  else if(fn == m_initialize)
    meta->initialized = true;
  return VMB_MCP_REPLY;
}

/* ---- the entry point for stdio -------------------------------------- */

/* Open subscriptions/listen requests of one stdio connection: their ids
   (own references) and whether they asked for tool events. A stdio
   subject is self-asserted, so these streams hear only of the tool calls
   made on this connection, never the host-wide bus. */
#define STDIO_SUBS 16

struct vmb_mcp_stdio {
  json_object *ids[STDIO_SUBS];
  bool tool_events[STDIO_SUBS];
};

struct vmb_mcp_stdio *vmb_mcp_stdio_new(void)
{
  return calloc(1, sizeof(struct vmb_mcp_stdio));
}

void vmb_mcp_stdio_free(struct vmb_mcp_stdio *st)
{
  size_t i;
  if(!st)
    return;
  for(i = 0; i < STDIO_SUBS; i++)
    json_object_put(st->ids[i]);
  free(st);
}

static bool same_id(json_object *a, json_object *b)
{
  if(!a || !b || json_object_get_type(a) != json_object_get_type(b))
    return false;
  if(json_object_is_type(a, json_type_string))
    return !strcmp(json_object_get_string(a), json_object_get_string(b));
  return json_object_get_int64(a) == json_object_get_int64(b);
}

/* Append one message to the reply lines (newline separated). */
static void add_line(struct vmb_request *req, const char **out, json_object *doc)
{
  const char *t = doc ? text_of(doc) : NULL;
  if(!t)
    return;
  *out = *out ? vmb_arena_printf(req->arena, "%s\n%s", *out, t) : vmb_arena_strdup(req->arena, t);
}

/* notifications/cancelled naming one of our subscriptions ends it. */
static void stdio_cancel(struct vmb_mcp_stdio *st, const char *text, size_t len)
{
  json_object *msg = vmb_json_parse(text, len, VMB_MCP_JSON_DEPTH), *m, *p, *rid;
  size_t i;
  if(msg && json_object_is_type(msg, json_type_object) &&
     (m = member(msg, "method", json_type_string)) &&
     !strcmp(json_object_get_string(m), "notifications/cancelled") &&
     (p = member(msg, "params", json_type_object)) &&
     json_object_object_get_ex(p, "requestId", &rid))
    for(i = 0; i < STDIO_SUBS; i++)
      if(st->ids[i] && same_id(st->ids[i], rid)) {
        json_object_put(st->ids[i]);
        st->ids[i] = NULL;
      }
  json_object_put(msg);
}

const char *vmb_mcp_stdio_handle(struct vmb_mcp_stdio *st, struct vmb_request *req,
                                 const char *text, size_t len, bool *shutdown)
{
  json_object *reply = NULL;
  const char *out = NULL;
  struct vmb_mcp_meta meta;
  enum vmb_mcp_outcome oc;
  size_t i;

  if(!req->request_id[0] && vmb_request_id_hex(req->request_id))
    snprintf(req->request_id, sizeof(req->request_id), "%032d", 0);
  if(!req->correlation_id[0])
    snprintf(req->correlation_id, sizeof(req->correlation_id), "%s", req->request_id);
  oc = vmb_mcp_dispatch(req, "stdio", NULL, text, len, &reply, &meta);
  if(shutdown && meta.shutdown)
    *shutdown = true;
  if(oc == VMB_MCP_ACCEPTED) {
    json_object_put(reply);
    if(st)
      stdio_cancel(st, text, len);
    return NULL;
  }
  if(oc == VMB_MCP_LISTEN) {
    /* The acknowledgement is the first message of the subscription; its
       response comes only when we end it (shutdown). */
    for(i = 0; st && i < STDIO_SUBS && st->ids[i]; i++)
      ;
    if(!st || i == STDIO_SUBS) {
      json_object_put(reply);
      reply = vmb_mcp_error(meta.listen_id, VMB_RPC_INTERNAL_ERROR, vmb_arena_printf(req->arena,
                            "at most %d subscriptions are open at a time", STDIO_SUBS),
                            NULL);
    }
    else {
      st->ids[i] = json_object_get(meta.listen_id);
      st->tool_events[i] = meta.listen_tool_events;
    }
  }
  add_line(req, &out, reply);
  json_object_put(reply);
  if(st && meta.tool_completed) {
    for(i = 0; i < STDIO_SUBS; i++)
      if(st->ids[i] && st->tool_events[i]) {
        json_object *ev = vmb_mcp_tool_event(st->ids[i], meta.tool_completed,
                                             req->identity.subject, vmb_now(), 0);
        add_line(req, &out, ev);
        json_object_put(ev);
      }
  }
  if(st && meta.shutdown) {
    /* The server ends every subscription gracefully before it exits. */
    for(i = 0; i < STDIO_SUBS; i++)
      if(st->ids[i]) {
        json_object *end = vmb_mcp_listen_closed(st->ids[i]);
        add_line(req, &out, end);
        json_object_put(end);
        json_object_put(st->ids[i]);
        st->ids[i] = NULL;
      }
  }
  /* Out of memory while serialising: still answer something parseable. */
  return out ? out : "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                     "\"message\":\"internal error\"}}";
}

const char *vmb_mcp_handle_text(struct vmb_request *req, const char *via,
                                const char *text, size_t len, bool *shutdown)
{
  (void)via;
  return vmb_mcp_stdio_handle(NULL, req, text, len, shutdown);
}

/* ---- life cycle ----------------------------------------------------- */

int vmb_mcp_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  conf.cors_allow_origins = cfg->cors_allow_origins;
  conf.tool_names_dotted = cfg->mcp_tool_names_dotted;
  if(vmb_mcp_http_init(cfg, err, errlen) || vmb_mcp_modern_init(cfg, err, errlen) ||
     vmb_mcp_park_init(cfg, err, errlen))
    return -1;
  return vmb_mcp_bus_init(cfg, err, errlen);
}

void vmb_mcp_cleanup(void)
{
  vmb_mcp_bus_cleanup();
}
