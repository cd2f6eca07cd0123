/*
** mcp_modern.c - the rules of MCP revision 2026-07-28, the stateless one
** (docs/mcp.md "2026-07-28"). mcp.c parses each message and runs the
** methods for every revision; this file decides whether a request is a
** 2026-07-28 one and, for those, checks the envelope before the method
** runs and decorates the result after it:
**
**   - the MCP request headers against the body on HTTP (Mcp-Method,
**     Mcp-Name with the =?base64?...?= form, MCP-Protocol-Version), with
**     HeaderMismatch (-32020, HTTP 400);
**   - _meta: io.modelcontextprotocol/protocolVersion (string) and
**     clientCapabilities (object) required, clientInfo and logLevel
**     checked when present (-32602, HTTP 400);
**   - the version (UnsupportedProtocolVersion -32022 with
**     data.supported/requested, HTTP 400);
**   - methods 2026-07-28 removed or never had (-32601, HTTP 404);
**   - results: resultType, _meta serverInfo, ttlMs/cacheScope;
**   - server/discover and subscriptions/listen documents.
**
** Nothing here keeps state between requests: any worker of any host can
** serve any 2026-07-28 request. Pure functions over the message; json
** ownership as in mcp.c (NEW / BORROWED stated per function).
*/
#include "mcp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"
#include "vmb/arena.h"
#include "vmb/version.h"

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_INFO "io.modelcontextprotocol/clientInfo"
#define META_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVER "io.modelcontextprotocol/serverInfo"
#define META_SUB "io.modelcontextprotocol/subscriptionId"

/* Our own subscription filter key and notification (docs/mcp.md): the
   spec's filter has no event for "a tool call finished", and a server
   MUST NOT send types the client did not ask for, so the client opts in
   under a prefixed key. */
#define FILTER_TOOL_EVENTS "vmb/toolCompleted"
#define METHOD_TOOL_EVENT "notifications/vmb/tool_completed"

/* The settings this file reads, taken at start-up (vmb_mcp_modern_init). */
static struct {
  long list_ttl_ms;                 /* MCP_LIST_TTL_MS */
} conf = {.list_ttl_ms = 300000};

int vmb_mcp_modern_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.list_ttl_ms = cfg->mcp_list_ttl_ms;
  return 0;
}

/* Methods served under 2026-07-28, and whether the Mcp-Name header
   mirrors params.name or params.uri. */
static const struct {
  const char *method;
  const char *name_field;     /* NULL: no Mcp-Name */
  bool cacheable;
  bool cache_public;
} modern_methods[] = {
  {"server/discover", NULL, true, true},
  {"tools/list", NULL, true, false},
  {"tools/call", "name", false, false},
  {"resources/list", NULL, true, false},
  {"resources/templates/list", NULL, true, false},
  {"resources/read", "uri", true, false},
  {"prompts/list", NULL, true, false},
  {"prompts/get", "name", false, false},
  {"subscriptions/listen", NULL, false, false},
};
#define N_MODERN (sizeof(modern_methods) / sizeof(modern_methods[0]))

static int modern_index(const char *method)
{
  size_t i;
  for(i = 0; i < N_MODERN; i++)
    if(!strcmp(modern_methods[i].method, method))
      return (int)i;
  return -1;
}

static void jadd(json_object *obj, const char *key, json_object *val)
{
  if(!obj || !val || json_object_object_add(obj, key, val))
    json_object_put(val);
}

static json_object *member(json_object *obj, const char *key, json_type type)
{
  json_object *v = NULL;
  if(!obj || !json_object_object_get_ex(obj, key, &v) || !v ||
     !json_object_is_type(v, type))
    return NULL;
  return v;
}

json_object *vmb_mcp_versions_json(void)
{
  json_object *a = json_object_new_array();
  if(a) {
    json_object_array_add(a, json_object_new_string(VMB_MCP_MODERN_VERSION));
    json_object_array_add(a, json_object_new_string("2025-11-25"));
    json_object_array_add(a, json_object_new_string("2025-06-18"));
  }
  return a;
}

bool vmb_mcp_modern_wanted(const struct vmb_mcp_in *in, const char *method,
                           json_object *params)
{
  json_object *meta = member(params, "_meta", json_type_object);
  /* A header naming a revision we do not speak gets the 2026-07-28
     answer (VMB_RPC_UNSUPPORTED_VERSION with the request id), which every client era reads. */
  if(in && in->protocol_version &&
     (!strcmp(in->protocol_version, VMB_MCP_MODERN_VERSION) ||
      !vmb_mcp_version_supported(in->protocol_version)))
    return true;
  if(meta && json_object_object_get_ex(meta, META_VERSION, NULL))
    return true;
  /* Methods that exist only in 2026-07-28: a stdio probe, or a client
     that forgot its _meta, is told what is missing. */
  return !strcmp(method, "server/discover") || !strcmp(method, "subscriptions/listen");
}

/* ---- header values ---------------------------------------------------- */

/* A header value with optional whitespace (RFC 9110 OWS) around it
   removed; arena string. NULL when absent. */
static const char *trim_ows(struct vmb_request *req, const char *v)
{
  size_t n;
  if(!v)
    return NULL;
  while(*v == ' ' || *v == '\t')
    v++;
  n = strlen(v);
  while(n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  return vmb_arena_strndup(req->arena, v, n);
}

/* Visible ASCII and inner spaces/tabs only (RFC 9110 field value). */
static bool header_chars_ok(const char *v)
{
  for(; *v; v++)
    if(!((*v >= 0x21 && *v <= 0x7e) || *v == ' ' || *v == '\t'))
      return false;
  return true;
}

/* Decode the Base64 sentinel form "=?base64?...?=" into the arena.
   Returns the value unchanged when it is not in that form, NULL when
   the form is present but the payload is not valid base64 / has NUL. */
static const char *decode_sentinel(struct vmb_request *req, const char *v, size_t *outlen)
{
  size_t n = strlen(v), b64n;
  unsigned char *out;
  int got;
  if(n < 11 || strncmp(v, "=?base64?", 9) || strcmp(v + n - 2, "?=")) {
    *outlen = n;
    return v;
  }
  b64n = n - 11;
  if(b64n % 4 || b64n > 16384)
    return NULL;
  out = vmb_arena_alloc(req->arena, b64n / 4 * 3 + 1);
  if(!out)
    return NULL;
  got = EVP_DecodeBlock(out, (const unsigned char *)v + 9, (int)b64n);
  if(got < 0)
    return NULL;
  /* EVP_DecodeBlock counts the padding bytes as zeros: drop them. */
  if(b64n >= 1 && v[9 + b64n - 1] == '=')
    got--;
  if(b64n >= 2 && v[9 + b64n - 2] == '=')
    got--;
  out[got] = '\0';
  *outlen = (size_t)got;
  return (const char *)out;
}

/* ---- the envelope check ------------------------------------------------ */

static int refuse(int *code, const char **message, int *status, int c, int st,
                  const char *m)
{
  *code = c;
  *message = m;
  *status = st;
  return -1;
}

static bool is_level(const char *s)
{
  static const char *const levels[] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
  };
  size_t i;
  for(i = 0; i < sizeof(levels) / sizeof(*levels); i++)
    if(!strcmp(s, levels[i]))
      return true;
  return false;
}

int vmb_mcp_modern_check(struct vmb_request *req, const struct vmb_mcp_in *in,
                         const char *method, json_object *params, int *code,
                         const char **message, json_object **data, int *status)
{
  json_object *meta = member(params, "_meta", json_type_object), *v = NULL;
  const char *hv = in && in->http ? trim_ows(req, in->protocol_version) : NULL;
  const char *mv = NULL;
  int mi = modern_index(method);

  *data = NULL;
  /* 1. A header version we do not speak at all. */
  if(hv && !vmb_mcp_version_supported(hv)) {
    *data = json_object_new_object();
    jadd(*data, "supported", vmb_mcp_versions_json());
    jadd(*data, "requested", json_object_new_string(hv));
    return refuse(code, message, status, VMB_MCP_UNSUPPORTED_VERSION, 400,
                  vmb_arena_printf(req->arena, "Unsupported protocol version: "
                                   "MCP-Protocol-Version \"%.40s\" (supported: %s, "
                                   "2025-11-25, 2025-06-18)", hv, VMB_MCP_MODERN_VERSION));
  }

  /* 2. HTTP: the standard headers mirror the body (Streamable HTTP,
     "Server Validation"). Names are case-insensitive (the transport
     lower-cases them), values case-sensitive with OWS trimmed. */
  if(in && in->http) {
    const char *hm = trim_ows(req, in->method);
    if(!hm)
      return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                    "Header mismatch: the Mcp-Method header is required");
    if(!header_chars_ok(hm) || strcmp(hm, method))
      return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                    vmb_arena_printf(req->arena, "Header mismatch: Mcp-Method header "
                                     "value '%.100s' does not match body value '%.100s'",
                                     hm, method));
    if(mi >= 0 && modern_methods[mi].name_field) {
      json_object *bn = member(params, modern_methods[mi].name_field, json_type_string);
      const char *hn = trim_ows(req, in->name), *dec;
      size_t dlen = 0;
      if(bn && !hn)
        return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                      vmb_arena_printf(req->arena, "Header mismatch: the Mcp-Name "
                                       "header is required for %s", method));
      if(hn) {
        dec = header_chars_ok(hn) ? decode_sentinel(req, hn, &dlen) : NULL;
        if(!dec)
          return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                        "Header mismatch: the Mcp-Name header has invalid characters "
                        "or a bad =?base64?...?= value");
        if(!bn || dlen != (size_t)json_object_get_string_len(bn) ||
           memcmp(dec, json_object_get_string(bn), dlen))
          return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                        vmb_arena_printf(req->arena, "Header mismatch: Mcp-Name does "
                                         "not match params.%s",
                                         modern_methods[mi].name_field));
      }
    }
  }

  /* 3. _meta (Overview -> General fields -> _meta): malformed -> -32602. */
  if(!meta)
    return refuse(code, message, status, VMB_RPC_INVALID_PARAMS, 400,
                  "Invalid params: params._meta is required (with "
                  META_VERSION " and " META_CAPS ")");
  v = member(meta, META_VERSION, json_type_string);
  if(!v)
    return refuse(code, message, status, VMB_RPC_INVALID_PARAMS, 400,
                  "Invalid params: _meta[\"" META_VERSION "\"] must be a string");
  mv = json_object_get_string(v);
  if(!member(meta, META_CAPS, json_type_object))
    return refuse(code, message, status, VMB_RPC_INVALID_PARAMS, 400,
                  "Invalid params: _meta[\"" META_CAPS "\"] must be an object");
  if(json_object_object_get_ex(meta, META_INFO, &v)) {
    if(!json_object_is_type(v, json_type_object) || !member(v, "name", json_type_string) ||
       !member(v, "version", json_type_string))
      return refuse(code, message, status, VMB_RPC_INVALID_PARAMS, 400,
                    "Invalid params: _meta[\"" META_INFO "\"] must be an object with "
                    "name and version strings");
  }
  if(json_object_object_get_ex(meta, META_LEVEL, &v)) {
    if(!json_object_is_type(v, json_type_string) || !is_level(json_object_get_string(v)))
      return refuse(code, message, status, VMB_RPC_INVALID_PARAMS, 400,
                    "Invalid params: _meta[\"" META_LEVEL "\"] must be an RFC 5424 "
                    "level name (debug ... emergency)");
  }

  /* 4. Header and body must name the same version. */
  if(in && in->http && (!hv || strcmp(hv, mv)))
    return refuse(code, message, status, VMB_MCP_HEADER_MISMATCH, 400,
                  hv ? vmb_arena_printf(req->arena, "Header mismatch: MCP-Protocol-Version "
                                        "header value '%.40s' does not match _meta "
                                        "value '%.40s'", hv, mv)
                     : "Header mismatch: the MCP-Protocol-Version header is required");

  /* 5. Per-request versions: 2026-07-28 only (the older revisions
     negotiate with initialize instead). */
  if(strcmp(mv, VMB_MCP_MODERN_VERSION)) {
    *data = json_object_new_object();
    jadd(*data, "supported", vmb_mcp_versions_json());
    jadd(*data, "requested", json_object_new_string(mv));
    return refuse(code, message, status, VMB_MCP_UNSUPPORTED_VERSION, 400,
                  "Unsupported protocol version");
  }

  /* 6. Removed (initialize, ping, logging/setLevel, resources/subscribe,
     ...) and unknown methods: 404 with VMB_RPC_METHOD_NOT_FOUND (Protocol Version Header). */
  if(mi < 0)
    return refuse(code, message, status, VMB_RPC_METHOD_NOT_FOUND, 404,
                  vmb_arena_printf(req->arena, "Method not found: %.100s%s", method,
                                   !strcmp(method, "initialize") || !strcmp(method, "ping") ||
                                   !strcmp(method, "logging/setLevel") ||
                                   !strncmp(method, "resources/", 10) ?
                                   " (not part of MCP 2026-07-28)" : ""));
  return 0;
}

int vmb_mcp_modern_error_status(int code)
{
  if(code == VMB_RPC_METHOD_NOT_FOUND)
    return 404;
  if(code == VMB_MCP_HEADER_MISMATCH || code == VMB_MCP_UNSUPPORTED_VERSION ||
     code == VMB_MCP_MISSING_CLIENT_CAPABILITY || code == VMB_RPC_INVALID_REQUEST || code == VMB_RPC_PARSE_ERROR)
    return 400;
  return 200;
}

/* ---- results ------------------------------------------------------------ */

static json_object *server_info(void)
{
  json_object *info = json_object_new_object();
  jadd(info, "name", json_object_new_string("vault-mcp-bridge"));
  jadd(info, "title", json_object_new_string("Vault MCP Bridge"));
  jadd(info, "version", json_object_new_string(vmb_version()));
  return info;
}

void vmb_mcp_modern_finish(const char *method, json_object *result)
{
  json_object *meta = member(result, "_meta", json_type_object);
  int mi = modern_index(method);
  if(!result)
    return;
  jadd(result, "resultType", json_object_new_string("complete"));
  if(!meta) {
    meta = json_object_new_object();
    jadd(result, "_meta", meta);
    meta = member(result, "_meta", json_type_object);
  }
  jadd(meta, META_SERVER, server_info());
  if(mi >= 0 && modern_methods[mi].cacheable) {
    /* Secrets are never to be served from a cache: resources/read is
       immediately stale. Lists depend on the caller's scopes and name
       the caller (private); discover is the same for everyone. */
    long ttl = !strcmp(method, "resources/read") ? 0 :
               conf.list_ttl_ms;
    jadd(result, "ttlMs", json_object_new_int64(ttl));
    jadd(result, "cacheScope", json_object_new_string(
           modern_methods[mi].cache_public ? "public" : "private"));
  }
}

json_object *vmb_mcp_discover_result(void)
{
  json_object *res = json_object_new_object();
  jadd(res, "supportedVersions", vmb_mcp_versions_json());
  jadd(res, "capabilities", vmb_mcp_capabilities(true));
  jadd(res, "instructions", json_object_new_string(vmb_mcp_instructions()));
  return res;
}

/* ---- subscriptions/listen ----------------------------------------------- */

int vmb_mcp_listen_ack(json_object *id, json_object *params, bool *tool_events,
                       json_object **ack, const char **message)
{
  json_object *filter = NULL, *honoured, *p, *m, *v;
  *tool_events = false;
  *ack = NULL;
  if(!params || !json_object_object_get_ex(params, "notifications", &filter) ||
     !json_object_is_type(filter, json_type_object)) {
    *message = "Invalid params: subscriptions/listen needs params.notifications "
               "(an object)";
    return -1;
  }
  json_object_object_foreach(filter, k, val) {
    bool is_bool = json_object_is_type(val, json_type_boolean);
    if((!strcmp(k, "toolsListChanged") || !strcmp(k, "promptsListChanged") ||
        !strcmp(k, "resourcesListChanged") || !strcmp(k, FILTER_TOOL_EVENTS)) && !is_bool) {
      *message = "Invalid params: notification filter flags are booleans";
      return -1;
    }
    if(!strcmp(k, "resourceSubscriptions")) {
      size_t i, n;
      if(!json_object_is_type(val, json_type_array)) {
        *message = "Invalid params: resourceSubscriptions is an array of URIs";
        return -1;
      }
      n = json_object_array_length(val);
      for(i = 0; i < n; i++)
        if(!json_object_is_type(json_object_array_get_idx(val, i), json_type_string)) {
          *message = "Invalid params: resourceSubscriptions is an array of URIs";
          return -1;
        }
    }
  }
  /* The tools, prompts and resources of this server never change while
     it runs and no resource is watched, so only our own event type is
     honoured; the others are left out of the acknowledgement, as the
     spec says for unsupported types. */
  v = member(filter, FILTER_TOOL_EVENTS, json_type_boolean);
  *tool_events = v && json_object_get_boolean(v);
  honoured = json_object_new_object();
  if(*tool_events)
    jadd(honoured, FILTER_TOOL_EVENTS, json_object_new_boolean(1));
  m = json_object_new_object();
  jadd(m, META_SUB, json_object_get(id));
  p = json_object_new_object();
  jadd(p, "_meta", m);
  jadd(p, "notifications", honoured);
  *ack = json_object_new_object();
  jadd(*ack, "jsonrpc", json_object_new_string("2.0"));
  jadd(*ack, "method", json_object_new_string("notifications/subscriptions/acknowledged"));
  jadd(*ack, "params", p);
  if(!*ack || !p || !honoured || !m) {
    *message = "internal error";
    return -1;
  }
  return 0;
}

json_object *vmb_mcp_tool_event(json_object *id, const char *tool, const char *subject,
                                double ts, unsigned long long seq)
{
  json_object *doc = json_object_new_object(), *p = json_object_new_object(),
              *m = json_object_new_object();
  char tsbuf[48];
  vmb_format_ts(tsbuf, sizeof(tsbuf), ts);
  jadd(m, META_SUB, json_object_get(id));
  jadd(p, "_meta", m);
  jadd(p, "type", json_object_new_string("tool.completed"));
  jadd(p, "tool", json_object_new_string(tool));
  jadd(p, "subject", json_object_new_string(subject));
  jadd(p, "ts", json_object_new_string(tsbuf));
  if(seq)
    jadd(p, "seq", json_object_new_int64((int64_t)seq));
  jadd(doc, "jsonrpc", json_object_new_string("2.0"));
  jadd(doc, "method", json_object_new_string(METHOD_TOOL_EVENT));
  jadd(doc, "params", p);
  return doc;
}

json_object *vmb_mcp_listen_closed(json_object *id)
{
  json_object *doc = json_object_new_object(), *res = json_object_new_object(),
              *m = json_object_new_object();
  jadd(m, META_SUB, json_object_get(id));
  jadd(m, META_SERVER, server_info());
  jadd(res, "resultType", json_object_new_string("complete"));
  jadd(res, "_meta", m);
  jadd(doc, "jsonrpc", json_object_new_string("2.0"));
  json_object_object_add(doc, "id", json_object_get(id));
  jadd(doc, "result", res);
  return doc;
}
