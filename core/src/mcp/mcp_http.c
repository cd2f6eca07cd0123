/*
** mcp_http.c - MCP Streamable HTTP at POST /mcp/rpc, and the RFC 9728
** protected-resource metadata endpoint (SPEC section 5, docs/mcp.md).
**
** By the time vmb_h_mcp_rpc() runs, the core gate has routed, rate
** limited and authenticated the request exactly as for REST; this file
** only applies the transport rules of Streamable HTTP (Host and Origin
** against DNS rebinding, Accept, one message per POST, 202 for
** notifications), hands the message text and the MCP request headers to
** mcp.c (which picks the revision per request and checks the 2026-07-28
** headers), and streams subscriptions/listen responses.
**
** Sessions: a successful initialize gets an Mcp-Session-Id (128 random
** bits, hex), recorded host-wide in mcp_bus.c's shared memory with the
** subject that began it, because a FastCGI pool spreads one client over
** several processes. A request carrying an id that is unknown, ended,
** expired or another subject's gets 404, so the client re-initializes;
** DELETE ends a session. 2026-07-28 requests ignore the header (that
** revision has no sessions). Requests without an id are still served: the
** session adds nothing the bridge needs (no state hangs off it), and it
** never replaces authentication, which the gate did already.
** GET on /mcp/rpc has no table row, so the router answers 405 with the
** allowed methods (Streamable HTTP permits 405 instead of a stream).
*/
#include "mcp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "oauth_meta.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/log.h"

/* The settings this file reads, taken at start-up (vmb_mcp_http_init). */
static struct {
  const char *public_hosts;         /* PUBLIC_HOSTS, BORROWED */
} conf;

int vmb_mcp_http_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  conf.public_hosts = cfg->public_hosts;
  return 0;
}

/* ---- HTTP helpers --------------------------------------------------- */

static void set_body(struct vmb_response *resp, const char *text)
{
  vmb_buf_reset(&resp->body);
  if(vmb_buf_append_str(&resp->body, text)) {
    vmb_buf_reset(&resp->body);
    resp->status = 500;
    vmb_buf_append_str(&resp->body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
                       "{\"code\":-32603,\"message\":\"response too large\"}}");
  }
}

/* A transport-level refusal: HTTP status plus a JSON-RPC error without
   id as body (Streamable HTTP: "the body MAY be a JSON-RPC error"). */
static enum vmb_err http_refuse(struct vmb_call *c, int status, int code,
                                const char *message)
{
  json_object *e = vmb_mcp_error(NULL, code, message, NULL);
  json_object *f = json_object_new_object();
  c->resp->status = status;
  vmb_response_header(c->resp, "Content-Type", "application/json");
  set_body(c->resp, e ? json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN) :
           "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
           "\"message\":\"internal error\"}}");
  json_object_put(e);
  if(f) {
    json_object_object_add(f, "request_id", json_object_new_string(c->req->request_id));
    json_object_object_add(f, "status", json_object_new_int(status));
    json_object_object_add(f, "reason", json_object_new_string(message));
    vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "mcp", "request refused", f);
    json_object_put(f);
  }
  return VMB_ERR_OK;
}

/* Is the media-range's parameter list (";q=0.5;...") a refusal (q=0)? */
static bool q_is_zero(const char *params, size_t n)
{
  size_t i;
  for(i = 0; i + 2 < n; i++) {
    if(params[i] == ';') {
      size_t j = i + 1;
      while(j < n && params[j] == ' ')
        j++;
      if(j + 2 < n && (params[j] == 'q' || params[j] == 'Q') && params[j + 1] == '=') {
        for(j += 2; j < n && (params[j] == '0' || params[j] == '.'); j++)
          ;
        return j == n || params[j] == ';' || params[j] == ' ';
      }
    }
  }
  return false;
}

/* Does the Accept header admit type ("application/json")? An absent
   header admits everything; wildcard ranges count. */
static bool accepts(const char *accept, const char *type)
{
  size_t tlen = strlen(type);
  const char *slash = strchr(type, '/');
  size_t major = slash ? (size_t)(slash - type) : tlen;
  if(!accept)
    return true;
  while(*accept) {
    size_t n, m, r;
    while(*accept == ' ' || *accept == ',' || *accept == '\t')
      accept++;
    n = strcspn(accept, ",");
    m = strcspn(accept, ";,");
    r = m;
    while(r && (accept[r - 1] == ' ' || accept[r - 1] == '\t'))
      r--;
    if(r && !q_is_zero(accept + m, n - m) &&
       ((r == tlen && !strncasecmp(accept, type, tlen)) ||
        (r == 3 && !strncmp(accept, "*/*", 3)) ||
        (r == major + 2 && !strncasecmp(accept, type, major) &&
         !strncmp(accept + major, "/*", 2))))
      return true;
    accept += n;
  }
  return false;
}

/* ---- Host and Origin (DNS rebinding) ------------------------------- */

/* Does the comma/space separated list hold item (case-insensitive)? */
static bool list_has(const char *list, const char *item, size_t n)
{
  while(list && *list) {
    size_t m;
    while(*list == ' ' || *list == ',')
      list++;
    m = strcspn(list, ", ");
    if(m && m == n && !strncasecmp(list, item, n))
      return true;
    list += m;
  }
  return false;
}

/* Length of the host part of a Host value ("[::1]:8080" -> 5). */
static size_t host_part(const char *h)
{
  const char *e;
  if(h[0] == '[') {
    e = strchr(h, ']');
    return e ? (size_t)(e - h) + 1 : strlen(h);
  }
  e = strchr(h, ':');
  return e ? (size_t)(e - h) : strlen(h);
}

/* The Host check of the official SDKs' DNS-rebinding protection: a
   loopback name, or a configured public name (with or without its
   port), or anything when PUBLIC_HOSTS is "*". */
static bool host_allowed(const char *host)
{
  size_t hn = host_part(host);
  const char *port = host + hn;
  if(*port && *port != ':')
    return false;
  if((hn == 9 && !strncasecmp(host, "localhost", 9)) ||
     (hn == 9 && !strncmp(host, "127.0.0.1", 9)) || (hn == 5 && !strncmp(host, "[::1]", 5)))
    return true;
  if(!conf.public_hosts)
    return false;
  return list_has(conf.public_hosts, "*", 1) || list_has(conf.public_hosts, host, strlen(host)) ||
         list_has(conf.public_hosts, host, hn);
}

bool vmb_mcp_host_origin_ok(const struct vmb_request *req, const char **why)
{
  const char *host = vmb_request_header(req, "host");
  const char *origin = vmb_request_header(req, "origin");
  /* No browser sends a request without Host, and only browsers can be
     rebound: a Host-less request (a FastCGI test client, HTTP/1.0) is
     not refused for lacking one. */
  if(host && !host_allowed(host)) {
    *why = "Forbidden: Host not allowed (loopback names and PUBLIC_HOSTS are)";
    return false;
  }
  if(!origin || vmb_mcp_origin_ok(req))
    return true;
  /* Same origin: a page served by this very host (the Host was checked
     above). The scheme is not compared: behind a proxy that terminates
     TLS we cannot know which one the browser used. Ports are compared
     when the Host carries one; web servers that pass $host (Debian's
     fastcgi_params) strip it, and then the name must do. */
  if(host) {
    const char *a = !strncasecmp(origin, "http://", 7) ? origin + 7 :
                    !strncasecmp(origin, "https://", 8) ? origin + 8 : NULL;
    size_t hn = host_part(host), an = a ? host_part(a) : 0;
    if(a && an == hn && !strncasecmp(a, host, hn) &&
       (!host[hn] || !strcasecmp(a + an, host + hn)) &&
       (!a[an] || a[an] == ':') && !strchr(a + an, '/'))
      return true;
  }
  *why = "Forbidden: Origin not allowed";
  return false;
}

/* ---- POST /mcp/rpc -------------------------------------------------- */

/* subscriptions/listen over HTTP: the response is an SSE stream that
   begins with the acknowledgement and carries the caller's
   tool.completed events (when asked for) until the client leaves or the
   server stops, which ends it with the listen response. One serving
   thread per stream, bounded like GET /mcp/sse. */
static int write_sse(struct vmb_request *req, json_object *doc)
{
  const char *t = doc ? json_object_to_json_string_ext(
    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
  if(!t)
    return 0;
  return req->stream->write(req->stream->ctx, "data: ", 6) ||
         req->stream->write(req->stream->ctx, t, strlen(t)) ||
         req->stream->write(req->stream->ctx, "\n\n", 2) ? -1 : 0;
}

static int listen_event(struct vmb_request *req, void *ctx, const struct vmb_mcp_event *e)
{
  json_object *ev = vmb_mcp_tool_event(ctx, e->tool, e->subject, e->ts, e->seq);
  int rc = ev ? write_sse(req, ev) : 0;
  json_object_put(ev);
  return rc;
}

static enum vmb_err listen_stream(struct vmb_call *c, json_object *ack,
                                  const struct vmb_mcp_meta *meta)
{
  struct vmb_request *req = c->req;
  const char *origin = vmb_request_header(req, "origin");
  struct vmb_header h[8];
  size_t nh = 0;
  long slot = -1;
  unsigned long long pos;
  uint64_t seen;
  bool parkable;
  enum vmb_mcp_stream_reg reg;

  if(!req->stream) {
    json_object *e = vmb_mcp_error(meta->listen_id, VMB_RPC_INTERNAL_ERROR, "this transport cannot "
                                   "stream: subscriptions/listen is unavailable", NULL);
    c->resp->status = 500;
    vmb_response_header(c->resp, "Content-Type", "application/json");
    set_body(c->resp, e ? json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN) : "");
    json_object_put(e);
    return VMB_ERR_OK;
  }
  reg = vmb_mcp_stream_open(req->identity.subject, &slot);
  if(reg != VMB_MCP_STREAM_OK) {
    json_object *e = vmb_mcp_error(meta->listen_id, VMB_RPC_INTERNAL_ERROR,
      reg == VMB_MCP_STREAM_SUBJECT_LIMIT ?
      vmb_arena_printf(req->arena, "at most %ld event streams per subject are open at "
                       "a time", vmb_mcp_stream_subject_limit()) :
      "no capacity for another event stream right now", NULL);
    c->resp->status = reg == VMB_MCP_STREAM_ERROR ? 500 : 429;
    vmb_response_header(c->resp, "Retry-After",
                        reg == VMB_MCP_STREAM_SUBJECT_LIMIT ? "30" : "5");
    vmb_response_header(c->resp, "Content-Type", "application/json");
    set_body(c->resp, e ? json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN) : "");
    json_object_put(e);
    return VMB_ERR_OK;
  }
  parkable = req->stream->park && !vmb_mcp_park_prepare();
  seen = vmb_mcp_bus_start(req->identity.subject, NULL);
  pos = vmb_mcp_bus_next();
  h[nh++] = (struct vmb_header){"Content-Type", "text/event-stream"};
  h[nh++] = (struct vmb_header){"Cache-Control", "no-store"};
  h[nh++] = (struct vmb_header){"X-Accel-Buffering", "no"};
  h[nh++] = (struct vmb_header){"X-Content-Type-Options", "nosniff"};
  h[nh++] = (struct vmb_header){"X-Request-Id", req->request_id};
  if(origin) {
    h[nh++] = (struct vmb_header){"Access-Control-Allow-Origin", origin};
    h[nh++] = (struct vmb_header){"Vary", "Origin"};
  }
  c->resp->status = 200;
  c->resp->streamed = true;
  if(parkable) {
    /* Parked in the loop (mcp_park.c), which ends it with the listen
       response when the server stops. */
    struct vmb_parked *p;
    if(req->stream->begin(req->stream->ctx, 200, h, nh) || write_sse(req, ack)) {
      vmb_mcp_stream_close(slot);
      return VMB_ERR_OK;
    }
    p = vmb_mcp_parked_new(req, slot, seen, true, meta->listen_tool_events, meta->listen_id);
    if(p && !req->stream->park(req->stream->ctx, p))
      return VMB_ERR_OK;
    if(p)
      vmb_mcp_park_drop(p);
    else
      vmb_mcp_stream_close(slot);
    return VMB_ERR_OK;
  }
  if(!req->stream->begin(req->stream->ctx, 200, h, nh) && !write_sse(req, ack) &&
     vmb_mcp_bus_follow(req, req->identity.subject, pos,
                        meta->listen_tool_events ? listen_event : NULL,
                        meta->listen_id) > 0) {
    /* We end it (shutdown): say so with the listen response. */
    json_object *end = vmb_mcp_listen_closed(meta->listen_id);
    write_sse(req, end);
    json_object_put(end);
  }
  vmb_mcp_stream_close(slot);
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_mcp_rpc(struct vmb_call *c)
{
  struct vmb_request *req = c->req;
  struct vmb_response *resp = c->resp;
  const char *accept = vmb_request_header(req, "accept");
  const char *sid = vmb_request_header(req, "mcp-session-id");
  const char *why = NULL;
  json_object *reply = NULL;
  enum vmb_mcp_outcome outcome;
  struct vmb_mcp_in in;
  struct vmb_mcp_meta meta;
  bool as_sse = false;

  /* DNS rebinding: a browser page from a foreign origin, or a rebound
     name, must not drive the bridge (2025-11-25: Origin present and not
     allowed -> 403). */
  if(!vmb_mcp_host_origin_ok(req, &why))
    return http_refuse(c, 403, VMB_RPC_INVALID_REQUEST, why);
  if(!vmb_content_type_is_json(vmb_request_header(req, "content-type")))
    return http_refuse(c, 415, VMB_RPC_INVALID_REQUEST, "Unsupported Media Type: POST one JSON-RPC "
                       "message as application/json");
  if(!accepts(accept, "application/json")) {
    if(!accepts(accept, "text/event-stream"))
      return http_refuse(c, 406, VMB_RPC_INVALID_REQUEST, "Not Acceptable: the response is "
                         "application/json or text/event-stream");
    as_sse = true;
  }

  memset(&in, 0, sizeof(in));
  in.http = true;
  in.protocol_version = vmb_request_header(req, "mcp-protocol-version");
  in.method = vmb_request_header(req, "mcp-method");
  in.name = vmb_request_header(req, "mcp-name");
  /* Sessions belong to the legacy revisions; 2026-07-28 requests (and
     unknown versions, which get VMB_RPC_UNSUPPORTED_VERSION) ignore Mcp-Session-Id. */
  if(sid && !vmb_mcp_modern_wanted(&in, "", NULL) &&
     !vmb_mcp_session_touch(sid, req->identity.subject))
    return http_refuse(c, 404, VMB_RPC_SESSION_NOT_FOUND, "Session not found: start a new one with "
                       "initialize");

  outcome = vmb_mcp_dispatch(req, "mcp", &in, req->body, req->body_len, &reply, &meta);
  if(outcome == VMB_MCP_LISTEN) {
    enum vmb_err e = listen_stream(c, reply, &meta);
    json_object_put(reply);
    return e;
  }
  if(meta.initialized) {
    char *id = vmb_arena_alloc(req->arena, VMB_MCP_SESSION_ID_LEN + 1);
    if(id && !vmb_mcp_session_new(req->identity.subject, id, VMB_MCP_SESSION_ID_LEN + 1))
      vmb_response_header(resp, "Mcp-Session-Id", id);
  }
  if(outcome == VMB_MCP_ACCEPTED) {
    json_object_put(reply);
    resp->status = 202;
    vmb_buf_reset(&resp->body);
    return VMB_ERR_OK;
  }
  resp->status = meta.http_status ? meta.http_status :
                 outcome == VMB_MCP_REJECTED ? 400 : 200;
  if(!reply)
    return http_refuse(c, 500, VMB_RPC_INTERNAL_ERROR, "internal error");
  if(as_sse && outcome == VMB_MCP_REPLY) {
    /* A client that only takes SSE gets the response as the one event
       of a stream that ends with it (Streamable HTTP, "Sending Messages"). */
    const char *t = json_object_to_json_string_ext(
      reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    vmb_response_header(resp, "Content-Type", "text/event-stream");
    vmb_buf_reset(&resp->body);
    if(!t || vmb_buf_printf(&resp->body, "event: message\ndata: %s\n\n", t)) {
      json_object_put(reply);
      return http_refuse(c, 500, VMB_RPC_INTERNAL_ERROR, "response too large");
    }
  }
  else {
    vmb_response_header(resp, "Content-Type", "application/json");
    set_body(resp, json_object_to_json_string_ext(
      reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  }
  json_object_put(reply);
  return VMB_ERR_OK;
}

/* ---- DELETE /mcp/rpc: end a session ------------------------------- */

enum vmb_err vmb_h_mcp_rpc_delete(struct vmb_call *c)
{
  const char *sid = vmb_request_header(c->req, "mcp-session-id");
  const char *why = NULL;
  if(!vmb_mcp_host_origin_ok(c->req, &why))
    return http_refuse(c, 403, VMB_RPC_INVALID_REQUEST, why);
  if(!sid)
    return http_refuse(c, 400, VMB_RPC_INVALID_REQUEST, "Bad Request: DELETE needs the Mcp-Session-Id "
                       "header of the session to end");
  switch(vmb_mcp_session_end(sid, c->req->identity.subject)) {
  case 1:
    break;
  case 0:
    return http_refuse(c, 404, VMB_RPC_SESSION_NOT_FOUND, "Session not found");
  default:
    /* REDIS_URL and Redis did not answer: the session was not ended and
       still works on every host. Say so (503, the gate's error body with
       the request id) rather than 204, so the client can retry; the
       Streamable HTTP revisions define no other answer for this. */
    vmb_response_header(c->resp, "Retry-After", "1");
    c->detail = "the session store (Redis) is unavailable: the session was not ended";
    return VMB_ERR_UPSTREAM_UNAVAILABLE;
  }
  c->resp->status = 204;
  vmb_buf_reset(&c->resp->body);
  return VMB_ERR_OK;
}

/* ---- RFC 9728 protected-resource metadata -------------------------- */

/* GET /.well-known/oauth-protected-resource[/mcp/rpc]: the document is
   built by the auth layer (auth/oauth_meta.c), which also gives the gate
   the URL for WWW-Authenticate. */
enum vmb_err vmb_h_oauth_resource_metadata(struct vmb_call *c)
{
  return vmb_oauth_metadata(c->req, &c->result, &c->detail);
}
