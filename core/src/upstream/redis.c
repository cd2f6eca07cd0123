/*
** redis.c - the Redis client (issue 16; see redis.h and docs/scaling.md).
**
** hiredis (Debian 12: libhiredis-dev 0.14) is used for the protocol only:
** redisFormatCommandArgv builds a command and a redisReader parses the
** replies. The socket is ours: Debian 12's hiredis has no TLS, and its
** blocking context cannot hold one deadline across connect, handshake,
** write and read. So the connection is a non-blocking socket (TCP or
** unix), wrapped in OpenSSL for rediss://, and every wait is a poll()
** bounded by the command's deadline.
**
** Ownership: the parsed URL and the SSL_CTX belong to the process (made
** by init before any serving thread starts, read-only after); each
** thread owns its struct conn through a pthread key whose destructor
** closes it when the thread ends.
**
** Known limit: a host name is resolved with getaddrinfo(), which has no
** timeout; use an address or a name in /etc/hosts for a hard bound.
*/
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "metrics.h"
#include "util.h"
#include "vmb/log.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 2000u
#define REPLY_MAX_BYTES (1u << 20)   /* a reply larger than this is refused */

/* The parsed REDIS_URL; process-wide, read-only after init. */
static struct {
  bool on;
  bool tls;
  bool is_unix;
  char host[256];
  char port[8];
  char path[108];                 /* sun_path */
  char user[128];
  char pass[256];                 /* secret: never logged */
  long db;
  long timeout_ms;
  char prefix[72];
} u;

static SSL_CTX *tls_ctx;
static pthread_key_t conn_key;
static bool key_made;

/* Health of this process: 0 unknown, 1 up, 2 down; last failure reason. */
static _Atomic int state;
static const char *_Atomic last_why;

struct conn {
  int fd;                         /* -1: not connected */
  SSL *ssl;                       /* NULL for plain TCP / unix */
  redisReader *rd;
  uint64_t retry_at_us;           /* monotonic; no attempt before it */
  unsigned backoff_ms;
};

/* ---- URL ----------------------------------------------------------- */

static int hexval(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decode s[0..n) into out (NUL-terminated). -1 if it does not fit
   or is malformed. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
  size_t i, o = 0;
  for(i = 0; i < n; i++) {
    char c = s[i];
    if(c == '%') {
      int h, l;
      if(i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
        return -1;
      c = (char)(h * 16 + l);
      i += 2;
    }
    if(c == '\0' || o + 1 >= outlen)
      return -1;
    out[o++] = c;
  }
  out[o] = '\0';
  return 0;
}

static int parse_long(const char *s, size_t n, long min, long max, long *out)
{
  long v = 0;
  size_t i;
  if(n == 0 || n > 9)
    return -1;
  for(i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if(v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Errors name the part that is wrong, never the value (a password). */
static int parse_url(const char *url, char *err, size_t errlen)
{
  const char *p, *at, *end, *slash, *q;
  if(!strncmp(url, "redis://", 8))
    p = url + 8;
  else if(!strncmp(url, "rediss://", 9)) {
    p = url + 9;
    u.tls = true;
  }
  else if(!strncmp(url, "unix://", 7)) {
    p = url + 7;
    u.is_unix = true;
  }
  else {
    snprintf(err, errlen, "REDIS_URL: must start with redis://, rediss:// or unix://");
    return -1;
  }
  end = p + strlen(p);
  /* userinfo: up to the last '@' before the path */
  slash = strchr(p, '/');
  at = NULL;
  for(q = p; q < (slash ? slash : end); q++)
    if(*q == '@')
      at = q;
  if(u.is_unix && !at) {
    /* unix://user:pass@/path: the '@' sits before the first '/' */
    const char *a = strstr(p, "@/");
    if(a)
      at = a;
  }
  if(at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if(colon) {
      if(pct_decode(p, (size_t)(colon - p), u.user, sizeof(u.user)) ||
         pct_decode(colon + 1, (size_t)(at - colon - 1), u.pass, sizeof(u.pass))) {
        snprintf(err, errlen, "REDIS_URL: user or password malformed or too long");
        return -1;
      }
    }
    else if(pct_decode(p, (size_t)(at - p), u.pass, sizeof(u.pass))) {
      snprintf(err, errlen, "REDIS_URL: password malformed or too long");
      return -1;
    }
    p = at + 1;
  }
  if(u.is_unix) {
    q = strchr(p, '?');
    if(*p != '/' || (size_t)((q ? q : end) - p) >= sizeof(u.path)) {
      snprintf(err, errlen, "REDIS_URL: unix:// needs an absolute socket path (under 108 bytes)");
      return -1;
    }
    memcpy(u.path, p, (size_t)((q ? q : end) - p));
    if(q) {
      if(strncmp(q, "?db=", 4) ||
         parse_long(q + 4, strlen(q + 4), 0, 100000, &u.db)) {
        snprintf(err, errlen, "REDIS_URL: the only query allowed is ?db=N");
        return -1;
      }
    }
    return 0;
  }
  slash = strchr(p, '/');
  {
    const char *hend = slash ? slash : end, *colon;
    const char *hs = p, *he;
    if(*hs == '[') {
      he = memchr(hs, ']', (size_t)(hend - hs));
      if(!he) {
        snprintf(err, errlen, "REDIS_URL: unterminated [IPv6] host");
        return -1;
      }
      colon = he + 1 < hend && he[1] == ':' ? he + 1 : NULL;
      hs++;
    }
    else {
      colon = memchr(hs, ':', (size_t)(hend - hs));
      he = colon ? colon : hend;
    }
    if(he == hs || (size_t)(he - hs) >= sizeof(u.host)) {
      snprintf(err, errlen, "REDIS_URL: host missing or too long");
      return -1;
    }
    memcpy(u.host, hs, (size_t)(he - hs));
    if(colon) {
      long port;
      if(parse_long(colon + 1, (size_t)(hend - colon - 1), 1, 65535, &port)) {
        snprintf(err, errlen, "REDIS_URL: port must be 1..65535");
        return -1;
      }
      snprintf(u.port, sizeof(u.port), "%ld", port);
    }
    else
      snprintf(u.port, sizeof(u.port), "6379");
  }
  if(slash && slash[1] &&
     parse_long(slash + 1, strlen(slash + 1), 0, 100000, &u.db)) {
    snprintf(err, errlen, "REDIS_URL: the path must be a database number");
    return -1;
  }
  return 0;
}

/* ---- health ------------------------------------------------------- */

static enum vmb_probe_reason reason_of(const char *why)
{
  if(!why)
    return VMB_PROBE_OK;
  if(!strcmp(why, "refused"))
    return VMB_PROBE_REFUSED;
  if(!strcmp(why, "timeout"))
    return VMB_PROBE_TIMEOUT;
  if(!strcmp(why, "dns"))
    return VMB_PROBE_DNS;
  if(!strcmp(why, "tls"))
    return VMB_PROBE_TLS;
  if(!strcmp(why, "unreachable"))
    return VMB_PROBE_UNREACHABLE;
  return VMB_PROBE_HTTP_ERROR;    /* auth, protocol: "another answer" */
}

/* Record the outcome of one command: metrics always, a log line only
   when the state flips (so an outage is two lines, not one per request). */
static void note(const char *why, uint64_t t0)
{
  uint64_t dur = vmb_monotonic_us() - t0;
  int now = why ? 2 : 1, before;
  vmb_metrics_upstream("redis", why == NULL, dur);
  vmb_metrics_probe(VMB_PROBE_REDIS, reason_of(why), dur);
  if(why)
    atomic_store(&last_why, why);
  before = atomic_exchange(&state, now);
  if(before != now) {
    char msg[128];
    if(why)
      snprintf(msg, sizeof(msg), "redis unavailable: %s", why);
    else
      snprintf(msg, sizeof(msg), "redis reachable");
    vmb_log_server(why ? VMB_LOG_WARN : VMB_LOG_INFO, "redis", msg);
  }
}

/* The outcome of a blocking read (XREAD BLOCK, the event reader's own
   connection). Its duration is mostly the block, not Redis' latency, so
   it stays out of the latency metrics; a timeout says nothing about
   Redis that the request paths and /readyz would not see for themselves
   (a loaded host can miss the margin after a block; the read is simply
   tried again), so only a real failure - refused, unreachable, auth,
   TLS, a bad reply - marks Redis down, and a reply marks it up. */
static void note_blocking(const char *why, uint64_t t0)
{
  if(why && !strcmp(why, "timeout"))
    return;
  if(why) {
    note(why, t0);
    return;
  }
  if(atomic_exchange(&state, 1) != 1)
    vmb_log_server(VMB_LOG_INFO, "redis", "redis reachable");
}

bool vmb_redis_healthy(const char **why)
{
  if(why)
    *why = atomic_load(&last_why);
  return atomic_load(&state) != 2;
}

/* ---- connection --------------------------------------------------- */

static void conn_close(struct conn *c)
{
  if(c->ssl) {
    SSL_free(c->ssl);             /* no close_notify: we may be mid-reply */
    c->ssl = NULL;
  }
  if(c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  if(c->rd)
    redisReaderFree(c->rd);
  c->rd = NULL;
}

static void conn_fail(struct conn *c)
{
  conn_close(c);
  c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
  if(c->backoff_ms > BACKOFF_MAX_MS)
    c->backoff_ms = BACKOFF_MAX_MS;
  c->retry_at_us = vmb_monotonic_us() + (uint64_t)c->backoff_ms * 1000u;
}

static void conn_free(void *p)
{
  struct conn *c = p;
  if(c) {
    conn_close(c);
    free(c);
  }
}

static struct conn *my_conn(void)
{
  struct conn *c = pthread_getspecific(conn_key);
  if(c)
    return c;
  c = calloc(1, sizeof(*c));
  if(!c)
    return NULL;
  c->fd = -1;
  if(pthread_setspecific(conn_key, c)) {
    free(c);
    return NULL;
  }
  return c;
}

/* Wait for fd to become ready for ev before deadline. */
/* The cancel descriptor of this thread's blocking command in progress
   (-1: none): set by vmb_redis_command_blocking for the length of the
   call, so every wait of that call also ends when it becomes readable. */
static _Thread_local int cancel_fd = -1;

static bool cancelled(void)
{
  struct pollfd pfd = {cancel_fd, POLLIN, 0};
  return cancel_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
  for(;;) {
    uint64_t now = vmb_monotonic_us();
    struct pollfd pfd[2] = {{fd, ev, 0}, {cancel_fd, POLLIN, 0}};
    int rc;
    if(now >= deadline)
      return -1;
    rc = poll(pfd, cancel_fd >= 0 ? 2 : 1, (int)((deadline - now + 999) / 1000));
    if(rc > 0)
      return pfd[1].revents ? -1 : 0;   /* cancelled: as a timeout */
    if(rc == 0)
      return -1;
    if(errno != EINTR)
      return -1;
  }
}

static int tcp_connect(struct conn *c, uint64_t deadline, const char **why)
{
  struct addrinfo hints, *res = NULL, *ai;
  int rc;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo(u.host, u.port, &hints, &res);
  if(rc != 0) {
    *why = "dns";
    return -1;
  }
  *why = "unreachable";
  for(ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    int one = 1, soerr = 0;
    socklen_t sl = sizeof(soerr);
    if(fd < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if(connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if(errno != EINPROGRESS) {
        *why = errno == ECONNREFUSED ? "refused" : "unreachable";
        close(fd);
        continue;
      }
      if(wait_fd(fd, POLLOUT, deadline)) {
        *why = "timeout";
        close(fd);
        break;
      }
      if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        *why = soerr == ECONNREFUSED ? "refused" : "unreachable";
        close(fd);
        continue;
      }
    }
    c->fd = fd;
    break;
  }
  freeaddrinfo(res);
  return c->fd >= 0 ? 0 : -1;
}

static int unix_connect(struct conn *c, uint64_t deadline, const char **why)
{
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0) {
    *why = "unreachable";
    return -1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, u.path, strlen(u.path));
  if(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if(errno == EINPROGRESS || errno == EAGAIN) {
      if(wait_fd(fd, POLLOUT, deadline)) {
        *why = "timeout";
        close(fd);
        return -1;
      }
    }
    else {
      *why = errno == ECONNREFUSED || errno == ENOENT ? "refused" : "unreachable";
      close(fd);
      return -1;
    }
  }
  c->fd = fd;
  return 0;
}

static int tls_handshake(struct conn *c, uint64_t deadline, const char **why)
{
  *why = "tls";
  c->ssl = SSL_new(tls_ctx);
  if(!c->ssl || !SSL_set_fd(c->ssl, c->fd))
    return -1;
  {
    /* An address is checked against the certificate's IP SANs, a name
       against its DNS SANs (and sent as SNI). */
    unsigned char ip[16];
    if(inet_pton(AF_INET, u.host, ip) == 1 || inet_pton(AF_INET6, u.host, ip) == 1) {
      if(!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u.host))
        return -1;
    }
    else if(!SSL_set_tlsext_host_name(c->ssl, u.host) || !SSL_set1_host(c->ssl, u.host))
      return -1;
  }
  for(;;) {
    int rc = SSL_connect(c->ssl), e;
    if(rc == 1)
      break;
    e = SSL_get_error(c->ssl, rc);
    if(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if(wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        *why = "timeout";
        ERR_clear_error();
        return -1;
      }
      continue;
    }
    ERR_clear_error();
    return -1;
  }
  return 0;
}

static int io_write(struct conn *c, const char *buf, size_t len, uint64_t deadline,
                    const char **why)
{
  size_t off = 0;
  while(off < len) {
    if(c->ssl) {
      size_t n = 0;
      int rc = SSL_write_ex(c->ssl, buf + off, len - off, &n), e;
      if(rc == 1) {
        off += n;
        continue;
      }
      e = SSL_get_error(c->ssl, rc);
      ERR_clear_error();
      if((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
         !wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
        continue;
      *why = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "timeout" : "unreachable";
      return -1;
    }
    else {
      ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
      if(n > 0) {
        off += (size_t)n;
        continue;
      }
      if(n < 0 && errno == EINTR)
        continue;
      if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if(wait_fd(c->fd, POLLOUT, deadline)) {
          *why = "timeout";
          return -1;
        }
        continue;
      }
      *why = "unreachable";
      return -1;
    }
  }
  return 0;
}

/* Read until the reader holds one whole reply. */
static redisReply *io_reply(struct conn *c, uint64_t deadline, const char **why)
{
  size_t total = 0;
  for(;;) {
    void *reply = NULL;
    char buf[16384];
    size_t got = 0;
    if(redisReaderGetReply(c->rd, &reply) != REDIS_OK) {
      *why = "protocol";
      return NULL;
    }
    if(reply)
      return reply;
    if(total > REPLY_MAX_BYTES) {
      *why = "protocol";
      return NULL;
    }
    if(c->ssl) {
      int rc = SSL_read_ex(c->ssl, buf, sizeof(buf), &got), e;
      if(rc != 1) {
        e = SSL_get_error(c->ssl, rc);
        ERR_clear_error();
        if((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
           !wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
          continue;
        *why = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "timeout" : "unreachable";
        return NULL;
      }
    }
    else {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if(n < 0 && errno == EINTR)
        continue;
      if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if(wait_fd(c->fd, POLLIN, deadline)) {
          *why = "timeout";
          return NULL;
        }
        continue;
      }
      if(n <= 0) {
        *why = "unreachable";     /* closed by the server */
        return NULL;
      }
      got = (size_t)n;
    }
    total += got;
    if(redisReaderFeed(c->rd, buf, got) != REDIS_OK) {
      *why = "protocol";
      return NULL;
    }
  }
}

static redisReply *roundtrip(struct conn *c, int argc, const char **argv,
                             const size_t *lens, uint64_t deadline, const char **why)
{
  char *cmd = NULL;
  int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
  redisReply *r;
  if(len < 0 || !cmd) {
    *why = "protocol";
    return NULL;
  }
  if(io_write(c, cmd, (size_t)len, deadline, why)) {
    redisFreeCommand(cmd);
    return NULL;
  }
  redisFreeCommand(cmd);
  r = io_reply(c, deadline, why);
  return r;
}

static int conn_open(struct conn *c, uint64_t deadline, const char **why)
{
  if((u.is_unix ? unix_connect(c, deadline, why) : tcp_connect(c, deadline, why)))
    return -1;
  if(u.tls && tls_handshake(c, deadline, why))
    return -1;
  c->rd = redisReaderCreate();
  if(!c->rd) {
    *why = "protocol";
    return -1;
  }
  if(*u.pass) {
    const char *av[3] = {"AUTH", u.user, u.pass};
    size_t lv[3] = {4, strlen(u.user), strlen(u.pass)};
    redisReply *r = *u.user ? roundtrip(c, 3, av, lv, deadline, why)
                            : roundtrip(c, 2, (const char *[]){"AUTH", u.pass},
                                        (size_t[]){4, strlen(u.pass)}, deadline, why);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if(r)
      freeReplyObject(r);
    if(!ok) {
      if(r)
        *why = "auth";
      return -1;
    }
  }
  if(u.db) {
    char db[16];
    int n = snprintf(db, sizeof(db), "%ld", u.db);
    redisReply *r = roundtrip(c, 2, (const char *[]){"SELECT", db},
                              (size_t[]){6, (size_t)n}, deadline, why);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if(r)
      freeReplyObject(r);
    if(!ok) {
      if(r)
        *why = "protocol";
      return -1;
    }
  }
  return 0;
}

/* ---- commands ----------------------------------------------------- */

static redisReply *command_deadline(int argc, const char **argv, const size_t *lens,
                                    uint64_t t0, uint64_t extra_us, bool blocking,
                                    const char **why)
{
  struct conn *c;
  uint64_t deadline = t0 + (uint64_t)u.timeout_ms * 1000u + extra_us;
  redisReply *r;
  const char *w = NULL;
  if(!u.on) {
    *why = "disabled";
    return NULL;
  }
  c = my_conn();
  if(!c) {
    *why = "protocol";
    return NULL;
  }
  bool reused = c->fd >= 0;
again:
  if(c->fd < 0) {
    /* Backing off, unless another thread of the process has reached
       Redis since (then Redis is back: no need to wait out the delay). */
    if(t0 < c->retry_at_us && atomic_load(&state) != 1) {
      /* Fail at once, with the reason of the last failure. */
      const char *last = atomic_load(&last_why);
      *why = last ? last : "unreachable";
      return NULL;
    }
    if(conn_open(c, deadline, &w)) {
      conn_fail(c);
      *why = w;
      if(blocking)
        note_blocking(w, t0);
      else
        note(w, t0);
      return NULL;
    }
  }
  r = roundtrip(c, argc, argv, lens, deadline, &w);
  if(!r && reused && strcmp(w, "timeout")) {
    /* The server closed a connection opened earlier (a restart, an idle
       timeout): one fresh attempt within the same deadline. */
    conn_close(c);
    reused = false;
    goto again;
  }
  if(!r) {
    conn_fail(c);               /* a reply may still be in flight: drop it */
    *why = w;
    if(blocking)
      note_blocking(w, t0);
    else
      note(w, t0);
    return NULL;
  }
  c->backoff_ms = 0;
  if(blocking)
    note_blocking(NULL, t0);
  else
    note(NULL, t0);
  return r;
}

struct redisReply *vmb_redis_command(int argc, const char **argv, const size_t *lens,
                                     const char **why)
{
  const char *w = NULL;
  redisReply *r = command_deadline(argc, argv, lens, vmb_monotonic_us(), 0, false, &w);
  if(why)
    *why = w;
  return r;
}

struct redisReply *vmb_redis_command_blocking(int argc, const char **argv, const size_t *lens,
                                              long block_ms, int cancel, const char **why)
{
  const char *w = NULL;
  redisReply *r = NULL;
  cancel_fd = cancel;
  if(cancelled())
    w = "cancelled";                  /* before any byte is sent */
  else {
    r = command_deadline(argc, argv, lens, vmb_monotonic_us(),
                         block_ms > 0 ? (uint64_t)block_ms * 1000u : 0, true, &w);
    if(!r && cancelled())
      w = "cancelled";                /* its waits ended as timeouts */
  }
  cancel_fd = -1;
  if(why)
    *why = w;
  return r;
}

struct redisReply *vmb_redis_script(const char *script, const char *sha1hex,
                                    int nkeys, int argc, const char **argv,
                                    const char **why)
{
  const char *av[2 + 16 + 1];
  size_t lv[2 + 16 + 1];
  char nk[8];
  int i, n = 0;
  uint64_t t0 = vmb_monotonic_us();
  redisReply *r;
  const char *w = NULL;
  if(argc > 16 || argc < 0 || nkeys > argc) {
    if(why)
      *why = "protocol";
    return NULL;
  }
  snprintf(nk, sizeof(nk), "%d", nkeys);
  av[n++] = "EVALSHA";
  av[n++] = sha1hex;
  av[n++] = nk;
  for(i = 0; i < argc; i++)
    av[n++] = argv[i];
  for(i = 0; i < n; i++)
    lv[i] = strlen(av[i]);
  /* One deadline for both attempts. */
  r = command_deadline(n, av, lv, t0, 0, false, &w);
  if(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
    freeReplyObject(r);
    av[0] = "EVAL";
    av[1] = script;
    lv[0] = 4;
    lv[1] = strlen(script);
    r = command_deadline(n, av, lv, t0, 0, false, &w);
  }
  if(why)
    *why = w;
  return r;
}

void vmb_redis_sha1(const char *script, char out[41])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;
  static const char hex[] = "0123456789abcdef";
  EVP_Digest(script, strlen(script), md, &mdlen, EVP_sha1(), NULL);
  for(i = 0; i < 20 && i < mdlen; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[40] = '\0';
}

void vmb_redis_free(struct redisReply *r)
{
  if(r)
    freeReplyObject(r);
}

int vmb_redis_ping(const char **why)
{
  const char *av[1] = {"PING"};
  size_t lv[1] = {4};
  redisReply *r = vmb_redis_command(1, av, lv, why);
  int ok = r && r->type == REDIS_REPLY_STATUS;
  if(r && !ok && why)
    *why = "protocol";
  vmb_redis_free(r);
  return ok ? 0 : -1;
}

bool vmb_redis_enabled(void)
{
  return u.on;
}

const char *vmb_redis_prefix(void)
{
  return u.prefix;
}

/* ---- start-up ----------------------------------------------------- */

int vmb_redis_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  vmb_redis_cleanup();
  if(!cfg->redis_url || !*cfg->redis_url)
    return 0;
  if(parse_url(cfg->redis_url, err, errlen))
    return -1;
  u.timeout_ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 200;
  snprintf(u.prefix, sizeof(u.prefix), "%s", cfg->redis_key_prefix);
  if(u.tls) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if(!tls_ctx) {
      snprintf(err, errlen, "REDIS_URL: cannot create a TLS context");
      return -1;
    }
    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    if(*cfg->redis_cacert
       ? SSL_CTX_load_verify_locations(tls_ctx, cfg->redis_cacert, NULL) != 1
       : SSL_CTX_set_default_verify_paths(tls_ctx) != 1) {
      snprintf(err, errlen, "REDIS_CACERT: cannot load the CA bundle");
      ERR_clear_error();
      vmb_redis_cleanup();
      return -1;
    }
  }
  if(pthread_key_create(&conn_key, conn_free)) {
    snprintf(err, errlen, "redis: cannot create the per-thread key");
    vmb_redis_cleanup();
    return -1;
  }
  key_made = true;
  u.on = true;
  return 0;
}

void vmb_redis_cleanup(void)
{
  if(key_made) {
    /* The calling thread's connection; the others close as they end. */
    conn_free(pthread_getspecific(conn_key));
    pthread_setspecific(conn_key, NULL);
    pthread_key_delete(conn_key);
    key_made = false;
  }
  if(tls_ctx)
    SSL_CTX_free(tls_ctx);
  tls_ctx = NULL;
  OPENSSL_cleanse(&u, sizeof(u));
  memset(&u, 0, sizeof(u));
  atomic_store(&state, 0);
  atomic_store(&last_why, NULL);
}
