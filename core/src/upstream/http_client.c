/*
** http_client.c - the one outbound HTTP client (see http_client.h).
**
** A handle gets the options that never change for its upstream once,
** when it is created (timeouts, TLS, no proxy, protocols, path as is);
** each call then sets every per-call option (URL, method, headers, body,
** callbacks), so nothing of a previous call leaks into the next and no
** curl_easy_reset is needed. The connections stay open between calls
** (keep-alive per thread and upstream) in the set's multi handle.
**
** A call is driven with libcurl's socket interface rather than
** curl_easy_perform: libcurl says which socket to wait for and how long
** (on_socket, on_timer), this file waits in one poll() and tells libcurl
** what became ready, so libcurl reads without checking the socket again.
** curl_easy_perform would add a poll of its internal wake-up pipe before
** every call and one more zero-timeout poll after every wait, two of the
** eight system calls a Vault round trip made (docs/benchmarks.md).
*/
#include "http_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "metrics.h"
#include "trace.h"
#include "util.h"

/* The sockets libcurl wants watched, and when it wants to be called
   back without any socket event. Owned by one connection set. An HTTP/1.1
   call uses one socket; a connect trying IPv6 and IPv4 at once, two. */
#define DRIVER_SOCKETS 8
struct vmb_upstream_driver {
  CURLM *multi;
  struct {
    curl_socket_t fd;
    short events;               /* POLLIN / POLLOUT */
  } sock[DRIVER_SOCKETS];
  int nsock;
  long timeout_ms;              /* -1: no timer */
};

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
  struct vmb_upstream_driver *d = userp;
  int i;
  (void)e;
  (void)socketp;
  for(i = 0; i < d->nsock && d->sock[i].fd != s; i++)
    ;
  if(what == CURL_POLL_REMOVE) {
    if(i < d->nsock)
      d->sock[i] = d->sock[--d->nsock];
    return 0;
  }
  if(i == d->nsock) {
    if(d->nsock == DRIVER_SOCKETS)
      return -1;                /* libcurl fails the call */
    d->sock[d->nsock++].fd = s;
  }
  d->sock[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                              ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
  struct vmb_upstream_driver *d = userp;
  (void)m;
  d->timeout_ms = timeout_ms;
  return 0;
}

static struct vmb_upstream_driver *driver_get(struct vmb_upstream_conns *c)
{
  struct vmb_upstream_driver *d = c->driver;
  if(d)
    return d;
  d = calloc(1, sizeof(*d));
  if(!d)
    return NULL;
  d->multi = curl_multi_init();
  if(!d->multi) {
    free(d);
    return NULL;
  }
  d->timeout_ms = -1;
  curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
  curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
  c->driver = d;
  return d;
}

/*
** Run one transfer on h to its end, as curl_easy_perform would. libcurl
** enforces the handle's timeouts through the timer it sets, so a wait
** here never lasts longer than it asked (and at most a second when no
** timer is set). A wait interrupted by a signal (SIGUSR2 at shutdown) is
** resumed.
*/
static CURLcode drive(struct vmb_upstream_driver *d, CURL *h)
{
  struct pollfd pfd[DRIVER_SOCKETS];
  CURLMcode mc;
  CURLMsg *msg;
  CURLcode cc = CURLE_OK;
  bool done = false;
  int running = 0, left, n, i, rc;

  mc = curl_multi_add_handle(d->multi, h);
  if(mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
  mc = curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  while(mc == CURLM_OK && running > 0) {
    long wait = d->timeout_ms < 0 || d->timeout_ms > 1000 ? 1000 : d->timeout_ms;
    n = d->nsock;
    for(i = 0; i < n; i++) {
      pfd[i].fd = d->sock[i].fd;
      pfd[i].events = d->sock[i].events;
      pfd[i].revents = 0;
    }
    rc = wait > 0 || n > 0 ? poll(pfd, (nfds_t)n, (int)wait) : 0;
    if(rc < 0 && errno == EINTR)
      continue;
    if(rc <= 0) {
      /* The timer is due. (A failed poll lands here too; libcurl's own
         timeout check then ends the call in time.) */
      mc = curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      continue;
    }
    for(i = 0; i < n && mc == CURLM_OK; i++) {
      int ev = 0;
      if(!pfd[i].revents)
        continue;
      if(pfd[i].revents & (POLLIN | POLLHUP))
        ev |= CURL_CSELECT_IN;
      if(pfd[i].revents & POLLOUT)
        ev |= CURL_CSELECT_OUT;
      if(pfd[i].revents & (POLLERR | POLLNVAL))
        ev |= CURL_CSELECT_ERR;
      mc = curl_multi_socket_action(d->multi, pfd[i].fd, ev, &running);
    }
  }
  while((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
    if(msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
      cc = msg->data.result;
      done = true;
    }
  }
  curl_multi_remove_handle(d->multi, h);
  if(!done)
    cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
         : mc != CURLM_OK ? CURLE_FAILED_INIT : CURLE_GOT_NOTHING;
  return cc;
}

void vmb_upstream_conns_close(struct vmb_upstream_conns *c)
{
  size_t i;
  for(i = 0; i < VMB_UPSTREAM_COUNT; i++)
    if(c->handle[i]) {
      curl_easy_cleanup(c->handle[i]);
      c->handle[i] = NULL;
    }
  if(c->driver) {
    /* closes the kept-alive connections */
    curl_multi_cleanup(c->driver->multi);
    free(c->driver);
    c->driver = NULL;
  }
}

/* Per-call state the callbacks see. */
struct call_ctx {
  struct vmb_upstream_reply *reply;
  const struct vmb_upstream_call *call;
  size_t cap;
  bool too_large;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct call_ctx *x = ud;
  size_t n = size * nmemb;
  /* Returning less than n makes libcurl abort with CURLE_WRITE_ERROR. */
  if(x->reply->body.len + n > x->cap) {
    x->too_large = true;
    return 0;
  }
  return vmb_buf_append(&x->reply->body, ptr, n) ? 0 : n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct call_ctx *x = ud;
  size_t n = size * nmemb;
  if(x->call->on_header)
    x->call->on_header(ptr, n, x->call->header_ud);
  return n;
}

static void *new_handle(const struct vmb_upstream *up)
{
  CURL *h = curl_easy_init();
  if(!h)
    return NULL;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, up->timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, up->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, up->protocols ? up->protocols : "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  /* Never a proxy from the environment (http_proxy, HTTPS_PROXY,
     ALL_PROXY): tokens, signed requests and secrets travel here. An
     empty PROXY disables proxies, and NOPROXY "*" covers every host. */
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)up->reply_max);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "vault-mcp-bridge");
  if(up->keepalive)
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if(up->path_as_is)
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  if(up->cacert && *up->cacert)
    curl_easy_setopt(h, CURLOPT_CAINFO, up->cacert);
  if(up->capath && *up->capath)
    curl_easy_setopt(h, CURLOPT_CAPATH, up->capath);
  if(up->client_cert && *up->client_cert)
    curl_easy_setopt(h, CURLOPT_SSLCERT, up->client_cert);
  if(up->client_key && *up->client_key)
    curl_easy_setopt(h, CURLOPT_SSLKEY, up->client_key);
  if(up->skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  return h;
}

#ifdef VMB_FUZZ_TRANSPORT
static const struct vmb_upstream_canned *canned;

void vmb_upstream_set_canned(const struct vmb_upstream_canned *c)
{
  canned = c;
}

/* Deliver the canned answer through the callbacks a real transfer uses. */
static void canned_answer(struct call_ctx *x)
{
  struct vmb_upstream_reply *reply = x->reply;
  const char *p = canned->headers, *end;
  if(!canned->status || !p) {
    reply->curl_code = canned->curl_code ? canned->curl_code : (int)CURLE_RECV_ERROR;
    reply->error = curl_easy_strerror((CURLcode)reply->curl_code);
    reply->failure = VMB_UPSTREAM_UNREACHABLE;
    return;
  }
  end = p + canned->headers_len;
  while(p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
    on_header((char *)p, 1, n, x);
    p += n;
  }
  if(canned->body_len &&
     on_body((char *)canned->body, 1, canned->body_len, x) != canned->body_len) {
    reply->curl_code = (int)CURLE_WRITE_ERROR;
    reply->error = x->too_large ? "the reply is larger than allowed" : "out of memory";
    reply->failure = x->too_large ? VMB_UPSTREAM_TOO_LARGE : VMB_UPSTREAM_NOMEM;
    return;
  }
  reply->status = canned->status;
}
#endif

static enum vmb_upstream_cause cause_of(CURLcode cc, long os_errno)
{
  switch(cc) {
  case CURLE_COULDNT_RESOLVE_HOST:
    return VMB_UPSTREAM_CAUSE_DNS;
  case CURLE_OPERATION_TIMEDOUT:
    return VMB_UPSTREAM_CAUSE_TIMEOUT;
  case CURLE_COULDNT_CONNECT:
    if(os_errno == ECONNREFUSED)
      return VMB_UPSTREAM_CAUSE_REFUSED;
    if(os_errno == ETIMEDOUT)
      return VMB_UPSTREAM_CAUSE_TIMEOUT;
    return VMB_UPSTREAM_CAUSE_OTHER;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    return VMB_UPSTREAM_CAUSE_TLS;
  default:
    return VMB_UPSTREAM_CAUSE_OTHER;
  }
}

/* curl_slist copies each line; the copies may hold a token, so wipe them
   before they are freed. */
static void slist_wipe_free(struct curl_slist *l)
{
  struct curl_slist *p;
  for(p = l; p; p = p->next)
    if(p->data)
      OPENSSL_cleanse(p->data, strlen(p->data));
  curl_slist_free_all(l);
}

int vmb_upstream_call(struct vmb_upstream_conns *conns, const struct vmb_upstream *up,
                      const struct vmb_upstream_call *call,
                      struct vmb_upstream_reply *reply)
{
  struct call_ctx x;
  struct curl_slist *hdrs = NULL, *n;
  struct vmb_trace_span span;
  char tp[128];
  const char *const *hp;
  uint64_t started = vmb_monotonic_us();
  CURLcode cc = CURLE_OK;
  struct vmb_upstream_driver *d;
  CURL *h;
  bool ok;

  memset(reply, 0, sizeof(*reply));
  vmb_buf_init(&reply->body, up->reply_max + 1);
  memset(&x, 0, sizeof(x));
  x.reply = reply;
  x.call = call;
  x.cap = up->reply_max;
  vmb_trace_span_begin(&span, call->trace);

#ifdef VMB_FUZZ_TRANSPORT
  if(canned) {
    canned_answer(&x);
    goto out;
  }
#endif
  d = driver_get(conns);
  h = conns->handle[up->id];
  if(!h && d)
    h = conns->handle[up->id] = new_handle(up);
  if(!h || !d) {
    reply->failure = VMB_UPSTREAM_NOMEM;
    reply->error = "out of memory";
    goto out;
  }
  for(hp = call->headers; hp && *hp; hp++) {
    n = curl_slist_append(hdrs, *hp);
    if(!n)
      goto nomem;
    hdrs = n;
  }
  if(vmb_trace_header(&span, tp, sizeof(tp)) == 0) {
    n = curl_slist_append(hdrs, tp);       /* W3C trace context */
    if(!n)
      goto nomem;
    hdrs = n;
  }
  n = curl_slist_append(hdrs, "Expect:");  /* no 100-continue round trip */
  if(!n)
    goto nomem;
  hdrs = n;

  curl_easy_setopt(h, CURLOPT_URL, call->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, reply->error_detail);
  if(call->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
  }
  else {
    /* HTTPGET clears a previous call's body; the custom method then
       names the real verb (GET, LIST, DELETE, POST without body). */
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
  cc = drive(d, h);
  /* Nothing of this call may be used by the next one. */
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
  if(cc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
  }
  else {
    long os_errno = 0;
    reply->curl_code = (int)cc;
    reply->error = curl_easy_strerror(cc);
    curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &reply->tls_verify_result);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    reply->cause = cause_of(cc, os_errno);
    reply->failure = x.too_large || cc == CURLE_FILESIZE_EXCEEDED
                       ? VMB_UPSTREAM_TOO_LARGE
                       : cc == CURLE_OUT_OF_MEMORY ? VMB_UPSTREAM_NOMEM
                                                   : VMB_UPSTREAM_UNREACHABLE;
    if(reply->failure == VMB_UPSTREAM_TOO_LARGE)
      reply->error = "the reply is larger than allowed";
  }
  goto out;
nomem:
  reply->failure = VMB_UPSTREAM_NOMEM;
  reply->error = "out of memory";
out:
  if(reply->failure != VMB_UPSTREAM_ANSWERED && reply->cause == VMB_UPSTREAM_CAUSE_NONE)
    reply->cause = VMB_UPSTREAM_CAUSE_OTHER;
  slist_wipe_free(hdrs);
  ok = reply->failure == VMB_UPSTREAM_ANSWERED && reply->status < 500;
  vmb_metrics_upstream(up->name, ok, vmb_monotonic_us() - started);
  vmb_trace_client_end(&span, up->name, call->method, call->op, reply->status);
  return reply->failure == VMB_UPSTREAM_ANSWERED ? 0 : -1;
}
