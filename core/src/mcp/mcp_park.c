/*
** mcp_park.c - the event loop that holds parked event streams
** (GET /mcp/sse and 2026-07-28 subscriptions/listen; docs/mcp.md, "How
** streams are held").
**
** A stream's serving thread authenticates, checks scope and limits,
** writes the headers and the hello, then hands the stream over
** (vmb_mcp_park_adopt): from then on one thread per process, this loop,
** holds it with epoll, and the serving thread goes back to serving
** requests. What the loop owns per stream: the connection's fd, the
** transport's framing callbacks (struct vmb_park_conn: FastCGI records
** for vault-mcp-fcgi), a bounded output buffer and the stream's place
** in the event sequence. Nothing per stream ticks: one eventfd wakes the
** loop when events may be new (mcp_bus.c's futex waiter or Redis reader
** writes it), one timerfd drives every keepalive, and a stream's fd is
** only watched for input (the web server closing, or ABORT_REQUEST) and,
** while its buffer is not empty, for output.
**
** Keepalives are spread over the interval: the timer ticks every
** KA_TICK_MS (n_slots = MCP_SSE_KEEPALIVE_SECONDS / KA_TICK_MS times per
** interval, at most KA_SLOTS_MAX) and each tick serves one slot of a wheel
** (each stream sits in the least-filled slot from adoption on), so 10 000
** streams opened together do not all write at the same instant: one burst
** of 10 000 writes held the front web server's workers long enough to
** raise the p99 of ordinary requests eightfold, 16 bursts of 625 still
** 2.7-fold (docs/benchmarks.md, runs 6 and 7).
** A stream still gets a keepalive every MCP_SSE_KEEPALIVE_SECONDS; the
** per-stream checks that ride on it (grace period, credential expiry,
** registry) keep that cadence too.
**
** Ownership and threads: every struct pstream is touched by the loop
** thread only. Serving threads hand streams over through the inbox
** (mutex) and the eventfd; shutdown (vmb_mcp_park_stop) sets a flag and
** writes the eventfd. The counters are atomics, read by /metrics.
**
** A stream ends when its client goes (EOF on the fd, ABORT_REQUEST, a
** failed write), when the process stops (each gets its final event: the
** listen response for subscriptions, END_REQUEST for both), when its
** subject is disabled or removed in the registry, when the credential
** that opened it expires (a JWT's exp: `credential_expired`, at the
** stream's first keepalive after it; no timer per stream), or when
** its reader is too slow: more than MCP_STREAM_BUFFER_BYTES waiting (the socket's
** kernel send buffer is set to the same size at adoption), then a final
** `stream.closed` event, END_REQUEST, and the fd is closed at the stream's
** first keepalive slot CLOSE_GRACE_S or more later whether or not that
** was read.
*/
#include "mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "metrics.h"
#include "registry.h"
#include "util.h"
#include "vmb/log.h"
#include "vmb/worker.h"

#define NBUCKETS 4096u               /* subject hash buckets (power of 2) */
#define EV_BATCH 256
#define CLOSE_GRACE_S 5u
#define STOP_FLUSH_MS 2000u          /* shutdown: time to flush final records */
#define FINAL_RESERVE 4096u          /* room kept for the final event + END */
#define KA_TICK_MS 50u               /* keepalive wheel: one slot per tick */
#define KA_SLOTS_MAX 1024u

struct vmb_parked {
  char subject[VMB_SUBJECT_MAX + 1];
  char request_id[33];
  long slot;                         /* mcp_bus.c's stream row */
  uint64_t last;                     /* id of the last event delivered */
  bool listen, tool_events;
  json_object *listen_id;            /* OWNED; NULL for /mcp/sse */
  /* Opened with an API key issued through the registry: its SHA-256 (as
     the registry stores it; never the key), so the stream ends when the
     key is revoked. */
  bool registry_key;
  unsigned char key_digest[32];
  /* The opening credential's last accepted second (epoch; struct
     vmb_identity), 0 when it has no expiry the bridge knows. */
  long long expires_at;
};

struct pstream {
  struct vmb_parked *p;
  struct vmb_park_conn c;
  struct vmb_buf out;                /* framed bytes not yet written */
  uint64_t hash;
  bool closing, want_out;
  uint64_t deadline_us;              /* closing: close the fd by then */
  struct pstream *snext, *sprev;     /* same bucket */
  struct pstream *anext, *aprev;     /* all streams / inbox */
  struct pstream *wnext, *wprev;     /* same keepalive slot */
  unsigned wslot;
};

static struct {
  pthread_mutex_t lock;              /* inbox, exited */
  struct pstream *inbox;
  bool exited;
  pthread_once_t once;
  int start_rc;
  int ep, efd, tfd;
  pthread_t thread;
  atomic_bool stop;
  atomic_int efd_ready;              /* efd, published once set up: read by
                                        the stopping thread without the once */
  /* Loop thread only below. */
  struct pstream *all;
  struct pstream *bucket[NBUCKETS];
  uint64_t cursor;
  struct pstream *wheel[KA_SLOTS_MAX];
  unsigned wheel_n[KA_SLOTS_MAX];
  unsigned wheel_pos;                /* the slot the next tick serves */
  bool stopping;
  uint64_t stop_deadline_us;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT, .start_rc = -1,
       .ep = -1, .efd = -1, .tfd = -1, .efd_ready = -1};

static long keepalive_s = 15;
static unsigned n_slots = 16;        /* keepalive wheel slots, set at init */
static size_t buf_max = 64u * 1024u;
static atomic_long n_parked;

int vmb_mcp_park_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  keepalive_s = cfg->mcp_sse_keepalive_seconds > 0 ? cfg->mcp_sse_keepalive_seconds : 15;
  {
    long n = keepalive_s * 1000 / (long)KA_TICK_MS;
    n_slots = n < 1 ? 1u : n > (long)KA_SLOTS_MAX ? KA_SLOTS_MAX : (unsigned)n;
  }
  buf_max = cfg->mcp_stream_buffer_bytes > 0 ? (size_t)cfg->mcp_stream_buffer_bytes :
            64u * 1024u;
  return 0;
}

long vmb_mcp_streams_parked(void) { return atomic_load(&n_parked); }

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for(; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* ---- the parked description, built by the handlers ------------------ */

struct vmb_parked *vmb_mcp_parked_new(struct vmb_request *req, long slot,
                                      uint64_t last, bool listen, bool tool_events,
                                      json_object *listen_id)
{
  struct vmb_parked *p = calloc(1, sizeof(*p));
  if(!p)
    return NULL;
  snprintf(p->subject, sizeof(p->subject), "%s", req->identity.subject);
  snprintf(p->request_id, sizeof(p->request_id), "%s", req->request_id);
  p->slot = slot;
  p->last = last;
  p->listen = listen;
  p->tool_events = tool_events;
  p->expires_at = req->identity.expires_at;
  {
    const char *key = vmb_request_header(req, "x-api-key");
    if(key && req->identity.mode && !strcmp(req->identity.mode, "api_key") &&
       !vmb_registry_apikey_digest(key, p->key_digest) &&
       vmb_registry_apikey_live(req, p->key_digest) == 1)
      p->registry_key = true;
    else
      OPENSSL_cleanse(p->key_digest, sizeof(p->key_digest));
  }
  if(listen_id) {
    /* The id lives in the request's arena: keep a copy of our own. */
    const char *t = json_object_to_json_string_ext(listen_id, JSON_C_TO_STRING_PLAIN);
    p->listen_id = t ? json_tokener_parse(t) : NULL;
    if(!p->listen_id && !json_object_is_type(listen_id, json_type_null)) {
      free(p);
      return NULL;
    }
  }
  return p;
}

void vmb_mcp_park_drop(struct vmb_parked *p)
{
  if(!p)
    return;
  vmb_mcp_stream_close(p->slot);
  json_object_put(p->listen_id);
  OPENSSL_cleanse(p->key_digest, sizeof(p->key_digest));
  free(p);
}

/* ---- formatting ------------------------------------------------------ */

/* The text of one event for stream s into tmp; 1 when s does not want it. */
static int format_event(const struct pstream *s, const struct vmb_mcp_event *e,
                        struct vmb_buf *tmp)
{
  json_object *doc;
  const char *t;
  int rc = -1;
  vmb_buf_reset(tmp);
  if(s->p->listen) {
    if(!s->p->tool_events)
      return 1;
    doc = vmb_mcp_tool_event(s->p->listen_id, e->tool, e->subject, e->ts, e->seq);
    t = doc ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
    if(t)
      rc = vmb_buf_printf(tmp, "data: %s\n\n", t);
  }
  else {
    doc = vmb_mcp_sse_event_doc(e);
    if(!doc)
      return 1;
    t = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                       JSON_C_TO_STRING_NOSLASHESCAPE);
    if(t)
      rc = vmb_buf_printf(tmp, "id: %llu\nevent: tool.completed\ndata: %s\n\n", e->seq, t);
  }
  json_object_put(doc);
  return rc ? 1 : 0;                 /* out of memory: skip, keep the stream */
}

/* ---- one stream ------------------------------------------------------ */

static void arm(struct pstream *s, bool want_out)
{
  struct epoll_event ev;
  if(s->want_out == want_out)
    return;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u);
  ev.data.ptr = s;
  if(!epoll_ctl(L.ep, EPOLL_CTL_MOD, s->c.fd, &ev))
    s->want_out = want_out;
}

static void destroy(struct pstream *s)
{
  size_t b = s->hash & (NBUCKETS - 1);
  epoll_ctl(L.ep, EPOLL_CTL_DEL, s->c.fd, NULL);
  close(s->c.fd);
  if(s->c.release)
    s->c.release(s->c.ctx);
  if(s->sprev)
    s->sprev->snext = s->snext;
  else
    L.bucket[b] = s->snext;
  if(s->snext)
    s->snext->sprev = s->sprev;
  if(s->aprev)
    s->aprev->anext = s->anext;
  else
    L.all = s->anext;
  if(s->anext)
    s->anext->aprev = s->aprev;
  if(s->wprev)
    s->wprev->wnext = s->wnext;
  else
    L.wheel[s->wslot] = s->wnext;
  if(s->wnext)
    s->wnext->wprev = s->wprev;
  L.wheel_n[s->wslot]--;
  vmb_buf_free(&s->out);
  vmb_mcp_park_drop(s->p);
  free(s);
  atomic_fetch_sub(&n_parked, 1);
  vmb_metrics_streams(-1);
}

/* Write what is buffered. false when s was destroyed. */
static bool flush(struct pstream *s)
{
  while(s->out.len) {
    ssize_t n = send(s->c.fd, s->out.data, s->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if(n > 0) {
      memmove(s->out.data, s->out.data + n, s->out.len - (size_t)n);
      s->out.len -= (size_t)n;
      s->out.data[s->out.len] = '\0';
      continue;
    }
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      arm(s, true);
      return true;
    }
    if(n < 0 && errno == EINTR)
      continue;
    destroy(s);                      /* the web server is gone */
    return false;
  }
  arm(s, false);
  if(s->closing) {
    destroy(s);
    return false;
  }
  if(s->out.cap > 8192u)
    vmb_buf_free(&s->out);           /* a burst is over: give the memory back */
  return true;
}

/* Queue the end of s: its final event (why NULL: shutdown; SSE streams
   then end without one, as before), END_REQUEST, then close. */
static bool finish(struct pstream *s, const char *why)
{
  struct vmb_buf tmp;
  if(s->closing)
    return true;
  s->closing = true;
  s->deadline_us = vmb_monotonic_us() + CLOSE_GRACE_S * 1000000u;
  s->out.max = buf_max + FINAL_RESERVE;
  vmb_buf_init(&tmp, FINAL_RESERVE / 2);
  if(s->p->listen) {
    json_object *end = vmb_mcp_listen_closed(s->p->listen_id);
    const char *t = end ? json_object_to_json_string_ext(
      end, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
    if(t)
      vmb_buf_printf(&tmp, "data: %s\n\n", t);
    json_object_put(end);
  }
  else if(why)
    vmb_buf_printf(&tmp, "event: stream.closed\ndata: {\"type\":\"stream.closed\","
                   "\"reason\":\"%s\"}\n\n", why);
  if(tmp.len)
    s->c.frame(s->c.ctx, tmp.data, tmp.len, &s->out);
  vmb_buf_free(&tmp);
  s->c.finish(s->c.ctx, &s->out);
  if(why) {
    json_object *f = json_object_new_object();
    json_object_object_add(f, "request_id", json_object_new_string(s->p->request_id));
    json_object_object_add(f, "reason", json_object_new_string(why));
    vmb_log(VMB_LOG_SERVER, VMB_LOG_INFO, "mcp", "event stream closed by the server", f);
    json_object_put(f);
  }
  return flush(s);
}

/* Queue text on s (framed by the transport). false when s was destroyed. */
static bool queue(struct pstream *s, const char *text, size_t len)
{
  if(s->closing)
    return true;
  if(s->c.frame(s->c.ctx, text, len, &s->out))
    return finish(s, "slow_reader");  /* MCP_STREAM_BUFFER_BYTES waiting */
  return flush(s);
}

static bool deliver_one(struct pstream *s, const struct vmb_mcp_event *e, struct vmb_buf *tmp)
{
  if(s->closing || e->seq <= s->p->last)
    return true;
  s->p->last = e->seq;
  if(format_event(s, e, tmp))
    return true;
  return queue(s, tmp->data, tmp->len);
}

/* One event to every stream of its subject. /mcp/sse streams all get the
   same text, so it is formatted once per event (into sse); listen streams
   carry their own subscription id and are formatted each (into tmp). */
static void deliver(const struct vmb_mcp_event *e, struct vmb_buf *tmp, struct vmb_buf *sse)
{
  uint64_t h = hash_str(e->subject);
  struct pstream *s = L.bucket[h & (NBUCKETS - 1)], *next;
  int sse_rc = -1;                   /* -1 not yet formatted, 0 ready, 1 skip */
  for(; s; s = next) {
    next = s->snext;                 /* s may be destroyed */
    if(s->hash != h || strcmp(s->p->subject, e->subject))
      continue;
    if(s->p->listen) {
      deliver_one(s, e, tmp);
      continue;
    }
    if(s->closing || e->seq <= s->p->last)
      continue;
    s->p->last = e->seq;
    if(sse_rc < 0)
      sse_rc = format_event(s, e, sse);
    if(!sse_rc)
      queue(s, sse->data, sse->len);
  }
}

/* ---- the loop -------------------------------------------------------- */

static void adopt(struct pstream *s, struct vmb_buf *tmp)
{
  struct epoll_event ev;
  size_t b;
  int fl = fcntl(s->c.fd, F_GETFL);
  if(fl < 0 || fcntl(s->c.fd, F_SETFL, fl | O_NONBLOCK)) {
    s->c.release(s->c.ctx);
    close(s->c.fd);
    vmb_mcp_park_drop(s->p);
    free(s);
    return;
  }
  {
    /* The kernel's send buffer is part of what a stream may hold for a
       slow reader: bound it like ours (TCP would otherwise grow it to
       megabytes, per stream, before our buffer ever filled). */
    int sb = buf_max > (size_t)INT_MAX ? INT_MAX : (int)buf_max;
    setsockopt(s->c.fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
  }
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = s;
  if(epoll_ctl(L.ep, EPOLL_CTL_ADD, s->c.fd, &ev)) {
    s->c.release(s->c.ctx);
    close(s->c.fd);
    vmb_mcp_park_drop(s->p);
    free(s);
    return;
  }
  s->hash = hash_str(s->p->subject);
  b = s->hash & (NBUCKETS - 1);
  s->snext = L.bucket[b];
  if(s->snext)
    s->snext->sprev = s;
  L.bucket[b] = s;
  s->anext = L.all;
  s->aprev = NULL;
  if(L.all)
    L.all->aprev = s;
  L.all = s;
  {
    /* The least-filled keepalive slot, looking from the one served next
       so that ties spread too. */
    unsigned i, w = L.wheel_pos;
    for(i = 1; i < n_slots; i++) {
      unsigned c = (L.wheel_pos + i) % n_slots;
      if(L.wheel_n[c] < L.wheel_n[w])
        w = c;
    }
    s->wslot = w;
    s->wprev = NULL;
    s->wnext = L.wheel[w];
    if(s->wnext)
      s->wnext->wprev = s;
    L.wheel[w] = s;
    L.wheel_n[w]++;
  }
  atomic_fetch_add(&n_parked, 1);
  vmb_metrics_streams(1);
  if(L.stopping) {
    finish(s, NULL);
    return;
  }
  /* Catch up with what the loop has dispatched since the handler placed
     the stream (and, on the shared-memory bus, what Last-Event-ID asks
     to replay). */
  {
    struct vmb_mcp_event batch[32];
    uint64_t c = vmb_mcp_bus_catchup_from(s->p->last), before;
    size_t n, i;
    do {
      before = c;
      n = vmb_mcp_bus_fetch(s->p->subject, &c, L.cursor, batch, 32);
      for(i = 0; i < n; i++)
        if(!deliver_one(s, &batch[i], tmp))
          return;
    } while(c < L.cursor && c != before);
  }
  flush(s);
}

static void take_inbox(struct vmb_buf *tmp)
{
  struct pstream *s;
  pthread_mutex_lock(&L.lock);
  s = L.inbox;
  L.inbox = NULL;
  pthread_mutex_unlock(&L.lock);
  while(s) {
    struct pstream *next = s->anext;
    adopt(s, tmp);
    s = next;
  }
}

static void dispatch(struct vmb_buf *tmp, struct vmb_buf *sse)
{
  static struct vmb_mcp_event batch[EV_BATCH];   /* loop thread only */
  uint64_t end = vmb_mcp_bus_end(), before;
  size_t n, i;
  while(L.cursor < end) {
    before = L.cursor;
    n = vmb_mcp_bus_fetch(NULL, &L.cursor, end, batch, EV_BATCH);
    for(i = 0; i < n; i++)
      deliver(&batch[i], tmp, sse);
    if(L.cursor == before)
      break;                         /* the bus lock failed: next wake */
  }
}

static void on_input(struct pstream *s, uint32_t events)
{
  uint8_t buf[4096];
  for(;;) {
    ssize_t n = recv(s->c.fd, buf, sizeof(buf), MSG_DONTWAIT);
    if(n > 0) {
      int r = s->c.input(s->c.ctx, buf, (size_t)n);
      if(r > 0) {                    /* the web server aborted the request */
        if(s->closing)
          destroy(s);
        else
          finish(s, NULL);
        return;
      }
      if(r < 0) {
        destroy(s);
        return;
      }
      continue;
    }
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if(events & (EPOLLHUP | EPOLLERR))
        destroy(s);
      return;
    }
    destroy(s);                      /* EOF: the client left */
    return;
  }
}

/* Streams of subjects the registry no longer admits (disabled or
   expired), and streams opened with a registry API key since revoked,
   end. Checked once per keepalive interval per stream (with its
   keepalive) through the same registry snapshot requests use: a lookup,
   and a reload (a Vault read, on this thread) only when an admin write
   moved the registry's generation or REGISTRY_REFRESH_SECONDS passed. The
   loop has a worker of its own for that (curl handle, arena). false when
   s was finished. */
static struct vmb_worker *reg_worker;   /* loop thread only */

static bool registry_admits(struct pstream *s)
{
  struct vmb_request req;
  const char *detail = NULL;
  bool ok = true;
  if(!reg_worker && !(reg_worker = vmb_worker_create()))
    return true;
  memset(&req, 0, sizeof(req));
  req.arena = vmb_worker_arena(reg_worker);
  req.worker = reg_worker;
  req.method = "GET";
  req.path = "/mcp/sse";
  req.query = "";
  req.client_addr = "stream";
  snprintf(req.request_id, sizeof(req.request_id), "%s", s->p->request_id);
  req.identity.authenticated = true;
  req.identity.mode = "stream";
  snprintf(req.identity.subject, sizeof(req.identity.subject), "%s", s->p->subject);
  if(vmb_registry_resolve(&req, &detail) == VMB_ERR_SUBJECT_DISABLED) {
    finish(s, "subject_disabled");
    ok = false;
  }
  else if(s->p->registry_key && vmb_registry_apikey_live(&req, s->p->key_digest) == 0) {
    finish(s, "key_revoked");
    ok = false;
  }
  vmb_worker_reset(reg_worker);
  return ok;
}

/* One tick: the streams of one keepalive slot. */
static void serve_slot(unsigned slot)
{
  static const char ka[] = ": keepalive\n\n";
  struct pstream *s = L.wheel[slot], *next;
  uint64_t now = vmb_monotonic_us();
  long long wall = (long long)time(NULL);
  for(; s; s = next) {
    next = s->wnext;                 /* each step ends at most s */
    if(s->closing) {
      if(now >= s->deadline_us)
        destroy(s);                  /* its reader never took the end */
      continue;
    }
    /* Past the last second its credential is accepted: a new request
       with it would get 401 now, so the stream ends too (and a client
       that reconnects with the same token is refused, not re-admitted). */
    if(s->p->expires_at && wall > s->p->expires_at) {
      finish(s, "credential_expired");
      continue;
    }
    if(registry_admits(s))
      queue(s, ka, sizeof(ka) - 1);
  }
}

static void begin_stop(void)
{
  struct pstream *s = L.all, *next;
  L.stopping = true;
  L.stop_deadline_us = vmb_monotonic_us() + STOP_FLUSH_MS * 1000u;
  for(; s; s = next) {
    next = s->anext;
    finish(s, NULL);
  }
}

static void *loop_main(void *arg)
{
  struct epoll_event evs[256];
  struct vmb_buf tmp, sse;
  (void)arg;
  vmb_buf_init(&tmp, 64u * 1024u);
  vmb_buf_init(&sse, 64u * 1024u);
  for(;;) {
    int n, i, timeout = L.stopping ? 20 : -1;
    bool wake = false, tick = false;
    if(!L.stopping && atomic_load(&L.stop))
      begin_stop();
    if(L.stopping && (!L.all || vmb_monotonic_us() >= L.stop_deadline_us))
      break;
    n = epoll_wait(L.ep, evs, 256, timeout);
    /* Streams' own entries first: handling one destroys at most that
       stream, so every later entry's pointer is still live. The eventfd
       and the timer may end any stream, so they come after. */
    for(i = 0; i < n; i++) {
      void *ptr = evs[i].data.ptr;
      if(ptr == &L.efd)
        wake = true;
      else if(ptr == &L.tfd)
        tick = true;
      else {
        struct pstream *s = ptr;
        if(evs[i].events & EPOLLOUT) {
          if(!flush(s))
            continue;
        }
        if(evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
          on_input(s, evs[i].events);
      }
    }
    if(wake) {
      uint64_t v;
      ssize_t r = read(L.efd, &v, sizeof(v));
      (void)r;
      take_inbox(&tmp);
      dispatch(&tmp, &sse);
    }
    if(tick) {
      /* Ticks missed while the loop was busy are served now, each slot
         at most once. */
      uint64_t v = 0, k;
      ssize_t r = read(L.tfd, &v, sizeof(v));
      if(r != (ssize_t)sizeof(v) || v == 0)
        v = 1;
      for(k = 0; k < v && k < n_slots; k++) {
        serve_slot(L.wheel_pos);
        L.wheel_pos = (L.wheel_pos + 1) % n_slots;
      }
    }
  }
  /* Whatever did not flush in time is closed as it is. */
  while(L.all)
    destroy(L.all);
  vmb_worker_destroy(reg_worker);
  reg_worker = NULL;
  pthread_mutex_lock(&L.lock);
  L.exited = true;
  {
    struct pstream *s = L.inbox;
    L.inbox = NULL;
    pthread_mutex_unlock(&L.lock);
    while(s) {
      struct pstream *next = s->anext;
      s->c.release(s->c.ctx);
      close(s->c.fd);
      vmb_mcp_park_drop(s->p);
      free(s);
      s = next;
    }
  }
  vmb_buf_free(&tmp);
  vmb_buf_free(&sse);
  return NULL;
}

static void start(void)
{
  struct epoll_event ev;
  struct itimerspec its;
  pthread_attr_t at;
  L.ep = epoll_create1(EPOLL_CLOEXEC);
  L.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  L.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if(L.ep < 0 || L.efd < 0 || L.tfd < 0)
    return;
  memset(&its, 0, sizeof(its));
  {
    long long tick_ns = (long long)keepalive_s * 1000000000LL / n_slots;
    its.it_interval.tv_sec = (time_t)(tick_ns / 1000000000LL);
    its.it_interval.tv_nsec = (long)(tick_ns % 1000000000LL);
    its.it_value = its.it_interval;
  }
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = &L.efd;
  if(epoll_ctl(L.ep, EPOLL_CTL_ADD, L.efd, &ev))
    return;
  ev.data.ptr = &L.tfd;
  if(timerfd_settime(L.tfd, 0, &its, NULL) || epoll_ctl(L.ep, EPOLL_CTL_ADD, L.tfd, &ev))
    return;
  /* The cursor before the watch: nothing published after it is missed. */
  L.cursor = vmb_mcp_bus_end();
  if(vmb_mcp_bus_watch(L.efd))
    return;
  L.cursor = vmb_mcp_bus_end() < L.cursor ? vmb_mcp_bus_end() : L.cursor;
  atomic_store(&L.efd_ready, L.efd);
  if(pthread_attr_init(&at))
    return;
  pthread_attr_setstacksize(&at, 512u * 1024u);
  L.start_rc = pthread_create(&L.thread, &at, loop_main, NULL) ? -1 : 0;
  pthread_attr_destroy(&at);
  if(L.start_rc)
    vmb_log_server(VMB_LOG_ERROR, "mcp", "cannot start the event-stream loop");
}

int vmb_mcp_park_prepare(void)
{
  pthread_once(&L.once, start);
  return L.start_rc;
}

int vmb_mcp_park_adopt(struct vmb_parked *p, const struct vmb_park_conn *conn)
{
  struct pstream *s;
  uint64_t one = 1;
  ssize_t w;
  if(!p || !conn || conn->fd < 0 || !conn->frame || !conn->finish || !conn->input ||
     vmb_mcp_park_prepare() || !(s = calloc(1, sizeof(*s)))) {
    vmb_mcp_park_drop(p);
    return -1;
  }
  s->p = p;
  s->c = *conn;
  vmb_buf_init(&s->out, buf_max);
  pthread_mutex_lock(&L.lock);
  if(L.exited) {
    pthread_mutex_unlock(&L.lock);
    free(s);
    vmb_mcp_park_drop(p);
    return -1;
  }
  s->anext = L.inbox;
  L.inbox = s;
  pthread_mutex_unlock(&L.lock);
  w = write(L.efd, &one, sizeof(one));
  (void)w;
  return 0;
}

void vmb_mcp_park_stop(void)
{
  uint64_t one = 1;
  int fd = atomic_load(&L.efd_ready);
  atomic_store(&L.stop, true);
  if(fd >= 0) {
    ssize_t w = write(fd, &one, sizeof(one));
    (void)w;
  }
}

void vmb_mcp_park_join(void)
{
  vmb_mcp_park_stop();
  if(L.start_rc == 0) {
    pthread_join(L.thread, NULL);
    L.start_rc = -1;
  }
}
