/*
** fcgi_transport.c - FastCGI <-> core translation.
**
** What the web servers really send (docs/webservers.md): route on
** SCRIPT_NAME + PATH_INFO (the split differs, the concatenation does
** not); CONTENT_LENGTH is only a hint (Caddy: -1, nginx: ""), so the body
** is read from the stdin stream to its end, up to MAX_BODY_BYTES; client
** headers arrive as HTTP_* params and are the only source of headers,
** while TLS facts come only from the server's own params.
**
** Event streams are parked (docs/mcp.md, "How streams are held"): once
** the handler has written a stream's headers and offered it through
** vmb_stream.park, this file takes the connection away from libfcgi
** after vmb_core_handle() returns. libfcgi 2.4 declares FCGX_Detach but
** its own header calls it not fully implemented, so the take-over uses
** what FCGX_Finish_r/FCGX_Free do: the out stream is flushed first, then
** FCGX_Free(r, 0) releases libfcgi's streams and params without writing
** a record or closing the fd, and r->ipcFd = -1 makes the next
** FCGX_Accept_r accept a fresh connection instead of reusing this one.
** The fd and request id go to the core's loop with fcgi_record.c's
** framing; the loop writes END_REQUEST and closes the fd when the
** stream ends. (Bytes libfcgi had already read past our empty STDIN
** are lost with its buffer; a web server sends nothing there but an
** ABORT_REQUEST, and then the client is gone anyway: its EOF follows.)
*/
#include "fcgi_transport.h"
#include "fcgi_record.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmb/arena.h"
#include "vmb/core.h"
#include "vmb/log.h"
#include "vmb/mcp.h"

/* One request's streaming state: the libfcgi request, and the stream
   the handler offered for parking (taken over once it returns). */
struct serve_ctx {
  FCGX_Request *r;
  struct vmb_parked *parked;
};

#define MAX_PARAMS 256
/* After the cap we keep reading (and discarding) this much at most, so
   the web server sees its body consumed and relays our 413. */
#define DRAIN_MAX (64u * 1024u * 1024u)

static const char *status_text(int status)
{
  switch(status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

/* "HTTP_X_API_KEY" -> "x-api-key" in the arena. */
static char *header_name(struct vmb_arena *a, const char *param, size_t n)
{
  char *out = vmb_arena_strndup(a, param, n);
  size_t i;
  if(!out)
    return NULL;
  for(i = 0; i < n; i++) {
    char c = out[i];
    if(c == '_')
      out[i] = '-';
    else if(c >= 'A' && c <= 'Z')
      out[i] = (char)(c - 'A' + 'a');
  }
  return out;
}

static int fill_request(FCGX_Request *r, struct vmb_request *req)
{
  struct vmb_arena *a = req->arena;
  struct vmb_header *hdrs = vmb_arena_alloc(a, sizeof(*hdrs) * MAX_PARAMS);
  const char *script = FCGX_GetParam("SCRIPT_NAME", r->envp);
  const char *pinfo = FCGX_GetParam("PATH_INFO", r->envp);
  const char *https = FCGX_GetParam("HTTPS", r->envp);
  char **e;
  size_t n = 0;

  if(!hdrs)
    return -1;
  for(e = r->envp; e && *e && n < MAX_PARAMS; e++) {
    const char *eq = strchr(*e, '=');
    if(!eq)
      continue;
    if(!strncmp(*e, "HTTP_", 5)) {
      /* lighttpd may pass a header twice; the first one wins, as
         FCGX_GetParam would pick it. */
      hdrs[n].name = header_name(a, *e + 5, (size_t)(eq - *e - 5));
      hdrs[n].value = eq + 1;
      if(hdrs[n].name)
        n++;
    }
    else if(!strncmp(*e, "CONTENT_TYPE=", 13) || !strncmp(*e, "CONTENT_LENGTH=", 15)) {
      hdrs[n].name = header_name(a, *e, (size_t)(eq - *e));
      hdrs[n].value = eq + 1;
      if(hdrs[n].name)
        n++;
    }
  }
  req->headers = hdrs;
  req->n_headers = n;
  req->method = FCGX_GetParam("REQUEST_METHOD", r->envp);
  if(!req->method)
    req->method = "GET";
  req->query = FCGX_GetParam("QUERY_STRING", r->envp);
  if(!req->query)
    req->query = "";
  req->client_addr = FCGX_GetParam("REMOTE_ADDR", r->envp);
  if(script || pinfo) {
    req->path = vmb_arena_printf(a, "%s%s", script ? script : "", pinfo ? pinfo : "");
  }
  else {
    const char *uri = FCGX_GetParam("REQUEST_URI", r->envp);
    req->path = uri ? vmb_arena_strndup(a, uri, strcspn(uri, "?")) : "/";
  }
  if(!req->path)
    return -1;
  if(!req->path[0])
    req->path = "/";
  req->tls.https = https && (!strcmp(https, "on") || !strcmp(https, "ON") ||
                             !strcmp(https, "1"));
  req->tls.client_s_dn = FCGX_GetParam("SSL_CLIENT_S_DN", r->envp);
  req->tls.client_verify = FCGX_GetParam("SSL_CLIENT_VERIFY", r->envp);
  req->tls.proxy_s_dn = FCGX_GetParam("VMB_PROXY_CLIENT_S_DN", r->envp);
  req->tls.proxy_verify = FCGX_GetParam("VMB_PROXY_CLIENT_VERIFY", r->envp);
  return 0;
}

/* Read stdin to its end. The body is kept up to the cap; beyond it the
   rest is drained without being stored. *drained_all says whether the web
   server's stream was read to its end (false when DRAIN_MAX cut it). */
static int read_body(FCGX_Request *r, struct vmb_request *req, size_t cap,
                     bool *drained_all)
{
  struct vmb_buf body;
  char chunk[16384];
  size_t drained = 0;
  int got;
  *drained_all = true;
  vmb_buf_init(&body, cap);
  while((got = FCGX_GetStr(chunk, sizeof(chunk), r->in)) > 0) {
    if(req->body_too_large) {
      drained += (size_t)got;
      if(drained > DRAIN_MAX) {
        *drained_all = false;
        break;
      }
      continue;
    }
    if(vmb_buf_append(&body, chunk, (size_t)got)) {
      req->body_too_large = true;
      vmb_buf_free(&body);
      drained = (size_t)got;
    }
  }
  if(req->body_too_large) {
    req->body = "";
    req->body_len = 0;
    return 0;
  }
  req->body = vmb_arena_strndup(req->arena, body.data ? body.data : "", body.len);
  req->body_len = body.len;
  /* The copy in the arena holds the same bytes: wipe it at reset too. */
  if(req->body && body.len)
    vmb_arena_wipe_later(req->arena, (void *)req->body, body.len);
  vmb_buf_free(&body);
  return req->body ? 0 : -1;
}

static int put(FCGX_Stream *out, const char *s, size_t n)
{
  return n == 0 || FCGX_PutStr(s, (int)n, out) == (int)n ? 0 : -1;
}

static int write_head(FCGX_Stream *out, int status, const struct vmb_header *h,
                      size_t nh)
{
  char line[64];
  size_t i;
  int n = snprintf(line, sizeof(line), "Status: %d %s\r\n", status, status_text(status));
  if(put(out, line, (size_t)n))
    return -1;
  for(i = 0; i < nh; i++) {
    /* A header value never carries CR/LF: the core builds them all, but
       refuse to emit one anyway rather than split the response. */
    if(strpbrk(h[i].value, "\r\n") || strpbrk(h[i].name, "\r\n:"))
      continue;
    if(put(out, h[i].name, strlen(h[i].name)) || put(out, ": ", 2) ||
       put(out, h[i].value, strlen(h[i].value)) || put(out, "\r\n", 2))
      return -1;
  }
  return put(out, "\r\n", 2);
}

/* ---- streaming (SSE) ------------------------------------------------ */

static int stream_begin(void *ctx, int status, const struct vmb_header *h,
                        size_t nh)
{
  FCGX_Request *r = ((struct serve_ctx *)ctx)->r;
  if(write_head(r->out, status, h, nh) || FCGX_FFlush(r->out))
    return -1;
  return 0;
}

static int stream_write(void *ctx, const char *data, size_t len)
{
  FCGX_Request *r = ((struct serve_ctx *)ctx)->r;
  if(put(r->out, data, len) || FCGX_FFlush(r->out))
    return -1;
  return 0;
}

/* The handler offers its stream: everything written so far must be on
   the wire before the loop writes records of its own. */
static int stream_park(void *ctx, struct vmb_parked *p)
{
  struct serve_ctx *sc = ctx;
  if(sc->parked || sc->r->ipcFd < 0 || FCGX_FFlush(sc->r->out) || FCGX_GetError(sc->r->out))
    return -1;
  sc->parked = p;
  return 0;
}

/* ---- a parked connection, as the loop sees it ------------------------ */

struct parked_conn {
  uint16_t id;
  struct vmb_fcgi_reader rd;
};

static int pc_frame(void *ctx, const char *data, size_t len, struct vmb_buf *out)
{
  return vmb_fcgi_put_stdout(out, ((struct parked_conn *)ctx)->id, data, len);
}

static int pc_finish(void *ctx, struct vmb_buf *out)
{
  return vmb_fcgi_put_end(out, ((struct parked_conn *)ctx)->id);
}

static int pc_input(void *ctx, const void *data, size_t len)
{
  enum vmb_fcgi_input in = vmb_fcgi_reader_feed(&((struct parked_conn *)ctx)->rd, data, len);
  return in == VMB_FCGI_ABORT ? 1 : in == VMB_FCGI_BAD ? -1 : 0;
}

static void pc_release(void *ctx) { free(ctx); }

/* Take r's connection from libfcgi and give it to the loop with p. */
static void take_over(FCGX_Request *r, struct vmb_parked *p)
{
  struct parked_conn *pc = malloc(sizeof(*pc));
  struct vmb_park_conn conn;
  int fd = r->ipcFd;
  uint16_t id = (uint16_t)r->requestId;
  if(!pc) {
    vmb_mcp_park_drop(p);          /* libfcgi ends the request as usual */
    return;
  }
  vmb_fcgi_reader_init(&pc->rd, id);
  pc->id = id;
  FCGX_Free(r, 0);                 /* streams and params; no record, fd open */
  r->ipcFd = -1;                   /* the next accept takes a new connection */
  conn.fd = fd;
  conn.ctx = pc;
  conn.frame = pc_frame;
  conn.finish = pc_finish;
  conn.input = pc_input;
  conn.release = pc_release;
  if(vmb_mcp_park_adopt(p, &conn)) {
    /* No loop (shutting down): end the request here, blocking. */
    struct vmb_buf b;
    vmb_buf_init(&b, 64);
    if(!vmb_fcgi_put_end(&b, id)) {
      size_t off = 0;
      while(off < b.len) {
        ssize_t n = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
        if(n <= 0)
          break;
        off += (size_t)n;
      }
    }
    vmb_buf_free(&b);
    close(fd);
    free(pc);
  }
}

/* True when the web server has closed our connection (its client went
   away): a zero-byte peek means EOF. Writing would fail or vanish. */
static bool peer_closed(const FCGX_Request *r)
{
  char c;
  ssize_t n;
  if(r->ipcFd < 0)
    return false;
  n = recv(r->ipcFd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0;
}

static void log_client_gone(const struct vmb_request *req)
{
  json_object *f = json_object_new_object();
  json_object_object_add(f, "request_id", json_object_new_string(req->request_id));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "fcgi", "client went away mid-response", f);
  json_object_put(f);
}

/*
** Whether the listening socket is a unix socket (1) or not (2), found
** once per process (0: not yet known).
**
** Why it matters: at the end of a request libfcgi closes the web
** server's connection with a linger (shutdown, then poll and read until
** the server closes its end, up to 2 s), so that a TCP stack never
** answers unread input with a reset that would destroy the response in
** flight. That wait costs three system calls and a sleep and wake-up per
** request. A unix socket has no reset: what we wrote is already in the
** server's receive queue and stays readable after our close, and the
** server sees a plain end of file once it has read it (an error instead
** only if we left its data unread, which is why the linger is skipped
** only after stdin was read to its end). So on a unix socket the
** connection is detached from libfcgi (FCGX_Detach: close without the
** linger); on TCP (--listen host:port) the linger stays.
*/
static atomic_int listen_is_unix;

static bool close_at_once(const FCGX_Request *r)
{
  int v = atomic_load(&listen_is_unix);
  if(v == 0) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    v = getsockname(r->listen_sock, (struct sockaddr *)&sa, &len) == 0 &&
        sa.ss_family == AF_UNIX ? 1 : 2;
    atomic_store(&listen_is_unix, v);
  }
  return v == 1;
}

void vmb_fcgi_serve(FCGX_Request *r, struct vmb_worker *w)
{
  struct vmb_request req;
  struct vmb_response resp;
  struct serve_ctx sc = {r, NULL};
  struct vmb_stream stream = {&sc, stream_begin, stream_write, stream_park};
  bool drained = false;

  memset(&req, 0, sizeof(req));
  req.arena = vmb_worker_arena(w);
  req.worker = w;
  req.stream = &stream;
  vmb_response_init(&resp, 8u * 1024u * 1024u);
  if(fill_request(r, &req) || read_body(r, &req, vmb_core_max_body(), &drained)) {
    static const char oom[] = "Status: 500 Internal Server Error\r\n"
      "Content-Type: application/json\r\n\r\n"
      "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal error\"}}";
    put(r->out, oom, sizeof(oom) - 1);
    goto out;
  }
  vmb_core_handle(&req, &resp);
  if(sc.parked) {
    /* After the handler and its access log: req no longer needs the
       params libfcgi frees here. */
    take_over(r, sc.parked);
    goto out;
  }
  if(!resp.streamed) {
    char clen[32];
    snprintf(clen, sizeof(clen), "%zu", resp.body.len);
    vmb_response_header(&resp, "Content-Length", clen);
    /* The response goes out in one write when FCGX_Finish_r flushes it
       with the end-of-request record; a peer that already hung up is
       noticed here by a peek, without an extra flush per request. */
    if(peer_closed(r) ||
       write_head(r->out, resp.status, resp.headers, resp.n_headers) ||
       put(r->out, resp.body.data ? resp.body.data : "", resp.body.len))
      log_client_gone(&req);
    if(drained && !r->keepConnection && close_at_once(r))
      (void)FCGX_Detach(r);   /* FCGX_Finish_r then closes without the linger */
  }
out:
  vmb_response_free(&resp);
  vmb_worker_reset(w);
}
