/*
** common.c - see common.h.
*/
#define _XOPEN_SOURCE 700   /* nftw */
#include "common.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <poll.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "vmb/arena.h"
#include "vmb/config.h"
#include "vmb/core.h"

static struct vmb_config cfg;
/* The scratch LOG_DIR/RUN_DIR parent: $TMPDIR/vmb-fuzz-XXXXXX (else
   /tmp/...), removed at exit. libFuzzer ends a run that went well with
   exit(0) (after -max_total_time, -runs or the replay of input files), so
   the atexit handler runs then; a crash, timeout, leak or RSS overrun ends
   it with _Exit or a signal and the directory stays. tests/fuzz/run-
   harness.sh therefore points TMPDIR at a directory of its own and
   removes that too, whatever the ending. */
static char scratch[4096];
static struct vmb_worker *worker;
static int core_started;

/* ---- fake upstream --------------------------------------------------- */

static pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
static char *up_reply;          /* head + body, owned */
static size_t up_len, up_head;
static int up_mode;
static int up_port;             /* loopback upstream, 0 = answers from memory */
/* The in-memory answer: points into up_reply. Only the harness's own
   thread makes upstream calls (no probe thread), so no lock is needed
   for it; the loopback threads use up_lock. */
static struct vmb_upstream_canned up_canned;

void fz_upstream_set(int status, const char *extra_headers,
                     const uint8_t *body, size_t len, int mode)
{
  char head[1024];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                   "Content-Length: %zu\r\n\r\n", status, extra_headers, len);
  char *r;
  if(n < 0 || (size_t)n >= sizeof(head))
    abort();
  r = malloc((size_t)n + len + 1);
  if(!r)
    abort();
  memcpy(r, head, (size_t)n);
  if(len)
    memcpy(r + n, body, len);
  pthread_mutex_lock(&up_lock);
  free(up_reply);
  up_reply = r;
  up_len = (size_t)n + len;
  up_head = (size_t)n;
  up_mode = mode;
  pthread_mutex_unlock(&up_lock);
  memset(&up_canned, 0, sizeof(up_canned));
  if(mode == 1) {
    up_canned.curl_code = 18;       /* CURLE_PARTIAL_FILE: cut mid-body */
  }
  else {
    up_canned.status = status;
    up_canned.headers = r;
    up_canned.headers_len = (size_t)n;
    up_canned.body = r + n;
    up_canned.body_len = len;
  }
}

/* Read one request (head, then Content-Length bytes of body). 0 or -1. */
static int read_request(int fd)
{
  char buf[65536];
  size_t have = 0;
  char *end = NULL;
  long clen = 0;
  while(!end) {
    ssize_t got;
    if(have >= sizeof(buf) - 1)
      return -1;
    got = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
    if(got <= 0)
      return -1;
    have += (size_t)got;
    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  {
    const char *cl;
    for(cl = buf; cl < end; cl++)
      if(!strncasecmp(cl, "\r\ncontent-length:", 17)) {
        clen = strtol(cl + 17, NULL, 10);
        break;
      }
  }
  {
    size_t body_have = have - (size_t)(end + 4 - buf);
    while((long)body_have < clen) {
      ssize_t got = recv(fd, buf, sizeof(buf), 0);
      if(got <= 0)
        return -1;
      body_have += (size_t)got;
    }
  }
  return 0;
}

static void send_all(int fd, const char *p, size_t n)
{
  while(n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if(w <= 0)
      return;
    p += w;
    n -= (size_t)w;
  }
}

static void *up_conn(void *arg)
{
  int fd = (int)(intptr_t)arg;
  while(read_request(fd) == 0) {
    char *copy;
    size_t len, head;
    int mode;
    pthread_mutex_lock(&up_lock);
    len = up_len;
    head = up_head;
    mode = up_mode;
    copy = malloc(len ? len : 1);
    if(copy && len)
      memcpy(copy, up_reply, len);
    pthread_mutex_unlock(&up_lock);
    if(!copy)
      break;
    if(mode == 1) {
      send_all(fd, copy, head + (len - head) / 2);
      free(copy);
      break;
    }
    send_all(fd, copy, len);
    free(copy);
  }
  close(fd);
  return NULL;
}

static void *up_accept(void *arg)
{
  int ls = (int)(intptr_t)arg;
  for(;;) {
    pthread_t t;
    int fd = accept(ls, NULL, NULL);
    if(fd < 0) {
      /* EMFILE and friends: do not spin on a core the fuzzer needs. */
      poll(NULL, 0, 10);
      continue;
    }
    if(pthread_create(&t, NULL, up_conn, (void *)(intptr_t)fd)) {
      close(fd);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

int fz_upstream_loopback(void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  pthread_t t;
  int ls, one = 1;
  if(up_port)
    return up_port;
  fz_upstream_set(200, "", (const uint8_t *)"{}", 2, 0);
  ls = socket(AF_INET, SOCK_STREAM, 0);
  if(ls < 0)
    abort();
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 64) ||
     getsockname(ls, (struct sockaddr *)&sa, &sl))
    abort();
  if(pthread_create(&t, NULL, up_accept, (void *)(intptr_t)ls))
    abort();
  pthread_detach(t);
  up_port = ntohs(sa.sin_port);
  return up_port;
}

/* ---- the core -------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void remove_scratch(void)
{
  if(scratch[0])
    nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void set_default(const char *name, const char *value)
{
  if(setenv(name, value, 0))
    abort();
}

void fz_core_start(void)
{
  char err[512], url[64], sub[4200];
  char *argv[] = {(char *)"fuzz", NULL};
  const char *root = getenv("TMPDIR");
  char *dir;
  int n;
  if(core_started)
    return;
  if(!root || !root[0])
    root = "/tmp";
  n = snprintf(scratch, sizeof(scratch), "%s/vmb-fuzz-XXXXXX", root);
  if(n < 0 || (size_t)n >= sizeof(scratch))
    abort();
  dir = mkdtemp(scratch);
  if(!dir) {
    scratch[0] = '\0';
    abort();
  }
  atexit(remove_scratch);
  if(up_port) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", up_port);
  }
  else {
    /* Nothing listens there: every call is answered from memory. */
    snprintf(url, sizeof(url), "http://127.0.0.1:9");
    fz_upstream_set(200, "", (const uint8_t *)"{}", 2, 0);
    vmb_upstream_set_canned(&up_canned);
  }
  set_default("VAULT_ADDR", url);
  set_default("VAULT_TOKEN", "hvs.fuzz-token");
  set_default("VAULT_TIMEOUT_MS", "2000");
  set_default("API_KEYS_JSON", "{\"" FZ_API_KEY "\":{\"subject\":\"fuzzer\","
              "\"scopes\":[\"read\",\"write\",\"delete\",\"list\",\"admin\"]}}");
  set_default("JWT_HS256_SECRET", FZ_HS256_SECRET);
  /* Every resource granted (subjects without a registry record get
     these), so Transit/DB/SSH/KMS calls reach their handlers. */
  set_default("DEFAULT_GRANTS_JSON", "{\"transit_keys\":[\"*\"],\"db_roles\":[\"*\"],"
              "\"ssh_roles\":[\"*\"],\"kms_keys\":[\"*\"]}");
  /* No background thread may read the harness's upstream answers (see
     common.h): the health probe is off. */
  set_default("HEALTH_PROBE_SECONDS", "0");
  set_default("RATE_LIMIT_ENABLED", "false");
  set_default("LOG_LEVEL", "error");
  snprintf(sub, sizeof(sub), "%s/logs", dir);
  set_default("LOG_DIR", sub);
  snprintf(sub, sizeof(sub), "%s/run", dir);
  set_default("RUN_DIR", sub);
  set_default("AWS_KMS_ENABLED", "true");
  set_default("AWS_REGION", "us-east-1");
  set_default("AWS_KMS_ENDPOINT", url);
  set_default("AWS_ACCESS_KEY_ID", "AKIDFUZZFUZZFUZZ");
  set_default("AWS_SECRET_ACCESS_KEY", "fuzzsecretfuzzsecretfuzzsecretfuzzsecret");
  set_default("AWS_KMS_DEFAULT_KEY_ID", "alias/fuzz");
  if(vmb_config_load(&cfg, 1, argv, err, sizeof(err))) {
    fprintf(stderr, "fuzz: configuration: %s\n", err);
    abort();
  }
  if(vmb_core_init(&cfg, err, sizeof(err))) {
    fprintf(stderr, "fuzz: core init: %s\n", err);
    abort();
  }
  worker = vmb_worker_create();
  if(!worker)
    abort();
  core_started = 1;
}

void fz_reply_harness_start(void)
{
  if(!core_started)
    set_default("REGISTRY_ENABLED", "false");
  fz_core_start();
}

struct vmb_arena *fz_arena(void)
{
  if(!worker) {
    worker = vmb_worker_create();
    if(!worker)
      abort();
  }
  return vmb_worker_arena(worker);
}

struct vmb_worker *fz_worker(void)
{
  (void)fz_arena();
  return worker;
}

void fz_reset(void)
{
  if(worker)
    vmb_worker_reset(worker);
}

int fz_handle(const char *method, const char *path, const char *query,
              const struct vmb_header *headers, size_t n_headers,
              const char *body, size_t body_len)
{
  struct vmb_request req;
  struct vmb_response resp;
  int status;
  memset(&req, 0, sizeof(req));
  req.arena = vmb_worker_arena(worker);
  req.worker = worker;
  req.method = method;
  req.path = path;
  req.query = query ? query : "";
  req.headers = headers;
  req.n_headers = n_headers;
  req.body = body;
  req.body_len = body_len;
  req.client_addr = "127.0.0.1";
  vmb_response_init(&resp, 8u * 1024u * 1024u);
  vmb_core_handle(&req, &resp);
  status = resp.status;
  if(status < 100 || status > 599)
    abort();                     /* the core must always answer */
  vmb_response_free(&resp);
  vmb_worker_reset(worker);
  return status;
}

void fz_split(const uint8_t *data, size_t size, uint8_t sep,
              const uint8_t **a, size_t *alen, const uint8_t **b, size_t *blen)
{
  const uint8_t *p = memchr(data, sep, size);
  *a = data;
  if(!p) {
    *alen = size;
    *b = data + size;
    *blen = 0;
    return;
  }
  *alen = (size_t)(p - data);
  *b = p + 1;
  *blen = size - *alen - 1;
}

char *fz_strndup(const uint8_t *d, size_t n)
{
  char *s = malloc(n + 1);
  if(!s)
    abort();
  if(n)
    memcpy(s, d, n);
  s[n] = '\0';
  return s;
}
