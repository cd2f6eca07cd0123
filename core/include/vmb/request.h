/*
** request.h - the transport-neutral request and response.
**
** The FastCGI layer (and the stdio transport) fill a vmb_request from
** whatever they received and hand it to vmb_core_handle(); the core never
** sees a FastCGI param. All strings point into memory owned by the request
** arena (or the transport) and live until the arena is reset.
*/
#ifndef VMB_REQUEST_H
#define VMB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmb/buf.h"

struct vmb_arena;
struct vmb_worker;
struct vmb_grant_set;

/* One request header. name is lower-case with '-' separators
   ("x-api-key"), as the transport normalised it. */
struct vmb_header {
  const char *name;
  const char *value;
};

/* Scopes a subject may hold (SPEC section 2). */
enum vmb_scope {
  VMB_SCOPE_NONE = 0,
  VMB_SCOPE_READ = 1u << 0,
  VMB_SCOPE_WRITE = 1u << 1,
  VMB_SCOPE_DELETE = 1u << 2,
  VMB_SCOPE_LIST = 1u << 3,
  VMB_SCOPE_ADMIN = 1u << 4
};
#define VMB_SCOPES_DEFAULT \
  (VMB_SCOPE_READ | VMB_SCOPE_WRITE | VMB_SCOPE_DELETE | VMB_SCOPE_LIST)

#define VMB_SUBJECT_MAX 128

/* Who is calling, once authentication has succeeded. */
struct vmb_identity {
  bool authenticated;
  char subject[VMB_SUBJECT_MAX + 1];
  const char *mode;        /* "api_key", "jwt", "mtls", "stdio" (static) */
  unsigned scopes;         /* bitmask of enum vmb_scope */
  /* The last second (epoch) the credential is accepted, when it has an
     expiry the bridge knows: a JWT's exp plus the verifier's leeway. 0:
     none known (static API keys; mTLS, whose notAfter the front web
     server checks and does not pass on). Parked streams end after it. */
  long long expires_at;
  /* Grants from the subject registry or DEFAULT_GRANTS_JSON, filled by
     the gate (registry.c) in the request arena; NULL until resolved. */
  const struct vmb_grant_set *grants;
};

/* What the front web server says about TLS. Only set from the server's
   own params (never from HTTP_* headers: those are client-controlled). */
struct vmb_tls_info {
  bool https;                   /* HTTPS=on */
  const char *client_s_dn;      /* SSL_CLIENT_S_DN, NULL when absent */
  const char *client_verify;    /* SSL_CLIENT_VERIFY, NULL when absent */
  /* A trusted proxy's verdict, copied by the web server's configuration
     into params of their own (VMB_PROXY_CLIENT_S_DN, VMB_PROXY_CLIENT_VERIFY):
     unlike an HTTP_* param, no client can write these, whatever it spells. */
  const char *proxy_s_dn;
  const char *proxy_verify;
};

/*
** A streaming writer supplied by the transport, for Server-Sent Events.
** begin() sends status and headers; write() sends bytes and flushes them
** to the client. Both return 0, or -1 when the client is gone.
*/
struct vmb_parked;
struct vmb_buf;

/*
** A connection a transport hands to the core's event loop (vmb/mcp.h,
** vmb_mcp_park_adopt): its fd and the transport's framing. The loop
** calls these on its own thread only. frame() and finish() append to out
** and return -1 when out's ceiling is reached (out unchanged); input()
** gets bytes read from fd and returns 0, 1 when the peer ended the
** request, -1 when the bytes make no sense (the fd is then closed).
*/
struct vmb_park_conn {
  int fd;
  void *ctx;
  int (*frame)(void *ctx, const char *data, size_t len, struct vmb_buf *out);
  int (*finish)(void *ctx, struct vmb_buf *out);
  int (*input)(void *ctx, const void *data, size_t len);
  void (*release)(void *ctx);
};

struct vmb_stream {
  void *ctx;
  int (*begin)(void *ctx, int status, const struct vmb_header *headers,
               size_t n_headers);
  int (*write)(void *ctx, const char *data, size_t len);
  /* Optional (NULL: the handler keeps its thread for the stream's life).
     Offer the stream, headers and hello already written and flushed, to
     the transport for parking: 0 when it takes p (and later passes it to
     vmb_mcp_park_adopt or vmb_mcp_park_drop), -1 when it cannot. */
  int (*park)(void *ctx, struct vmb_parked *p);
};

/* A request's trace context: obs/trace.c fills it when tracing is on (all
   zero otherwise); outbound calls take it explicitly to parent their
   client spans, so no span state hides in thread-local storage. */
struct vmb_trace_ctx {
  bool active, sampled, has_parent;
  uint8_t flags;
  uint8_t trace_id[16], span_id[8], parent_id[8];
  uint64_t start_ns;
};

struct vmb_request {
  struct vmb_arena *arena;      /* per-request memory, owned by the worker */
  struct vmb_worker *worker;    /* per-thread state (curl handle, ...) */

  const char *method;           /* "GET", ... */
  const char *path;             /* decoded route path, starts with '/' */
  const char *query;            /* raw query string without '?', or "" */
  const struct vmb_header *headers;
  size_t n_headers;
  const char *body;             /* NUL-terminated copy, may be "" */
  size_t body_len;
  bool body_too_large;          /* transport stopped reading at the cap */
  const char *client_addr;      /* REMOTE_ADDR or "stdio" */
  struct vmb_tls_info tls;
  const struct vmb_stream *stream;  /* NULL when streaming is impossible */

  /* Filled by the core. */
  char request_id[33];          /* 128-bit random, hex */
  char correlation_id[65];
  char trace_id[33];            /* empty unless tracing is on */
  struct vmb_trace_ctx trace;   /* the server span, parent of child spans */
  struct vmb_identity identity;
};

#define VMB_RESPONSE_MAX_HEADERS 24

struct vmb_response {
  int status;
  struct vmb_header headers[VMB_RESPONSE_MAX_HEADERS];
  size_t n_headers;
  struct vmb_buf body;          /* owned by the response */
  bool streamed;                /* the handler already wrote via stream */
};

/* Case-insensitive header lookup; NULL when absent. The first match wins. */
const char *vmb_request_header(const struct vmb_request *req, const char *name);
/* Value of one query parameter, percent-decoded into the arena; NULL when
   absent. Sets *bad when the encoding is invalid. */
const char *vmb_request_query(const struct vmb_request *req, const char *name,
                              bool *bad);

void vmb_response_init(struct vmb_response *resp, size_t max_body);
void vmb_response_free(struct vmb_response *resp);
/* Add a header; name and value must outlive the response (arena or
   static). Returns -1 when the fixed header table is full. */
int vmb_response_header(struct vmb_response *resp, const char *name,
                        const char *value);

#endif
