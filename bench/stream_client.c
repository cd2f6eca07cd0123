/*
** stream_client.c - the client side of bench/streams.sh: holds thousands of
** GET /mcp/sse streams open at once and times tool.completed events.
**
** One thread, one epoll set, non-blocking sockets, a fixed 2 KiB line
** buffer per stream: the client must stay cheap next to what it measures,
** so it keeps no per-stream timer and allocates nothing after start-up.
**
** Streams are HTTP/1.0 requests: the front then sends the body as it
** comes (no chunked framing to undo) and closes the connection when the
** stream ends. A stream counts as open once its status line said 200 AND
** the first SSE line arrived through the front (a front that buffers the
** stream shows up as "no_data", not as open).
**
** Driven line by line on stdin, one answer line on stdout per command
** (key=value pairs, read by bench/streams.sh):
**   open                 open --streams streams (at most --concurrency
**                        opening at once); answers when every one is
**                        open, refused or failed, or after --open-timeout
**   calls K TIMEOUT_MS GAP_MS
**                        K sequential MCP tools/call (kv.read) by subjects
**                        whose streams are open, round robin; each call
**                        waits until the event reached every open stream
**                        of its subject (or TIMEOUT_MS), then a random
**                        pause of 0..GAP_MS (so calls do not fall into step
**                        with a server that polls on a fixed period);
**                        answers with publish->receipt percentiles
**   status               streams still open, closed, events, keepalives
**   quit                 close everything and exit (so does EOF on stdin)
**
** Latency: t0 is taken just before the tools/call request is written, so
** "send->receipt" bounds publish->receipt from above (it adds the front's
** and the bridge's handling of the call up to the publish). The event's
** own "ts" (the publisher's clock, millisecond resolution) gives a second,
** coarser figure, "ts->receipt".
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_BUF 2048
#define KEY_MAX 512
#define MAX_STREAMS 100000
#define MAX_SAMPLES 1000000

enum kind { K_STREAM, K_CALL, K_STDIN };
enum st { S_IDLE, S_CONNECTING, S_HEAD, S_STREAM, S_DONE };

struct conn {
  enum kind kind;
  enum st state;
  int fd;
  int key;                 /* index into keys */
  int status;
  int seen_call;           /* last call number whose event this stream saw */
  unsigned open : 1;       /* counted as open (200 + first SSE line) */
  unsigned in_event : 1;   /* current SSE block is a tool.completed */
  uint32_t events, keepalives;
  double ev_ts;            /* "ts" of the current block, epoch seconds */
  uint16_t len;
  char buf[LINE_BUF];
};

static struct {
  const char *host, *path, *call_path, *tool_body;
  int port, streams, per_key, concurrency;
  double open_timeout;
} opt = {"127.0.0.1", "/mcp/sse", "/mcp/rpc",
         "{\"name\":\"kv.read\",\"arguments\":{\"path\":\"bench/item\"}}",
         0, 10000, 16, 256, 120.0};

static char (*keys)[KEY_MAX + 1];
static int nkeys;
static struct conn *conns;
static int epfd;
static struct sockaddr_in addr;

/* open-phase counters */
static int started, opening, n_open, n_closed, n_failed, n_nodata;
static int codes[600];

/* the call in flight */
static struct conn call;
static int call_no, call_remaining, call_key;
static double call_t0, call_deadline;
static int call_status, call_done_http;
static double *s_each, *s_all, *s_ts;
static size_t n_each, n_all, n_ts;

static double mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
  fprintf(stderr, "stream_client: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void)
{
  fprintf(stderr, "usage: stream_client --port P --keys FILE [--streams N] [--per-key S]\n"
                  "  [--concurrency C] [--open-timeout SEC] [--host IP] [--path /mcp/sse]\n"
                  "  [--call-path /mcp/rpc] [--tool-params JSON]\n");
  exit(2);
}

static long num_arg(const char *s, long lo, long hi)
{
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if(errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "stream_client: bad number %s\n", s);
    exit(2);
  }
  return v;
}

static void load_keys(const char *file)
{
  FILE *f = fopen(file, "r");
  char line[KEY_MAX + 3];
  int cap = 1024;
  if(!f)
    die(file);
  keys = malloc((size_t)cap * sizeof(*keys));
  if(!keys)
    die("malloc");
  while(fgets(line, sizeof(line), f)) {
    size_t n = strcspn(line, "\r\n");
    if(n == 0)
      continue;
    if(n > KEY_MAX) {
      fprintf(stderr, "stream_client: key longer than %d bytes\n", KEY_MAX);
      exit(2);
    }
    if(nkeys == cap) {
      void *p = realloc(keys, (size_t)cap * 2 * sizeof(*keys));
      if(!p)
        die("realloc");
      keys = p;
      cap *= 2;
    }
    memcpy(keys[nkeys], line, n);
    keys[nkeys][n] = '\0';
    nkeys++;
  }
  fclose(f);
  if(nkeys == 0) {
    fprintf(stderr, "stream_client: no keys in %s\n", file);
    exit(2);
  }
}

static void ep_add(int fd, uint32_t ev, void *ptr)
{
  struct epoll_event e = {.events = ev, .data.ptr = ptr};
  if(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e))
    die("epoll_ctl add");
}

static void ep_mod(int fd, uint32_t ev, void *ptr)
{
  struct epoll_event e = {.events = ev, .data.ptr = ptr};
  if(epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e))
    die("epoll_ctl mod");
}

static void conn_close(struct conn *c)
{
  if(c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = S_DONE;
}

/* ---- streams -------------------------------------------------------- */

static void stream_start(struct conn *c)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0) {
    n_failed++;
    c->state = S_DONE;
    fprintf(stderr, "stream_client: socket: %s\n", strerror(errno));
    return;
  }
  c->fd = fd;
  c->state = S_CONNECTING;
  c->len = 0;
  if(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) && errno != EINPROGRESS) {
    n_failed++;
    conn_close(c);
    return;
  }
  opening++;
  ep_add(fd, EPOLLOUT, c);
}

/* The stream left the opening set: it is open, refused or failed. */
static void opened(struct conn *c, int outcome)
{
  opening--;
  if(outcome == 1) {
    c->open = 1;
    n_open++;
  }
  else if(outcome == 0)
    n_failed++;
}

static void stream_send(struct conn *c)
{
  char req[KEY_MAX + 256];
  int err = 0, n;
  socklen_t el = sizeof(err);
  if(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
    opened(c, 0);
    conn_close(c);
    return;
  }
  n = snprintf(req, sizeof(req),
               "GET %s HTTP/1.0\r\nHost: %s\r\nX-API-Key: %s\r\n"
               "Accept: text/event-stream\r\n\r\n", opt.path, opt.host, keys[c->key]);
  if(n <= 0 || n >= (int)sizeof(req) || write(c->fd, req, (size_t)n) != n) {
    opened(c, 0);
    conn_close(c);
    return;
  }
  c->state = S_HEAD;
  ep_mod(c->fd, EPOLLIN, c);
}

/* "2026-11-29T09:40:21.409Z" -> epoch seconds, or -1. */
static double parse_ts(const char *s)
{
  struct tm tm;
  int ms = 0;
  memset(&tm, 0, sizeof(tm));
  if(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (double)timegm(&tm) + ms / 1000.0;
}

static void on_event(struct conn *c)
{
  c->events++;
  if(call_no > 0 && c->key == call_key && c->seen_call != call_no && call_remaining > 0) {
    double now = mono();
    c->seen_call = call_no;
    if(n_each < MAX_SAMPLES)
      s_each[n_each++] = (now - call_t0) * 1000.0;
    if(c->ev_ts > 0 && n_ts < MAX_SAMPLES)
      s_ts[n_ts++] = (wall() - c->ev_ts) * 1000.0;
    if(--call_remaining == 0 && n_all < MAX_SAMPLES)
      s_all[n_all++] = (now - call_t0) * 1000.0;
  }
}

static void sse_line(struct conn *c, char *line)
{
  if(!c->open && c->state == S_STREAM)
    opened(c, 1);
  if(line[0] == '\0') {
    if(c->in_event)
      on_event(c);
    c->in_event = 0;
    c->ev_ts = -1;
  }
  else if(line[0] == ':') {
    if(strstr(line, "keepalive"))
      c->keepalives++;
  }
  else if(!strncmp(line, "event:", 6)) {
    const char *v = line + 6;
    while(*v == ' ')
      v++;
    c->in_event = !strcmp(v, "tool.completed");
  }
  else if(!strncmp(line, "data:", 5)) {
    const char *t = strstr(line, "\"ts\":\"");
    c->ev_ts = t ? parse_ts(t + 6) : -1;
  }
}

static void stream_read(struct conn *c)
{
  for(;;) {
    ssize_t n;
    char *p, *nl;
    if(c->len >= LINE_BUF - 1)
      c->len = 0;                    /* a line longer than we care for */
    n = read(c->fd, c->buf + c->len, LINE_BUF - 1 - c->len);
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if(n <= 0) {                     /* closed by the front or reset */
      if(c->state == S_HEAD || (c->state == S_STREAM && !c->open))
        opened(c, c->state == S_HEAD && c->status ? 2 : 0);
      else if(c->open)
        n_closed++;
      conn_close(c);
      return;
    }
    c->len = (uint16_t)(c->len + n);
    c->buf[c->len] = '\0';
    p = c->buf;
    if(c->state == S_HEAD) {
      char *end = strstr(p, "\r\n\r\n");
      int code = 0;
      if(!end)
        continue;
      if(sscanf(p, "HTTP/%*d.%*d %3d", &code) != 1)
        code = 0;
      c->status = code;
      if(code > 0 && code < 600)
        codes[code]++;
      if(code != 200) {              /* refused: count it, hang up */
        opened(c, 2);
        conn_close(c);
        return;
      }
      c->state = S_STREAM;
      p = end + 4;
    }
    while((nl = memchr(p, '\n', (size_t)(c->buf + c->len - p))) != NULL) {
      *nl = '\0';
      if(nl > p && nl[-1] == '\r')
        nl[-1] = '\0';
      sse_line(c, p);
      p = nl + 1;
    }
    c->len = (uint16_t)(c->buf + c->len - p);
    memmove(c->buf, p, c->len);
  }
}

static void stream_io(struct conn *c, uint32_t ev)
{
  if(c->state == S_CONNECTING) {
    if(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      stream_send(c);
    return;
  }
  if(c->state == S_HEAD || c->state == S_STREAM)
    stream_read(c);
}

/* ---- the tools/call connection --------------------------------------- */

static int call_start(int k)
{
  char req[KEY_MAX + 1024], body[600];
  int fd, n, b, one = 1;
  b = snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
               "\"params\":%s}", call_no, opt.tool_body);
  if(b <= 0 || b >= (int)sizeof(body))
    return -1;
  n = snprintf(req, sizeof(req),
               "POST %s HTTP/1.0\r\nHost: %s\r\nX-API-Key: %s\r\n"
               "Content-Type: application/json\r\n"
               "Accept: application/json, text/event-stream\r\n"
               "MCP-Protocol-Version: 2025-06-18\r\nContent-Length: %d\r\n\r\n%s",
               opt.call_path, opt.host, keys[k], b, body);
  if(n <= 0 || n >= (int)sizeof(req))
    return -1;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(fd < 0)
    return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if(connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {   /* loopback: quick */
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  memset(&call, 0, sizeof(call));
  call.kind = K_CALL;
  call.fd = fd;
  call.state = S_HEAD;
  call_key = k;
  call_status = 0;
  call_done_http = 0;
  call_t0 = mono();
  if(write(fd, req, (size_t)n) != n) {
    close(fd);
    call.fd = -1;
    return -1;
  }
  ep_add(fd, EPOLLIN, &call);
  return 0;
}

static void call_read(void)
{
  for(;;) {
    char tmp[4096];
    ssize_t n = read(call.fd, tmp, sizeof(tmp) - 1);
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if(n <= 0) {
      conn_close(&call);
      call_done_http = 1;
      return;
    }
    tmp[n] = '\0';
    if(!call_status && sscanf(tmp, "HTTP/%*d.%*d %3d", &call_status) != 1)
      call_status = -1;
  }
}

/* ---- commands --------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double q)
{
  size_t i;
  if(n == 0)
    return NAN;
  i = (size_t)ceil(q * (double)n);
  return v[i ? i - 1 : 0];
}

static void run_loop_once(int timeout_ms);

static void cmd_open(void)
{
  double deadline = mono() + opt.open_timeout;
  int i;
  while(mono() < deadline) {
    while(opening < opt.concurrency && started < opt.streams)
      stream_start(&conns[started++]);
    if(started >= opt.streams && opening == 0)
      break;
    run_loop_once(50);
  }
  n_nodata = 0;
  for(i = 0; i < started; i++)
    if(conns[i].state == S_STREAM && !conns[i].open)
      n_nodata++;
  printf("opened want=%d open=%d http429=%d conn_failed=%d no_data=%d pending=%d codes=",
         opt.streams, n_open, codes[429], n_failed, n_nodata, opening - n_nodata);
  {
    int c, first = 1;
    for(c = 100; c < 600; c++)
      if(codes[c]) {
        printf("%s%d:%d", first ? "" : ",", c, codes[c]);
        first = 0;
      }
    if(first)
      printf("none");
  }
  printf("\n");
  fflush(stdout);
}

static void cmd_calls(int ncalls, int timeout_ms, int gap_ms)
{
  int *open_per_key = calloc((size_t)nkeys, sizeof(int)), *cand = malloc((size_t)nkeys * sizeof(int));
  int ncand = 0, i, done = 0, http_ok = 0, expected = 0, missed = 0, failed = 0;
  n_each = n_all = n_ts = 0;
  if(!open_per_key || !cand)
    die("malloc");
  for(i = 0; i < started; i++)
    if(conns[i].open && conns[i].state == S_STREAM)
      open_per_key[conns[i].key]++;
  for(i = 0; i < nkeys; i++)
    if(open_per_key[i] > 0)
      cand[ncand++] = i;
  for(i = 0; ncand > 0 && i < ncalls; i++) {
    int k = cand[i % ncand];
    call_no++;
    call_remaining = open_per_key[k];
    if(call_start(k)) {
      failed++;
      continue;
    }
    expected += call_remaining;
    call_deadline = mono() + timeout_ms / 1000.0;
    while((!call_done_http || call_remaining > 0) && mono() < call_deadline)
      run_loop_once(5);
    if(!call_done_http)
      conn_close(&call);
    if(call_status == 200)
      http_ok++;
    missed += call_remaining;
    call_remaining = 0;
    done++;
    if(gap_ms > 0) {
      double until = mono() + (double)(rand() % (gap_ms * 1000)) / 1e6;
      while(mono() < until)
        run_loop_once(1);
    }
  }
  qsort(s_each, n_each, sizeof(double), cmp_d);
  qsort(s_all, n_all, sizeof(double), cmp_d);
  qsort(s_ts, n_ts, sizeof(double), cmp_d);
  printf("calls done=%d failed=%d http200=%d subjects=%d expected=%d received=%zu missed=%d "
         "all_p50_ms=%.2f all_p99_ms=%.2f all_max_ms=%.2f each_p50_ms=%.2f each_p99_ms=%.2f "
         "ts_p50_ms=%.0f ts_p99_ms=%.0f\n",
         done, failed, http_ok, ncand, expected, n_each, missed,
         pct(s_all, n_all, 0.5), pct(s_all, n_all, 0.99), n_all ? s_all[n_all - 1] : NAN,
         pct(s_each, n_each, 0.5), pct(s_each, n_each, 0.99),
         pct(s_ts, n_ts, 0.5), pct(s_ts, n_ts, 0.99));
  fflush(stdout);
  free(open_per_key);
  free(cand);
}

static void cmd_status(void)
{
  int i, still = 0, with_event = 0;
  unsigned long long events = 0, ka = 0;
  uint32_t min_ev = UINT32_MAX;
  for(i = 0; i < started; i++) {
    struct conn *c = &conns[i];
    if(!c->open)
      continue;
    events += c->events;
    ka += c->keepalives;
    if(c->state != S_STREAM)
      continue;
    still++;
    with_event += c->events > 0;
    if(c->events < min_ev)
      min_ev = c->events;
  }
  printf("status open=%d closed=%d with_event=%d min_events=%u events=%llu keepalives=%llu\n",
         still, n_closed, with_event, still ? min_ev : 0, events, ka);
  fflush(stdout);
}

/* ---- the loop --------------------------------------------------------- */

static char inbuf[512];
static size_t inlen;
static int quit;

static void stdin_read(void)
{
  ssize_t n = read(0, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
  if(n <= 0) {
    if(n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    quit = 1;
    return;
  }
  inlen += (size_t)n;
  if(inlen >= sizeof(inbuf) - 1 && !memchr(inbuf, '\n', inlen))
    inlen = 0;                       /* junk: drop it */
}

static void run_loop_once(int timeout_ms)
{
  struct epoll_event ev[256];
  int n = epoll_wait(epfd, ev, 256, timeout_ms), i;
  if(n < 0 && errno != EINTR)
    die("epoll_wait");
  for(i = 0; i < n; i++) {
    struct conn *c = ev[i].data.ptr;
    if(c == NULL)
      stdin_read();
    else if(c->kind == K_CALL)
      call_read();
    else
      stream_io(c, ev[i].events);
  }
}

static void run_command(char *line)
{
  int a, b, g;
  if(!strcmp(line, "open"))
    cmd_open();
  else if(sscanf(line, "calls %d %d %d", &a, &b, &g) == 3 && a > 0 && b > 0 && g >= 0 &&
          g <= 60000)
    cmd_calls(a, b, g);
  else if(!strcmp(line, "status"))
    cmd_status();
  else if(!strcmp(line, "quit"))
    quit = 1;
  else {
    printf("error unknown command\n");
    fflush(stdout);
  }
}

int main(int argc, char **argv)
{
  struct rlimit rl;
  const char *keyfile = NULL;
  int i;
  for(i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if(!v)
      usage();
    if(!strcmp(a, "--port"))
      opt.port = (int)num_arg(v, 1, 65535);
    else if(!strcmp(a, "--keys"))
      keyfile = v;
    else if(!strcmp(a, "--streams"))
      opt.streams = (int)num_arg(v, 1, MAX_STREAMS);
    else if(!strcmp(a, "--per-key"))
      opt.per_key = (int)num_arg(v, 1, MAX_STREAMS);
    else if(!strcmp(a, "--concurrency"))
      opt.concurrency = (int)num_arg(v, 1, MAX_STREAMS);
    else if(!strcmp(a, "--open-timeout"))
      opt.open_timeout = (double)num_arg(v, 1, 3600);
    else if(!strcmp(a, "--host"))
      opt.host = v;
    else if(!strcmp(a, "--path"))
      opt.path = v;
    else if(!strcmp(a, "--call-path"))
      opt.call_path = v;
    else if(!strcmp(a, "--tool-params"))
      opt.tool_body = v;
    else
      usage();
    i++;
  }
  if(!opt.port || !keyfile)
    usage();
  load_keys(keyfile);
  if((opt.streams + opt.per_key - 1) / opt.per_key > nkeys) {
    fprintf(stderr, "stream_client: %d streams at %d per key need %d keys, %s has %d\n",
            opt.streams, opt.per_key, (opt.streams + opt.per_key - 1) / opt.per_key,
            keyfile, nkeys);
    return 2;
  }
  /* Every stream is a socket: take the whole hard limit. */
  if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.streams + 16)
    fprintf(stderr, "stream_client: warning: RLIMIT_NOFILE %llu < %d streams\n",
            (unsigned long long)rl.rlim_cur, opt.streams);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)opt.port);
  if(inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
    fprintf(stderr, "stream_client: --host must be an IPv4 address\n");
    return 2;
  }
  conns = calloc((size_t)opt.streams, sizeof(*conns));
  s_each = malloc(MAX_SAMPLES * sizeof(double));
  s_all = malloc(MAX_SAMPLES * sizeof(double));
  s_ts = malloc(MAX_SAMPLES * sizeof(double));
  if(!conns || !s_each || !s_all || !s_ts)
    die("malloc");
  for(i = 0; i < opt.streams; i++) {
    conns[i].kind = K_STREAM;
    conns[i].fd = -1;
    conns[i].key = i / opt.per_key;
  }
  call.fd = -1;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if(epfd < 0)
    die("epoll_create1");
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  ep_add(0, EPOLLIN, NULL);
  printf("ready\n");
  fflush(stdout);
  while(!quit) {
    char *nl;
    while(!quit && (nl = memchr(inbuf, '\n', inlen)) != NULL) {
      size_t used = (size_t)(nl - inbuf) + 1;
      *nl = '\0';
      run_command(inbuf);
      memmove(inbuf, inbuf + used, inlen - used);
      inlen -= used;
    }
    if(!quit)
      run_loop_once(1000);
  }
  for(i = 0; i < started; i++)
    if(conns[i].fd >= 0)
      close(conns[i].fd);
  return 0;
}
