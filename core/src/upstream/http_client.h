/*
** http_client.h - the one outbound HTTP client (issue 18): Vault, AWS KMS,
** the JWKS endpoint and the OTLP collector all call out through it, so
** they share one set of rules:
**   - a connection set per thread (struct vmb_upstream_conns): a worker
**     owns one, a background thread owns its own; curl handles are never
**     shared between threads and stay open for keep-alive;
**   - no proxy from the environment, ever (http_proxy & co. are ignored);
**   - http and https only, no redirects;
**   - a cap on the reply and timeouts, both per upstream;
**   - every call counted in the upstream metrics (calls, errors,
**     duration; the label is the upstream's fixed name) and, when the
**     caller passes a trace context, recorded as a client span with the
**     W3C traceparent header sent along.
** What a call means (Vault's status mapping, KMS's error names) stays
** with the caller; this module only moves bytes.
*/
#ifndef VMB_HTTP_CLIENT_H
#define VMB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/buf.h"
#include "vmb/request.h"

/* The upstreams; each has its own handle in a connection set. */
enum vmb_upstream_id {
  VMB_UPSTREAM_VAULT,
  VMB_UPSTREAM_KMS,
  VMB_UPSTREAM_JWKS,
  VMB_UPSTREAM_OTLP,
  VMB_UPSTREAM_COUNT
};

/* How to reach one upstream; filled once at start-up by the module that
   owns it and read-only afterwards. Strings are BORROWED. */
struct vmb_upstream {
  enum vmb_upstream_id id;
  const char *name;             /* "vault", ...: metric and span label */
  long timeout_ms;              /* whole call */
  long connect_timeout_ms;
  size_t reply_max;             /* a longer reply fails the call */
  bool path_as_is;              /* send the path exactly as built */
  bool keepalive;               /* TCP keep-alive probes */
  const char *protocols;        /* NULL: "http,https"; "https" to insist */
  /* TLS; NULL or "" means the system default. */
  const char *cacert, *capath, *client_cert, *client_key;
  bool skip_verify;             /* development only */
};

/* One thread's connections: one curl handle per upstream, created on
   first use with the upstream's fixed options. Zero-initialise; close
   with vmb_upstream_conns_close. Never used by two threads at once. */
struct vmb_upstream_conns {
  void *handle[VMB_UPSTREAM_COUNT];     /* CURL * */
  /* The multi handle that drives this set's calls and holds its kept-alive
     connections, with the sockets and timer libcurl asked us to watch
     (http_client.c). Created on first use. */
  struct vmb_upstream_driver *driver;
};
void vmb_upstream_conns_close(struct vmb_upstream_conns *c);

struct vmb_upstream_call {
  const char *method;           /* "GET", "POST", "LIST", ... */
  const char *url;
  /* "Name: value" lines, NULL-terminated (may be NULL). They may hold
     credentials: the client's copies are wiped before they are freed. */
  const char *const *headers;
  const char *body;             /* NULL: none */
  size_t body_len;
  const char *op;               /* bounded operation name, for the span */
  const struct vmb_trace_ctx *trace;    /* NULL: no span */
  /* Optional: each response header line as received. */
  void (*on_header)(const char *line, size_t len, void *ud);
  void *header_ud;
};

/* Why a call got no HTTP answer. */
enum vmb_upstream_failure {
  VMB_UPSTREAM_ANSWERED = 0,    /* status holds the answer */
  VMB_UPSTREAM_UNREACHABLE,     /* connect, TLS, DNS, timeout, dropped */
  VMB_UPSTREAM_TOO_LARGE,       /* the reply passed reply_max */
  VMB_UPSTREAM_NOMEM
};

/* What kept an answer away, finer than the failure: from libcurl's code
   and the socket errno, so an operator (and the health probe's reason
   gauge) can tell "nothing listens" from "no route" or "no answer in
   time". */
enum vmb_upstream_cause {
  VMB_UPSTREAM_CAUSE_NONE = 0,  /* answered */
  VMB_UPSTREAM_CAUSE_REFUSED,   /* connection refused: nothing listens */
  VMB_UPSTREAM_CAUSE_TIMEOUT,   /* no connection or answer in time */
  VMB_UPSTREAM_CAUSE_DNS,       /* the name does not resolve */
  VMB_UPSTREAM_CAUSE_TLS,       /* handshake or certificate failed */
  VMB_UPSTREAM_CAUSE_OTHER      /* no route, reset, cut off, too large, memory */
};

struct vmb_upstream_reply {
  long status;                  /* 0 when not answered */
  enum vmb_upstream_failure failure;
  enum vmb_upstream_cause cause;
  struct vmb_buf body;          /* the reply; caller frees (vmb_buf_free) */
  /* For failures: libcurl's code and texts and the TLS verify result,
     so callers can tell an operator what to fix. */
  int curl_code;
  long tls_verify_result;
  const char *error;            /* static text */
  char error_detail[256];       /* libcurl's error buffer */
};

/*
** Make one call on conns' handle for up. Always fills *reply (free its
** body with vmb_buf_free); returns 0 when an HTTP answer came (any
** status), -1 otherwise (reply->failure says why).
*/
int vmb_upstream_call(struct vmb_upstream_conns *conns, const struct vmb_upstream *up,
                      const struct vmb_upstream_call *call,
                      struct vmb_upstream_reply *reply);

#ifdef VMB_FUZZ_TRANSPORT
/*
** The fuzzing build only (tests/fuzz/project defines VMB_FUZZ_TRANSPORT;
** the bridge itself never has this): answer every call from memory
** instead of the network, so a harness can feed hostile upstream answers
** through the whole core (client, Vault/KMS translation, handlers) at
** parser speed. Status 0 makes the call fail as unreachable (curl_code
** says how); headers are "Name: value\r\n" lines handed to on_header one
** by one; the body goes through the same reply cap as a real one.
** BORROWED until replaced; NULL goes back to the network. One thread.
*/
struct vmb_upstream_canned {
  long status;
  int curl_code;
  const char *headers;
  size_t headers_len;
  const char *body;
  size_t body_len;
};
void vmb_upstream_set_canned(const struct vmb_upstream_canned *canned);
#endif

#endif
