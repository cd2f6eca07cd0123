/*
** gate.c - the gate: every request takes the same named steps, in the
** order below, and every step is a function of this file (issue 18).
**
**   REST (vmb_gate_http, called by entry/ for each request):
**     ids -> route -> origin -> address limits -> authenticate ->
**     rate limit -> arguments -> dispatch -> respond -> log
**   dispatch, shared with MCP tools/call (vmb_gate_run; HTTP and stdio):
**     authorise -> validate -> handle -> operation log
**
** A step that answers (an error, a CORS preflight) stops the walk; respond
** and log always run. The rate limit comes before authorise, not after as
** the list has it: authorise reads the subject registry (a Vault
** read when its snapshot is stale), and the per-subject limit is what
** bounds that; the order is also what clients see today (RateLimit-*
** headers on a 403).
**
** The gate calls only downwards: auth/ (authenticate, registry, the OAuth
** metadata URL), gate/ (routing over the installed table, rate limit,
** grants), obs/ and base/. The handlers of the layers above reach it as
** pointers in the operation table, which start-up installs
** (vmb_ops_install); nothing here names a module of backends/, mcp/,
** api/ or entry/.
*/
#include "gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cors.h"
#include "grants.h"
#include "metrics.h"
#include "nspath.h"
#include "oauth_meta.h"
#include "ops.h"
#include "ratelimit.h"
#include "registry.h"
#include "trace.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/log.h"

#define BODY_JSON_DEPTH 32

/* The settings the gate reads, taken at start-up (vmb_gate_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *base_path;            /* BASE_PATH */
  const char *cors_allow_origins;   /* CORS_ALLOW_ORIGINS */
  long max_body_bytes;              /* MAX_BODY_BYTES */
  bool expose_rest_routes;          /* EXPOSE_REST_ROUTES */
  bool debug_routes;                /* DEBUG_ROUTES_ENABLED */
  bool rate_limit;                  /* RATE_LIMIT_ENABLED */
  long auth_failure_limit;          /* AUTH_FAILURE_LIMIT, per address */
  long readyz_limit;                /* READYZ_RATE_LIMIT, per address */
} conf = {.base_path = "", .max_body_bytes = 1048576};

int vmb_gate_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.base_path = cfg->base_path;
  conf.cors_allow_origins = cfg->cors_allow_origins;
  conf.max_body_bytes = cfg->max_body_bytes;
  conf.expose_rest_routes = cfg->expose_rest_routes;
  conf.debug_routes = cfg->debug_routes_enabled;
  conf.rate_limit = cfg->rate_limit_enabled;
  conf.auth_failure_limit = cfg->auth_failure_limit;
  conf.readyz_limit = cfg->readyz_rate_limit;
  return 0;
}

size_t vmb_gate_max_body(void)
{
  return (size_t)conf.max_body_bytes;
}

/* ---- JSON bodies --------------------------------------------------- */

void vmb_response_set_json(struct vmb_response *resp, json_object *doc)
{
  const char *text = json_object_to_json_string_ext(
    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  vmb_buf_reset(&resp->body);
  if(!text || vmb_buf_append_str(&resp->body, text)) {
    vmb_buf_reset(&resp->body);
    resp->status = 500;
    vmb_buf_append_str(&resp->body,
                       "{\"error\":{\"code\":\"internal_error\",\"message\":"
                       "\"response too large\"}}");
  }
}

static void json_put(void *p) { json_object_put(p); }

/* ---- response helpers ---------------------------------------------- */

/* The uniform error body: {"error":{"code","message","request_id"}}. */
static void reply_error(struct vmb_request *req, struct vmb_response *resp,
                        enum vmb_err err, const char *detail)
{
  json_object *doc = json_object_new_object(), *e = json_object_new_object();
  resp->status = vmb_err_http_status(err);
  json_object_object_add(e, "code", json_object_new_string(vmb_err_name(err)));
  json_object_object_add(e, "message", json_object_new_string(
                           detail ? detail : vmb_err_message(err)));
  json_object_object_add(e, "request_id", json_object_new_string(req->request_id));
  json_object_object_add(doc, "error", e);
  vmb_response_set_json(resp, doc);
  json_object_put(doc);
}

static void add_cors_headers(struct vmb_request *req, struct vmb_response *resp)
{
  const char *origin = vmb_request_header(req, "origin");
  if(!origin || !vmb_cors_origin_allowed(conf.cors_allow_origins, origin))
    return;
  vmb_response_header(resp, "Access-Control-Allow-Origin", origin);
  vmb_response_header(resp, "Vary", "Origin");
  vmb_response_header(resp, "Access-Control-Expose-Headers",
                      "Mcp-Session-Id, MCP-Protocol-Version, X-Request-Id, "
                      "X-Correlation-Id, WWW-Authenticate, Retry-After");
}

/* Headers about this response's own content only. The browser security
   headers (X-Content-Type-Options, X-Frame-Options, Referrer-Policy,
   Strict-Transport-Security) are the web server's: it also answers the
   static files and its own errors, and setting them in both places sent
   each one twice (docs/deploy.md section 6). */
static void add_common_headers(struct vmb_request *req, struct vmb_response *resp)
{
  bool has_ct = false;
  size_t i;
  for(i = 0; i < resp->n_headers; i++)
    if(!strcasecmp(resp->headers[i].name, "Content-Type"))
      has_ct = true;
  if(!has_ct)
    vmb_response_header(resp, "Content-Type", "application/json");
  vmb_response_header(resp, "Cache-Control", "no-store");
  vmb_response_header(resp, "X-Request-Id", req->request_id);
  vmb_response_header(resp, "X-Correlation-Id", req->correlation_id);
  if(req->trace_id[0])
    vmb_response_header(resp, "X-Trace-Id", req->trace_id);
  add_cors_headers(req, resp);
}

/* ---- request pieces ------------------------------------------------ */

/* Route paths must be plain: Caddy passes "..", "//" and raw control
   characters through, so the core refuses them itself. */
static bool route_path_ok(const char *p)
{
  if(!p || p[0] != '/')
    return false;
  if(strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
    return false;
  {
    size_t n = strlen(p);
    if((n >= 2 && !strcmp(p + n - 2, "/.")) || (n >= 3 && !strcmp(p + n - 3, "/..")))
      return false;
  }
  for(; *p; p++)
    if((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
      return false;
  return true;
}

/* Gather REST arguments: path parameters, declared query parameters and
   the JSON body. Returns OK or the error with *detail. */
static enum vmb_err rest_args(struct vmb_request *req, const struct vmb_op *op,
                              json_object *params, json_object **out,
                              const char **detail)
{
  const struct vmb_arg *a;
  json_object *args = params;   /* already owned by the arena */
  if(!args) {
    args = json_object_new_object();
    if(!args || vmb_arena_defer(req->arena, json_put, args))
      return VMB_ERR_NOMEM;
  }
  *out = args;
  for(a = op->args; a && a->name; a++) {
    bool bad = false;
    const char *v;
    if(!(a->flags & VMB_ARG_IN_QUERY))
      continue;
    v = vmb_request_query(req, a->name, &bad);
    if(bad) {
      *detail = vmb_arena_printf(req->arena, "query parameter '%s' is badly encoded", a->name);
      return VMB_ERR_BAD_REQUEST;
    }
    if(v)
      json_object_object_add(args, a->name, json_object_new_string(v));
  }
  if((op->flags & VMB_OP_NO_BODY) || req->body_len == 0)
    return VMB_ERR_OK;
  if(!vmb_content_type_is_json(vmb_request_header(req, "content-type"))) {
    *detail = "send the body as application/json";
    return VMB_ERR_UNSUPPORTED_MEDIA;
  }
  {
    json_object *body = vmb_json_parse(req->body, req->body_len, BODY_JSON_DEPTH);
    if(!body)
      return VMB_ERR_INVALID_JSON;
    if(vmb_arena_defer(req->arena, json_put, body))
      return VMB_ERR_NOMEM;
    if(!json_object_is_type(body, json_type_object)) {
      *detail = "the body must be a JSON object";
      return VMB_ERR_BAD_REQUEST;
    }
    json_object_object_foreach(body, k, v) {
      const struct vmb_arg *decl = NULL;
      for(a = op->args; a && a->name; a++)
        if(!strcmp(a->name, k))
          decl = a;
      if(decl && (decl->flags & (VMB_ARG_IN_PATH | VMB_ARG_IN_QUERY)) &&
         json_object_object_get_ex(args, k, NULL)) {
        *detail = vmb_arena_printf(req->arena, "field '%.64s' is given in the URL already", k);
        return VMB_ERR_BAD_REQUEST;
      }
      json_object_object_add(args, k, json_object_get(v));
    }
  }
  return VMB_ERR_OK;
}

/* ---- REST helpers -------------------------------------------------- */

static void www_authenticate(struct vmb_request *req, struct vmb_response *resp,
                             bool invalid, const char *scope)
{
  const char *v;
  if(scope)
    v = vmb_arena_printf(req->arena, "Bearer realm=\"vault-mcp-bridge\", "
                         "error=\"insufficient_scope\", scope=\"%s\"", scope);
  else if(invalid)
    v = "Bearer realm=\"vault-mcp-bridge\", error=\"invalid_token\"";
  else
    v = "Bearer realm=\"vault-mcp-bridge\"";
  {
    /* RFC 9728 section 5.1: point OAuth clients (MCP) at our metadata. */
    const char *rm = vmb_oauth_metadata_url(req);
    if(rm && v)
      v = vmb_arena_printf(req->arena, "%s, resource_metadata=\"%s\"", v, rm);
  }
  if(v)
    vmb_response_header(resp, "WWW-Authenticate", v);
}

static void log_request(struct vmb_request *req, const struct vmb_op *op,
                        int status, uint64_t dur_us)
{
  json_object *f = json_object_new_object();
  json_object_object_add(f, "request_id", json_object_new_string(req->request_id));
  json_object_object_add(f, "correlation_id", json_object_new_string(req->correlation_id));
  json_object_object_add(f, "client", json_object_new_string(req->client_addr ? req->client_addr : ""));
  json_object_object_add(f, "method", json_object_new_string(req->method));
  json_object_object_add(f, "path", json_object_new_string(req->path));
  json_object_object_add(f, "route", json_object_new_string(op && op->path ? op->path : "unmatched"));
  json_object_object_add(f, "status", json_object_new_int(status));
  {
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", (double)dur_us / 1000.0);
    json_object_object_add(f, "duration_ms", json_object_new_double_s((double)dur_us / 1000.0, ms));
  }
  if(req->identity.authenticated) {
    json_object_object_add(f, "subject", json_object_new_string(req->identity.subject));
    json_object_object_add(f, "auth_mode", json_object_new_string(req->identity.mode));
  }
  vmb_log(VMB_LOG_REQUESTS, VMB_LOG_INFO, "http", "request", f);
  json_object_put(f);
}

/* Take (count_it) or look at the per-address counter prefix+client
   address. false when the address is over limit; then resp (if given)
   gets Retry-After. */
static bool addr_allowed(struct vmb_request *req, struct vmb_response *resp,
                         const char *prefix, long limit, bool count_it)
{
  struct vmb_rl_verdict v;
  char key[96];
  snprintf(key, sizeof(key), "%s%.64s", prefix,
           req->client_addr && *req->client_addr ? req->client_addr : "unknown");
  vmb_ratelimit_take_key(key, limit, count_it, &v);
  if(v.allowed)
    return true;
  if(resp) {
    vmb_metrics_rate_limited();
    vmb_response_header(resp, "Retry-After",
                        vmb_arena_printf(req->arena, "%ld", v.reset_seconds > 0 ? v.reset_seconds : 1));
  }
  return false;
}

/* ---- dispatch: the steps REST and MCP share -------------------------- */

/* authorise: the subject rule once more, the registry (enabled, scopes,
   grants; auth/registry.c), then the row's scope. */
static enum vmb_err step_authorise(struct vmb_call *call)
{
  const struct vmb_op *op = call->op;
  struct vmb_request *req = call->req;
  enum vmb_err err;
  if(req->identity.authenticated && !vmb_subject_valid(req->identity.subject)) {
    /* Whatever entry point filled the identity (an auth mode, stdio's
       SUBJECT, a test), the subject becomes a path segment below: the one
       rule is checked here again, before any operation runs. */
    call->detail = "the caller's subject is not a valid subject";
    return VMB_ERR_UNAUTHENTICATED;
  }
  err = vmb_registry_resolve(req, &call->detail);
  if(err != VMB_ERR_OK)
    return err;
  if(op->scope && (req->identity.scopes & op->scope) != op->scope) {
    call->detail = vmb_arena_printf(req->arena, "this operation requires the '%s' scope",
                                    vmb_scope_name(op->scope));
    return VMB_ERR_FORBIDDEN;
  }
  return VMB_ERR_OK;
}

/* validate: the arguments against the row, then the grants (they name
   keys and roles, so they need validated arguments), then the row's own
   before step (response wrapping), which may refuse before any work. */
static enum vmb_err step_validate(struct vmb_call *call)
{
  const struct vmb_op *op = call->op;
  enum vmb_err err = vmb_args_validate(op, call->args, call->req->arena, &call->detail);
  if(err == VMB_ERR_OK)
    err = vmb_grants_check(call);
  if(err == VMB_ERR_OK && op->before)
    err = op->before(call);
  return err;
}

/* handle: the handler, the grants' bookkeeping of its outcome (database
   lease owners), then the row's after step. */
static enum vmb_err step_handle(struct vmb_call *call)
{
  const struct vmb_op *op = call->op;
  enum vmb_err err = vmb_grants_after(call, op->handler(call));
  if(err == VMB_ERR_OK && op->after)
    err = op->after(call);
  return err;
}

/* operation log: responses.log (descriptors only, SPEC section 4) and the
   tool metrics, for tool rows, whatever the outcome. */
static void step_operation_log(struct vmb_call *call, enum vmb_err err)
{
  const struct vmb_op *op = call->op;
  struct vmb_request *req = call->req;
  json_object *fields;
  if(!(op->flags & VMB_OP_TOOL))
    return;
  fields = json_object_new_object();
  json_object_object_add(fields, "request_id", json_object_new_string(req->request_id));
  json_object_object_add(fields, "correlation_id", json_object_new_string(req->correlation_id));
  json_object_object_add(fields, "subject", json_object_new_string(req->identity.subject));
  json_object_object_add(fields, "operation", json_object_new_string(op->id));
  json_object_object_add(fields, "via", json_object_new_string(call->via ? call->via : "rest"));
  json_object_object_add(fields, "outcome", json_object_new_string(vmb_err_name(err)));
  if(call->log_fields) {
    json_object_object_foreach(call->log_fields, k, v)
      json_object_object_add(fields, k, json_object_get(v));
  }
  vmb_log(VMB_LOG_RESPONSES, err == VMB_ERR_OK ? VMB_LOG_INFO : VMB_LOG_WARN,
          "operation", err == VMB_ERR_OK ? "operation succeeded" : "operation failed",
          fields);
  json_object_put(fields);
  if(call->via && strcmp(call->via, "rest"))
    vmb_metrics_tool_call(op->id, err == VMB_ERR_OK);
}

static enum vmb_err (*const call_steps[])(struct vmb_call *) = {
  step_authorise, step_validate, step_handle
};

enum vmb_err vmb_gate_run(struct vmb_call *call)
{
  enum vmb_err err = VMB_ERR_OK;
  size_t i;
  for(i = 0; i < sizeof(call_steps) / sizeof(call_steps[0]) && err == VMB_ERR_OK; i++)
    err = call_steps[i](call);
  step_operation_log(call, err);
  return err;
}

/* ---- REST: the gate, step by step -------------------------------------

   Every REST request walks the named steps below in this order; a step
   that answers (an error, a preflight) stops the walk, and the request
   is then rendered and logged whatever happened:

     ids -> route -> origin -> address limits -> authenticate ->
     rate limit -> arguments -> dispatch (vmb_gate_run above)
     then respond -> log

   MCP's tools/call enters at dispatch (vmb_gate_run), after its own
   transport steps. */

struct gate {
  struct vmb_request *req;
  struct vmb_response *resp;
  const struct vmb_op *op;      /* the route, once found */
  json_object *params;          /* path parameters (arena-owned) */
  struct vmb_call call;
  enum vmb_err err;
  const char *detail;
  const char *path;             /* req->path without BASE_PATH */
  char allow[128];              /* methods the path allows, for 405 */
  bool answered;                /* a step answered without an error */
};

/* ids: the request id, the correlation id (the client's when it is a
   plain token) and the server span, before anything can fail. */
static void step_ids(struct vmb_request *req)
{
  const char *cid = vmb_request_header(req, "x-correlation-id");
  if(vmb_request_id_hex(req->request_id))
    snprintf(req->request_id, sizeof(req->request_id), "00000000000000000000000000000000");
  if(cid && vmb_is_token(cid, sizeof(req->correlation_id) - 1))
    snprintf(req->correlation_id, sizeof(req->correlation_id), "%s", cid);
  else
    snprintf(req->correlation_id, sizeof(req->correlation_id), "%s", req->request_id);
  vmb_trace_request_begin(req);
}

/* route: strip BASE_PATH, refuse odd paths and oversized bodies, find the
   operation (404/405 otherwise). */
static bool step_route(struct gate *g)
{
  struct vmb_request *req = g->req;
  size_t blen = strlen(conf.base_path);
  g->path = req->path;
  if(blen && g->path && !strncmp(g->path, conf.base_path, blen) &&
     (g->path[blen] == '/' || g->path[blen] == '\0'))
    g->path = g->path[blen] ? g->path + blen : "/";
  if(!route_path_ok(g->path)) {
    g->err = VMB_ERR_INVALID_PATH;
    return false;
  }
  if(req->body_too_large) {
    g->err = VMB_ERR_PAYLOAD_TOO_LARGE;
    g->detail = vmb_arena_printf(req->arena, "the body exceeds %ld bytes",
                                 conf.max_body_bytes);
    return false;
  }
  g->op = vmb_route_find(req, g->path, &g->params, g->allow, sizeof(g->allow));
  if(g->op && (((g->op->flags & VMB_OP_REST_OPTIONAL) && !conf.expose_rest_routes) ||
               ((g->op->flags & VMB_OP_DEBUG) && !conf.debug_routes))) {
    json_object_put(g->params);
    g->params = NULL;
    g->op = NULL;
    g->allow[0] = '\0';
  }
  if(g->params && vmb_arena_defer(req->arena, json_put, g->params)) {
    g->params = NULL;
    g->err = VMB_ERR_NOMEM;
    return false;
  }
  return true;
}

/* origin: a CORS preflight for a route that exists is answered here; a
   path with no operation for this method is a 404 or 405. */
static bool step_origin(struct gate *g)
{
  struct vmb_request *req = g->req;
  struct vmb_response *resp = g->resp;
  if(g->op)
    return true;
  if(!strcmp(req->method, "OPTIONS") && g->allow[0] &&
     vmb_request_header(req, "origin") &&
     vmb_cors_request_ok(conf.cors_allow_origins, req)) {
    resp->status = 204;
    vmb_response_header(resp, "Access-Control-Allow-Methods",
                        vmb_arena_printf(req->arena, "%s, OPTIONS", g->allow));
    vmb_response_header(resp, "Access-Control-Allow-Headers",
                        "Authorization, Content-Type, X-API-Key, Mcp-Session-Id, "
                        "MCP-Protocol-Version, Last-Event-ID, X-Correlation-Id, traceparent");
    vmb_response_header(resp, "Access-Control-Max-Age", "600");
    g->answered = true;
    return false;
  }
  if(g->allow[0]) {
    g->err = VMB_ERR_METHOD_NOT_ALLOWED;
    vmb_response_header(resp, "Allow", vmb_arena_strdup(req->arena, g->allow));
  }
  else {
    g->err = VMB_ERR_NOT_FOUND;
    g->detail = "no such route";
  }
  return false;
}

/* address limits: abuse before authentication (issue 13), per client
   address, host-wide, in the rate-limit table. /readyz (it calls Vault)
   counts every call; an address whose failed authentications reached
   the limit gets 429 before any credential is even looked at. */
static bool step_address_limits(struct gate *g)
{
  const struct vmb_op *op = g->op;
  if(conf.rate_limit && (op->flags & VMB_OP_ADDR_LIMIT) &&
     !addr_allowed(g->req, g->resp, "readyz:", conf.readyz_limit, true)) {
    g->err = VMB_ERR_RATE_LIMITED;
    g->detail = "too many readiness checks from this address";
    return false;
  }
  if(conf.rate_limit && !(op->flags & VMB_OP_PUBLIC) &&
     !addr_allowed(g->req, g->resp, "auth-fail:", conf.auth_failure_limit, false)) {
    g->err = VMB_ERR_RATE_LIMITED;
    g->detail = "too many failed authentications from this address";
    return false;
  }
  return true;
}

/* authenticate: who is calling (public operations skip it). */
static bool step_authenticate(struct gate *g)
{
  struct vmb_request *req = g->req;
  const char *mode = NULL, *reason = NULL;
  struct vmb_trace_span aspan;
  enum vmb_auth_result ar;
  json_object *f;
  if(g->op->flags & VMB_OP_PUBLIC)
    return true;
  vmb_trace_span_begin(&aspan, &req->trace);
  ar = vmb_authenticate(req, &mode, &reason);
  vmb_trace_auth_end(&aspan, ar == VMB_AUTH_OK ? req->identity.mode : mode,
                     ar == VMB_AUTH_OK);
  if(ar == VMB_AUTH_OK)
    return true;
  f = json_object_new_object();
  json_object_object_add(f, "request_id", json_object_new_string(req->request_id));
  json_object_object_add(f, "mode", json_object_new_string(mode ? mode : "none"));
  json_object_object_add(f, "reason", json_object_new_string(reason ? reason : "unknown"));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "auth", "authentication failed", f);
  json_object_put(f);
  vmb_metrics_auth_failure(mode ? mode : "none", reason ? reason : "unknown");
  if(conf.rate_limit && ar == VMB_AUTH_INVALID)
    (void)addr_allowed(req, NULL, "auth-fail:", conf.auth_failure_limit, true);
  www_authenticate(req, g->resp, ar == VMB_AUTH_INVALID, NULL);
  g->err = VMB_ERR_UNAUTHENTICATED;
  g->detail = ar == VMB_AUTH_INVALID ? vmb_arena_printf(req->arena,
                "the %s credential was refused (%s)", mode, reason) : NULL;
  return false;
}

/* rate limit: per subject, host-wide (authenticated operations only). */
static bool step_rate_limit(struct gate *g)
{
  struct vmb_request *req = g->req;
  struct vmb_response *resp = g->resp;
  struct vmb_rl_verdict v;
  if((g->op->flags & (VMB_OP_PUBLIC | VMB_OP_NO_RATE_LIMIT)) || !conf.rate_limit)
    return true;
  vmb_ratelimit_take(req->identity.subject, &v);
  if(v.backend_error && !v.allowed) {
    /* REDIS_URL with RATE_LIMIT_ON_BACKEND_ERROR=deny: the shared count
       is unknown, so refuse promptly and say why. */
    vmb_response_header(resp, "Retry-After", "1");
    g->err = VMB_ERR_UPSTREAM_UNAVAILABLE;
    g->detail = vmb_arena_printf(req->arena, "the rate-limit store (Redis) is "
                                 "unavailable: %s", v.backend_why);
    return false;
  }
  if(v.limit > 0 && !v.backend_error) {
    vmb_response_header(resp, "RateLimit-Limit", vmb_arena_printf(req->arena, "%ld", v.limit));
    vmb_response_header(resp, "RateLimit-Remaining", vmb_arena_printf(req->arena, "%ld", v.remaining));
    vmb_response_header(resp, "RateLimit-Reset", vmb_arena_printf(req->arena, "%ld", v.reset_seconds));
  }
  if(v.allowed)
    return true;
  vmb_metrics_rate_limited();
  vmb_response_header(resp, "Retry-After",
                      vmb_arena_printf(req->arena, "%ld", v.reset_seconds > 0 ? v.reset_seconds : 1));
  g->err = VMB_ERR_RATE_LIMITED;
  return false;
}

/* arguments: path parameters, declared query parameters and the JSON
   body (RAW and BODY_OPAQUE operations read the request themselves).
   Only a RAW operation (a transport) is given the HTTP response. */
static bool step_arguments(struct gate *g)
{
  struct vmb_request *req = g->req;
  g->call.req = req;
  g->call.resp = (g->op->flags & VMB_OP_RAW) ? g->resp : NULL;
  g->call.op = g->op;
  g->call.via = "rest";
  if(g->op->flags & (VMB_OP_RAW | VMB_OP_BODY_OPAQUE)) {
    g->call.args = json_object_new_object();
    if(!g->call.args || vmb_arena_defer(req->arena, json_put, g->call.args)) {
      g->err = VMB_ERR_NOMEM;
      return false;
    }
  }
  else {
    g->err = rest_args(req, g->op, g->params, &g->call.args, &g->detail);
    g->params = NULL;
    if(g->err != VMB_ERR_OK)
      return false;
  }
  g->call.log_fields = json_object_new_object();
  if(!g->call.log_fields || vmb_arena_defer(req->arena, json_put, g->call.log_fields)) {
    g->err = VMB_ERR_NOMEM;
    return false;
  }
  return true;
}

/* dispatch: the shared gate (scope, validation, handler, responses.log). */
static bool step_dispatch(struct gate *g)
{
  g->err = vmb_gate_run(&g->call);
  g->detail = g->call.detail;
  if(g->err == VMB_ERR_FORBIDDEN && g->op->scope)
    www_authenticate(g->req, g->resp, false, vmb_scope_name(g->op->scope));
  return g->err == VMB_ERR_OK;
}

/* A document result goes out as it is, with its own content type. */
static enum vmb_err render_document(struct gate *g)
{
  const struct vmb_document *d = &g->call.document;
  struct vmb_response *resp = g->resp;
  if(!d->body || !d->content_type)
    return VMB_ERR_INTERNAL;          /* a DOCUMENT handler that set none */
  vmb_buf_reset(&resp->body);
  if(vmb_buf_append(&resp->body, d->body, d->len)) {
    vmb_buf_reset(&resp->body);
    return VMB_ERR_INTERNAL;          /* over the response cap */
  }
  resp->status = 200;
  vmb_response_header(resp, "Content-Type", d->content_type);
  if(d->filename)
    vmb_response_header(resp, "Content-Disposition", vmb_arena_printf(
                          g->req->arena, "attachment; filename=\"%s\"", d->filename));
  return VMB_ERR_OK;
}

/* respond: render the result, the document or the error (REST's
   rendering); a RAW operation has written its own response. */
static void step_respond(struct gate *g)
{
  struct vmb_response *resp = g->resp;
  const struct vmb_op *op = g->op;
  if(g->err == VMB_ERR_OK && op && (op->flags & VMB_OP_DOCUMENT))
    g->err = render_document(g);
  if(g->call.result) {
    if(g->err == VMB_ERR_OK && !(op && (op->flags & (VMB_OP_RAW | VMB_OP_DOCUMENT)))) {
      /* A result that describes a failure keeps its body and takes the
         error's status (readiness: 503 with what is not ready). */
      if(g->call.failed_with != VMB_ERR_OK)
        resp->status = vmb_err_http_status(g->call.failed_with);
      else if(g->call.created)
        resp->status = 201;
      vmb_response_set_json(resp, g->call.result);
    }
    json_object_put(g->call.result);
    g->call.result = NULL;
  }
  if(g->err != VMB_ERR_OK)
    reply_error(g->req, resp, g->err, g->detail);
  if(!resp->streamed)
    add_common_headers(g->req, resp);
}

/* log: requests.log, the server span and the HTTP metrics. */
static void step_log(struct gate *g, uint64_t t0)
{
  struct vmb_request *req = g->req;
  const struct vmb_op *op = g->op;
  const char *route = op && op->path ? op->path : "unmatched";
  uint64_t dur = vmb_monotonic_us() - t0;
  log_request(req, op, g->resp->status, dur);
  vmb_trace_request_end(req, op ? op->id : NULL, route, g->resp->status);
  vmb_metrics_request(req->method, route, g->resp->status, dur,
                      vmb_request_header(req, "x-correlation-id") != NULL);
}

static bool (*const gate_steps[])(struct gate *) = {
  step_route, step_origin, step_address_limits, step_authenticate,
  step_rate_limit, step_arguments, step_dispatch
};

void vmb_gate_http(struct vmb_request *req, struct vmb_response *resp)
{
  uint64_t t0 = vmb_monotonic_us();
  struct gate g;
  size_t i;

  memset(&g, 0, sizeof(g));
  g.req = req;
  g.resp = resp;
  vmb_metrics_inflight(1);
  step_ids(req);
  for(i = 0; i < sizeof(gate_steps) / sizeof(gate_steps[0]); i++)
    if(!gate_steps[i](&g))
      break;
  step_respond(&g);
  step_log(&g, t0);
  vmb_metrics_inflight(-1);
}
