/*
** metrics.c - host-wide Prometheus metrics in shared memory (issue 9,
** SPEC section 6).
**
** Why shared memory: a FastCGI pool is several processes and a scrape
** reaches only one of them, so counters kept per process would make every
** dashboard wrong. All processes of the host map one file,
** RUN_DIR/metrics.shm, with MAP_SHARED and add to it with lock-free C11
** atomics (address-free on every platform we build for, checked below).
** Because the counters live in the page cache rather than in a process,
** a worker that crashes loses nothing it had already counted.
**
** Layout: a header (magic, version, total size, a hash of everything the
** layout depends on: the route templates and op ids of the op table, the
** method and auth-reason lists) followed by fixed arrays. A file whose
** header does not match is replaced (unlinked and created anew), so a
** binary with a different op table never misreads another's counters;
** processes still mapping the old file keep counting into it until they
** restart. Creation is serialised with flock() on the file.
**
** Label sets are bounded:
**   method  - GET HEAD POST PUT PATCH DELETE OPTIONS, else OTHER;
**   route   - the op table's distinct path templates, else "unmatched";
**   status  - the HTTP status (100..599), else "other";
**   vault operation - the caller's op name (code constants), at most
**             VAULT_OPS_MAX distinct names, then "other";
**   auth mode/reason - fixed lists below, else "other";
**   tool    - an op id of the table.
** Series of (method, route, status) are claimed in an open-addressing
** table with compare-and-swap; when it is full, observations are counted
** in metrics_series_overflow_total instead of being lost silently.
**
** Memory ordering: counters use relaxed increments (each is independent);
** slot keys and names are published with release stores and read with
** acquire loads so a reader never sees a key before its name.
*/
#include "metrics.h"

#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_reason.h"
#include "util.h"
#include "vmb/version.h"

#if ATOMIC_LLONG_LOCK_FREE != 2 || ATOMIC_INT_LOCK_FREE != 2
#error "host-wide metrics need always-lock-free 32- and 64-bit atomics"
#endif

#define SHM_MAGIC 0x564d424d45545231ull  /* "VMBMETR1" */
#define SHM_VERSION 4u   /* 2: probes, per-process start time; 3: upstreams;
                            4: parked streams per process */
#define SHM_FILE "metrics.shm"

#define N_BUCKETS 14               /* finite bounds; +Inf is slot 14 */
#define HTTP_SERIES_MAX 2048       /* power of two */
#define ROUTES_MAX 512             /* 10 bits in the series key */
#define OPS_MAX 512
#define VAULT_OPS_MAX 64
#define VAULT_NAME_MAX 48
#define VAULT_SERIES_MAX 512       /* power of two */
#define PROCS_MAX 128
#define RECENT_MINUTES 60

typedef _Atomic uint64_t a64;
typedef _Atomic int64_t as64;
typedef _Atomic uint32_t a32;

/* Upper bounds of the duration buckets, microseconds (0.5 ms .. 10 s). */
static const uint64_t bucket_us[N_BUCKETS] = {
  500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
  1000000, 2500000, 5000000, 10000000
};
static const char *const bucket_le[N_BUCKETS] = {
  "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
  "0.25", "0.5", "1", "2.5", "5", "10"
};

static const char *const method_names[] = {
  "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"
};
#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))

static const char *const auth_modes[] = {
  "api_key", "jwt", "mtls", "none", "stdio", "other"
};
#define N_AUTH_MODES (sizeof(auth_modes) / sizeof(auth_modes[0]))

/* Reasons the authenticators report; anything else is "other" (last). */
static const char *const auth_reasons[] = {
#define VMB_X_REASON(name) #name,
  VMB_AUTH_REASON_MAP(VMB_X_REASON)
#undef VMB_X_REASON
  "other"
};
#define N_AUTH_REASONS (sizeof(auth_reasons) / sizeof(auth_reasons[0]))

/* Outbound upstreams (upstream/http_client.c); anything else is "other". */
static const char *const upstream_names[] = {
  "vault", "kms", "jwks", "otlp", "redis", "other"
};
#define N_UPSTREAMS (sizeof(upstream_names) / sizeof(upstream_names[0]))

/* Durations: non-cumulative bucket counts (slot N_BUCKETS is +Inf) and
   the sum. The count is the sum of the buckets, so a scrape never sees
   a count that disagrees with its buckets. */
struct hist {
  a64 bucket[N_BUCKETS + 1];
  a64 sum_us;
};

struct http_series {
  a32 key;                      /* 0 = free; see http_key() */
  uint32_t pad;
  struct hist h;
};

struct vault_name {
  a32 state;                    /* 0 free, 1 being written, 2 ready */
  char name[VAULT_NAME_MAX];
  struct hist h;
};

struct vault_series {
  a32 key;                      /* 0 = free; 1<<31 | name<<10 | status */
  uint32_t pad;
  a64 count;
};

struct upstream_stats {
  a64 errors;                   /* not reached, cut off, or 5xx */
  struct hist h;                /* every call; its count is the total */
};

struct proc_slot {
  _Atomic int32_t pid;          /* 0 = free */
  uint32_t pad;
  a64 proc_ticks;               /* /proc start time, guards pid reuse */
  as64 inflight;
  a64 start_ms;                 /* unix ms the worker started */
  as64 streams;                 /* event streams parked in its loop */
};

/* The last probe of one target (upstream/probe.c). claim_ms is moved
   forward by the one process that probes this interval. */
struct probe_slot {
  a64 claim_ms;
  a64 time_ms;                  /* when the last result was written, 0 = never */
  a64 duration_us;
  a32 reason;                   /* enum vmb_probe_reason */
  uint32_t pad;
};

struct recent_slot {
  a64 minute;                   /* unix minute this slot currently holds */
  a64 requests, http_4xx, http_5xx, auth_failures, rate_limited, vault_errors;
};

struct shm {
  /* header */
  _Atomic uint64_t magic;       /* written last, after everything else */
  uint32_t version;
  uint32_t size;
  uint64_t layout_hash;
  uint64_t created_ms;          /* unix ms */
  /* counters */
  a64 correlation;
  a64 rate_limited;
  a64 series_overflow;
  a64 spans_exported;
  a64 spans_dropped;
  a64 auth[N_AUTH_MODES][N_AUTH_REASONS];
  a64 tools[OPS_MAX][2];        /* [op][0 = error, 1 = ok] */
  struct http_series http[HTTP_SERIES_MAX];
  struct vault_name vault_names[VAULT_OPS_MAX + 1];   /* last = "other" */
  struct vault_series vault[VAULT_SERIES_MAX];
  struct proc_slot procs[PROCS_MAX];
  struct recent_slot recent[RECENT_MINUTES];
  struct upstream_stats upstream[N_UPSTREAMS];
  struct probe_slot probes[VMB_PROBE_N];
};

/* Process-local state: written once by init, read-only afterwards. */
static struct shm *shm;
static int my_slot = -1;
static double my_start;
static const char *routes[ROUTES_MAX];   /* [0] = "unmatched" */
static const char *op_ids[OPS_MAX];      /* BORROWED from the op table */
static size_t n_op_ids;
static size_t n_routes;
static char build_version[32];
/* METRICS_PREFIX, checked at init: [a-zA-Z_:][a-zA-Z0-9_:]*, or "". */
static char name_prefix[64];

static const char *const probe_reasons[] = {
#define X(n, str) str,
  VMB_PROBE_REASONS(X)
#undef X
};
static const char *const probe_targets[VMB_PROBE_N] = {"vault", "kms", "redis"};

/* ---- helpers ------------------------------------------------------- */

static void add(a64 *c, uint64_t n)
{
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(a64 *c)
{
  return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  size_t i;
  for(i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
  return fnv(h, s, strlen(s) + 1);
}

static void hist_observe(struct hist *h, uint64_t us)
{
  size_t i = 0;
  while(i < N_BUCKETS && us > bucket_us[i])
    i++;
  add(&h->bucket[i], 1);
  add(&h->sum_us, us);
}

static uint64_t hist_count(struct hist *h)
{
  uint64_t n = 0;
  size_t i;
  for(i = 0; i <= N_BUCKETS; i++)
    n += get(&h->bucket[i]);
  return n;
}

static size_t method_index(const char *m)
{
  size_t i;
  for(i = 0; m && i + 1 < N_METHODS; i++)
    if(!strcmp(m, method_names[i]))
      return i;
  return N_METHODS - 1;
}

static size_t route_index(const char *route)
{
  size_t i;
  if(!route)
    return 0;
  /* The gate passes the table's own pointer: compare that first. */
  for(i = 1; i < n_routes; i++)
    if(routes[i] == route)
      return i;
  for(i = 1; i < n_routes; i++)
    if(!strcmp(routes[i], route))
      return i;
  return 0;
}

static size_t list_index(const char *const *list, size_t n, const char *s)
{
  size_t i;
  for(i = 0; s && i + 1 < n; i++)
    if(!strcmp(s, list[i]))
      return i;
  return n - 1;
}

static uint64_t unix_minute(void)
{
  return (uint64_t)time(NULL) / 60u;
}

/* The per-minute slot for now, recycled when it holds an older minute.
   Whoever wins the swap zeroes it; an increment racing with that reset
   may be lost, which is acceptable for "recent" figures (the totals are
   exact). */
static struct recent_slot *recent_now(void)
{
  uint64_t m = unix_minute();
  struct recent_slot *r = &shm->recent[m % RECENT_MINUTES];
  uint64_t seen = atomic_load_explicit(&r->minute, memory_order_acquire);
  if(seen != m && seen < m &&
     atomic_compare_exchange_strong(&r->minute, &seen, m)) {
    atomic_store(&r->requests, 0);
    atomic_store(&r->http_4xx, 0);
    atomic_store(&r->http_5xx, 0);
    atomic_store(&r->auth_failures, 0);
    atomic_store(&r->rate_limited, 0);
    atomic_store(&r->vault_errors, 0);
  }
  return r;
}

/* ---- process registry --------------------------------------------- */

/* Start time of a process in clock ticks since boot (field 22 of
   /proc/<pid>/stat), 0 when unknown. Distinguishes a reused pid. */
static uint64_t proc_ticks(long pid)
{
  char path[64], buf[1024];
  const char *p;
  ssize_t n;
  int fd, field;
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if(n <= 0)
    return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')');   /* the command name may contain spaces */
  if(!p)
    return 0;
  p++;
  /* After ')' come fields 3.. separated by single spaces. */
  for(field = 2; field < 22 && *p; p++)
    if(*p == ' ')
      field++;
  if(field != 22)
    return 0;
  {
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(p, &end, 10);
    if(errno || end == p)
      return 0;
    return (uint64_t)v;
  }
}

static bool slot_alive(struct proc_slot *s)
{
  int32_t pid = atomic_load(&s->pid);
  uint64_t want;
  if(pid <= 0)
    return false;
  if(kill(pid, 0) != 0 && errno != EPERM)
    return false;
  want = atomic_load(&s->proc_ticks);
  return !want || proc_ticks(pid) == want;
}

static int register_process(void)
{
  int32_t me = (int32_t)getpid();
  uint64_t ticks = proc_ticks(me);
  size_t i;
  for(i = 0; i < PROCS_MAX; i++) {
    struct proc_slot *s = &shm->procs[i];
    int32_t cur = atomic_load(&s->pid);
    if(cur != 0 && slot_alive(s))
      continue;
    /* Free, or its owner is gone: claim it. */
    if(atomic_compare_exchange_strong(&s->pid, &cur, me)) {
      atomic_store(&s->proc_ticks, ticks);
      atomic_store(&s->inflight, 0);
      atomic_store(&s->streams, 0);
      atomic_store(&s->start_ms, (uint64_t)(my_start * 1000.0));
      return (int)i;
    }
  }
  return -1;   /* more than PROCS_MAX live workers: still count, no slot */
}

/* ---- the shared file ----------------------------------------------- */

static uint64_t layout_hash(void)
{
  uint64_t h = 0xcbf29ce484222325ull;
  uint32_t v[4] = {SHM_VERSION, (uint32_t)sizeof(struct shm), N_BUCKETS,
                   (uint32_t)n_op_ids};
  size_t i;
  h = fnv(h, v, sizeof(v));
  for(i = 0; i < n_routes; i++)
    h = fnv_str(h, routes[i]);
  for(i = 0; i < n_op_ids; i++)
    h = fnv_str(h, op_ids[i]);
  for(i = 0; i < N_METHODS; i++)
    h = fnv_str(h, method_names[i]);
  for(i = 0; i < N_AUTH_MODES; i++)
    h = fnv_str(h, auth_modes[i]);
  for(i = 0; i < N_AUTH_REASONS; i++)
    h = fnv_str(h, auth_reasons[i]);
  for(i = 0; i < N_UPSTREAMS; i++)
    h = fnv_str(h, upstream_names[i]);
  for(i = 0; i < VMB_PROBE_REASON_N; i++)
    h = fnv_str(h, probe_reasons[i]);
  return h;
}

static void build_labels(const struct vmb_metrics_op *ops, size_t n)
{
  size_t i, j;
  n_op_ids = 0;
  for(i = 0; i < n && i < OPS_MAX; i++)
    op_ids[n_op_ids++] = ops[i].id;
  n_routes = 0;
  routes[n_routes++] = "unmatched";
  for(i = 0; i < n && n_routes < ROUTES_MAX; i++) {
    const char *p = ops[i].path;
    bool dup = false;
    if(!p || !ops[i].method)
      continue;
    for(j = 1; j < n_routes && !dup; j++)
      dup = !strcmp(routes[j], p);
    if(!dup)
      routes[n_routes++] = p;
  }
}

/* Open, validate or create the file. Returns the mapping or NULL. */
static struct shm *map_file(const char *path, char *err, size_t errlen)
{
  const uint64_t want = layout_hash();
  int tries;
  for(tries = 0; tries < 20; tries++) {
    struct stat fst, pst;
    struct shm *m;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if(fd < 0) {
      snprintf(err, errlen, "RUN_DIR: cannot open %s: %s", path, strerror(errno));
      return NULL;
    }
    if(vmb_rundir_file_ok(fd, path, err, errlen)) {
      close(fd);
      return NULL;
    }
    if(flock(fd, LOCK_EX) != 0 || fstat(fd, &fst) != 0) {
      snprintf(err, errlen, "RUN_DIR: cannot lock %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    /* Someone replaced the file while we waited for the lock: retry on
       the current one. */
    if(stat(path, &pst) != 0 || pst.st_ino != fst.st_ino || pst.st_dev != fst.st_dev) {
      close(fd);
      continue;
    }
    if(!S_ISREG(fst.st_mode)) {
      snprintf(err, errlen, "RUN_DIR: %s is not a regular file", path);
      close(fd);
      return NULL;
    }
    if(fst.st_size == 0) {
      if(ftruncate(fd, (off_t)sizeof(struct shm)) != 0) {
        snprintf(err, errlen, "RUN_DIR: cannot size %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
      }
    }
    else if(fst.st_size != (off_t)sizeof(struct shm)) {
      /* Another layout: replace it (see the header comment). */
      unlink(path);
      close(fd);
      continue;
    }
    m = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if(m == MAP_FAILED) {
      snprintf(err, errlen, "RUN_DIR: cannot map %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    if(fst.st_size == 0) {
      /* Fresh file, zero-filled by ftruncate; we hold the lock. */
      m->version = SHM_VERSION;
      m->size = (uint32_t)sizeof(struct shm);
      m->layout_hash = want;
      m->created_ms = (uint64_t)(vmb_now() * 1000.0);
      atomic_store_explicit(&m->magic, SHM_MAGIC, memory_order_release);
    }
    else if(atomic_load_explicit(&m->magic, memory_order_acquire) != SHM_MAGIC ||
            m->version != SHM_VERSION || m->size != sizeof(struct shm) ||
            m->layout_hash != want) {
      munmap(m, sizeof(struct shm));
      unlink(path);
      close(fd);
      continue;
    }
    /* Unlock explicitly: the mapping keeps the open file description
       alive, so close() alone would leave the lock held. */
    flock(fd, LOCK_UN);
    close(fd);
    return m;
  }
  snprintf(err, errlen, "RUN_DIR: %s keeps changing; giving up", path);
  return NULL;
}

int vmb_metrics_init(const struct vmb_config *cfg, const struct vmb_metrics_op *ops,
                     size_t n_ops, char *err, size_t errlen)
{
  char path[1024];
  int n;
  if(shm)
    return 0;
  if(n_ops > OPS_MAX) {
    snprintf(err, errlen, "metrics: the op table has more than %d rows", OPS_MAX);
    return -1;
  }
  build_labels(ops, n_ops);
  snprintf(build_version, sizeof(build_version), "%s", vmb_version());
  if(!cfg->run_dir || !*cfg->run_dir) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: must not be empty");
    return -1;
  }
  if(vmb_rundir_check(cfg->run_dir, err, errlen))
    return -1;
  n = snprintf(path, sizeof(path), "%s/%s", cfg->run_dir, SHM_FILE);
  if(n < 0 || (size_t)n >= sizeof(path)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: path too long");
    return -1;
  }
  {
    const char *p = cfg->metrics_prefix ? cfg->metrics_prefix : "";
    size_t plen = strlen(p);
    if(plen >= sizeof(name_prefix)) {
      snprintf(err, errlen, "invalid configuration: METRICS_PREFIX: longer than %zu bytes",
               sizeof(name_prefix) - 1);
      return -1;
    }
    /* The characters were checked by the config loader. */
    memcpy(name_prefix, p, plen + 1);
  }
  shm = map_file(path, err, errlen);
  if(!shm)
    return -1;
  my_start = vmb_now();
  my_slot = register_process();
  return 0;
}

void vmb_metrics_cleanup(void)
{
  if(!shm)
    return;
  if(my_slot >= 0) {
    atomic_store(&shm->procs[my_slot].inflight, 0);
    atomic_store(&shm->procs[my_slot].pid, 0);
  }
  munmap(shm, sizeof(struct shm));
  shm = NULL;
  my_slot = -1;
}

/* ---- recording ----------------------------------------------------- */

static uint32_t http_key(size_t method, size_t route, int status)
{
  uint32_t st = status >= 100 && status <= 599 ? (uint32_t)status : 0;
  return 0x80000000u | ((uint32_t)method << 20) | ((uint32_t)route << 10) | st;
}

/* Find or claim the slot of key in an open-addressing table. */
static struct http_series *http_slot(uint32_t key)
{
  uint32_t h = key * 2654435761u;
  size_t i, idx;
  for(i = 0; i < HTTP_SERIES_MAX; i++) {
    struct http_series *s;
    uint32_t cur;
    idx = (h + i) & (HTTP_SERIES_MAX - 1);
    s = &shm->http[idx];
    cur = atomic_load_explicit(&s->key, memory_order_acquire);
    if(cur == key)
      return s;
    if(cur == 0) {
      uint32_t expect = 0;
      if(atomic_compare_exchange_strong(&s->key, &expect, key) || expect == key)
        return s;
    }
  }
  return NULL;
}

void vmb_metrics_request(const char *method, const char *route, int status,
                         uint64_t duration_us, bool had_correlation)
{
  struct http_series *s;
  struct recent_slot *r;
  if(!shm)
    return;
  s = http_slot(http_key(method_index(method), route_index(route), status));
  if(s)
    hist_observe(&s->h, duration_us);
  else
    add(&shm->series_overflow, 1);
  if(had_correlation)
    add(&shm->correlation, 1);
  r = recent_now();
  add(&r->requests, 1);
  if(status >= 400 && status < 500)
    add(&r->http_4xx, 1);
  else if(status >= 500)
    add(&r->http_5xx, 1);
}

void vmb_metrics_auth_failure(const char *mode, const char *reason)
{
  if(!shm)
    return;
  add(&shm->auth[list_index(auth_modes, N_AUTH_MODES, mode)]
                [list_index(auth_reasons, N_AUTH_REASONS, reason)], 1);
  add(&recent_now()->auth_failures, 1);
}

void vmb_metrics_rate_limited(void)
{
  if(!shm)
    return;
  add(&shm->rate_limited, 1);
  add(&recent_now()->rate_limited, 1);
}

void vmb_metrics_tool_call(const char *tool, bool ok)
{
  size_t i;
  if(!shm || !tool)
    return;
  for(i = 0; i < n_op_ids; i++)
    if(!strcmp(op_ids[i], tool)) {
      add(&shm->tools[i][ok ? 1 : 0], 1);
      return;
    }
}

/* Only code constants are expected here; anything else is "other". */
static bool vault_name_ok(const char *s)
{
  size_t n = 0;
  if(!s || !*s)
    return false;
  for(; *s; s++, n++) {
    char c = *s;
    if(n >= VAULT_NAME_MAX - 1 ||
       !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-'))
      return false;
  }
  return true;
}

static struct vault_name *vault_name_slot(const char *op, size_t *index)
{
  size_t i;
  if(vault_name_ok(op)) {
    for(i = 0; i < VAULT_OPS_MAX; i++) {
      struct vault_name *v = &shm->vault_names[i];
      uint32_t st = atomic_load_explicit(&v->state, memory_order_acquire);
      if(st == 0) {
        uint32_t expect = 0;
        if(atomic_compare_exchange_strong(&v->state, &expect, 1)) {
          snprintf(v->name, sizeof(v->name), "%s", op);
          atomic_store_explicit(&v->state, 2, memory_order_release);
          *index = i;
          return v;
        }
        st = expect;
      }
      if(st == 1) {
        /* Another worker is writing this name right now (a few bytes):
           wait briefly; if it never finishes, skip the slot. */
        long spins;
        for(spins = 0; spins < 1000000 && st == 1; spins++)
          st = atomic_load_explicit(&v->state, memory_order_acquire);
      }
      if(st == 2 && !strcmp(v->name, op)) {
        *index = i;
        return v;
      }
    }
  }
  *index = VAULT_OPS_MAX;
  return &shm->vault_names[VAULT_OPS_MAX];
}

void vmb_metrics_vault(const char *operation, int status, uint64_t duration_us)
{
  size_t name, i;
  struct vault_name *v;
  uint32_t key, h;
  if(!shm)
    return;
  v = vault_name_slot(operation, &name);
  hist_observe(&v->h, duration_us);
  key = 0x80000000u | ((uint32_t)name << 10) |
        (status >= 100 && status <= 599 ? (uint32_t)status : 0);
  h = key * 2654435761u;
  for(i = 0; i < VAULT_SERIES_MAX; i++) {
    struct vault_series *s = &shm->vault[(h + i) & (VAULT_SERIES_MAX - 1)];
    uint32_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
    if(cur == 0) {
      uint32_t expect = 0;
      if(atomic_compare_exchange_strong(&s->key, &expect, key))
        cur = key;
      else
        cur = expect;
    }
    if(cur == key) {
      add(&s->count, 1);
      break;
    }
  }
  if(i == VAULT_SERIES_MAX)
    add(&shm->series_overflow, 1);
  if(status == 0 || status >= 500)
    add(&recent_now()->vault_errors, 1);
}

void vmb_metrics_upstream(const char *upstream, bool ok, uint64_t duration_us)
{
  size_t i;
  if(!shm)
    return;
  for(i = 0; i < N_UPSTREAMS - 1; i++)
    if(upstream && !strcmp(upstream, upstream_names[i]))
      break;
  hist_observe(&shm->upstream[i].h, duration_us);
  if(!ok)
    add(&shm->upstream[i].errors, 1);
}

void vmb_metrics_streams(int delta)
{
  if(!shm || my_slot < 0)
    return;
  atomic_fetch_add(&shm->procs[my_slot].streams, delta);
}

void vmb_metrics_inflight(int delta)
{
  if(!shm || my_slot < 0)
    return;
  atomic_fetch_add(&shm->procs[my_slot].inflight, delta);
}

void vmb_metrics_spans_exported(uint64_t n)
{
  if(shm)
    add(&shm->spans_exported, n);
}

void vmb_metrics_spans_dropped(uint64_t n)
{
  if(shm)
    add(&shm->spans_dropped, n);
}

bool vmb_metrics_probe_claim(enum vmb_probe_target t, unsigned interval_s)
{
  uint64_t now, last;
  if(!shm || (unsigned)t >= VMB_PROBE_N)
    return false;
  now = (uint64_t)(vmb_now() * 1000.0);
  last = atomic_load(&shm->probes[t].claim_ms);
  /* A little slack so two processes waking at nearly the same moment
     do not both see the interval as over. */
  if(last && now < last + (uint64_t)interval_s * 1000u -
                    (interval_s >= 3 ? 250u : (uint64_t)interval_s * 80u))
    return false;
  return atomic_compare_exchange_strong(&shm->probes[t].claim_ms, &last, now);
}

void vmb_metrics_probe(enum vmb_probe_target t, enum vmb_probe_reason r,
                       uint64_t duration_us)
{
  if(!shm || (unsigned)t >= VMB_PROBE_N || (unsigned)r >= VMB_PROBE_REASON_N)
    return;
  atomic_store(&shm->probes[t].reason, (uint32_t)r);
  atomic_store(&shm->probes[t].duration_us, duration_us);
  atomic_store(&shm->probes[t].time_ms, (uint64_t)(vmb_now() * 1000.0));
}

/* ---- reading ------------------------------------------------------- */

/* In-flight requests and live workers of the pool, and the start time of
   its oldest live worker (unix ms; 0 when none is registered). */
static void pool_state3(int64_t *inflight, unsigned *workers, uint64_t *oldest_ms)
{
  size_t i;
  *inflight = 0;
  *workers = 0;
  *oldest_ms = 0;
  for(i = 0; i < PROCS_MAX; i++) {
    struct proc_slot *s = &shm->procs[i];
    uint64_t st;
    if(!slot_alive(s))
      continue;
    (*workers)++;
    *inflight += atomic_load(&s->inflight);
    st = atomic_load(&s->start_ms);
    if(st && (!*oldest_ms || st < *oldest_ms))
      *oldest_ms = st;
  }
  if(*inflight < 0)
    *inflight = 0;
}

static void pool_state(int64_t *inflight, unsigned *workers)
{
  uint64_t oldest;
  pool_state3(inflight, workers, &oldest);
}

int vmb_metrics_summary(struct vmb_metrics_summary *s, unsigned window_minutes)
{
  size_t i;
  uint64_t now = unix_minute();
  memset(s, 0, sizeof(*s));
  if(!shm)
    return -1;
  if(window_minutes < 1)
    window_minutes = 1;
  if(window_minutes > RECENT_MINUTES)
    window_minutes = RECENT_MINUTES;
  for(i = 0; i < HTTP_SERIES_MAX; i++) {
    uint32_t key = atomic_load_explicit(&shm->http[i].key, memory_order_acquire);
    uint64_t n;
    unsigned st;
    if(!key)
      continue;
    n = hist_count(&shm->http[i].h);
    st = key & 0x3ffu;
    s->requests_total += n;
    if(st >= 400 && st < 500)
      s->requests_4xx += n;
    else if(st >= 500)
      s->requests_5xx += n;
  }
  pool_state(&s->in_flight, &s->worker_processes);
  s->pool_created = (double)shm->created_ms / 1000.0;
  s->process_start = my_start;
  s->spans_exported = get(&shm->spans_exported);
  s->spans_dropped = get(&shm->spans_dropped);
  s->window_seconds = window_minutes * 60u;
  for(i = 0; i < RECENT_MINUTES; i++) {
    struct recent_slot *r = &shm->recent[i];
    uint64_t m = atomic_load_explicit(&r->minute, memory_order_acquire);
    if(m > now || now - m >= window_minutes)
      continue;
    s->recent_requests += get(&r->requests);
    s->recent_4xx += get(&r->http_4xx);
    s->recent_5xx += get(&r->http_5xx);
    s->recent_auth_failures += get(&r->auth_failures);
    s->recent_rate_limited += get(&r->rate_limited);
    s->recent_vault_errors += get(&r->vault_errors);
  }
  return 0;
}

/* Label values come from our own tables, but escape them anyway as the
   exposition format requires (backslash, quote, newline). */
static int put_label(struct vmb_buf *o, const char *v)
{
  for(; *v; v++) {
    int rc;
    if(*v == '\\')
      rc = vmb_buf_append(o, "\\\\", 2);
    else if(*v == '"')
      rc = vmb_buf_append(o, "\\\"", 2);
    else if(*v == '\n')
      rc = vmb_buf_append(o, "\\n", 2);
    else
      rc = vmb_buf_append(o, v, 1);
    if(rc)
      return -1;
  }
  return 0;
}

static int family(struct vmb_buf *o, const char *name, const char *type,
                  const char *help)
{
  return vmb_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Rendering order for http series: by route, method, status. */
struct http_ref {
  uint32_t key;
  struct http_series *s;
};

static int http_ref_cmp(const void *a, const void *b)
{
  const struct http_ref *x = a, *y = b;
  uint32_t kx = ((x->key >> 10) & 0x3ffu) << 16 | ((x->key >> 20) & 0xfu) << 10 | (x->key & 0x3ffu);
  uint32_t ky = ((y->key >> 10) & 0x3ffu) << 16 | ((y->key >> 20) & 0xfu) << 10 | (y->key & 0x3ffu);
  return kx < ky ? -1 : kx > ky;
}

static int http_labels(struct vmb_buf *o, uint32_t key)
{
  size_t m = (key >> 20) & 0xfu, r = (key >> 10) & 0x3ffu;
  unsigned st = key & 0x3ffu;
  if(m >= N_METHODS)
    m = N_METHODS - 1;
  if(r >= n_routes)
    r = 0;
  if(vmb_buf_printf(o, "method=\"%s\",route=\"", method_names[m]) ||
     put_label(o, routes[r]))
    return -1;
  if(st)
    return vmb_buf_printf(o, "\",status=\"%u\"", st);
  return vmb_buf_append_str(o, "\",status=\"other\"");
}

/* Histogram lines for one series; labels is the already-rendered label
   text ("a=\"b\"" or ""). */
static int render_hist(struct vmb_buf *o, const char *name, const char *labels,
                       struct hist *h)
{
  uint64_t cum = 0, v[N_BUCKETS + 1];
  size_t i;
  const char *sep = *labels ? "," : "";
  for(i = 0; i <= N_BUCKETS; i++)
    v[i] = get(&h->bucket[i]);
  for(i = 0; i < N_BUCKETS; i++) {
    cum += v[i];
    if(vmb_buf_printf(o, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                      bucket_le[i], (unsigned long long)cum))
      return -1;
  }
  cum += v[N_BUCKETS];
  if(vmb_buf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cum))
    return -1;
  if(*labels) {
    if(vmb_buf_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                      (double)get(&h->sum_us) / 1e6, name, labels,
                      (unsigned long long)cum))
      return -1;
  }
  else if(vmb_buf_printf(o, "%s_sum %.6f\n%s_count %llu\n", name,
                         (double)get(&h->sum_us) / 1e6, name,
                         (unsigned long long)cum))
    return -1;
  return 0;
}

static int render_http(struct vmb_buf *o)
{
  struct http_ref *refs = malloc(sizeof(*refs) * HTTP_SERIES_MAX);
  struct vmb_buf lb;
  size_t i, n = 0;
  int rc = -1;
  if(!refs)
    return -1;
  vmb_buf_init(&lb, 1024);
  for(i = 0; i < HTTP_SERIES_MAX; i++) {
    uint32_t key = atomic_load_explicit(&shm->http[i].key, memory_order_acquire);
    if(key) {
      refs[n].key = key;
      refs[n].s = &shm->http[i];
      n++;
    }
  }
  qsort(refs, n, sizeof(*refs), http_ref_cmp);
  if(family(o, "http_requests_total", "counter",
            "HTTP requests served by the pool, by method, route template and status."))
    goto out;
  for(i = 0; i < n; i++) {
    if(vmb_buf_append_str(o, "http_requests_total{") || http_labels(o, refs[i].key) ||
       vmb_buf_printf(o, "} %llu\n", (unsigned long long)hist_count(&refs[i].s->h)))
      goto out;
  }
  if(family(o, "http_request_duration_seconds", "histogram",
            "Time from request start to response, by method, route template and status."))
    goto out;
  for(i = 0; i < n; i++) {
    vmb_buf_reset(&lb);
    if(http_labels(&lb, refs[i].key) ||
       render_hist(o, "http_request_duration_seconds", lb.data, &refs[i].s->h))
      goto out;
  }
  rc = 0;
out:
  vmb_buf_free(&lb);
  free(refs);
  return rc;
}

static const char *vault_name_of(size_t idx)
{
  if(idx >= VAULT_OPS_MAX)
    return "other";
  if(atomic_load_explicit(&shm->vault_names[idx].state, memory_order_acquire) != 2)
    return NULL;
  return shm->vault_names[idx].name;
}

static int render_vault(struct vmb_buf *o)
{
  struct vmb_buf lb;
  size_t i;
  int rc = -1;
  vmb_buf_init(&lb, 256);
  if(family(o, "vault_requests_total", "counter",
            "Calls to Vault by operation and HTTP status (unreachable = no answer)."))
    goto out;
  for(i = 0; i < VAULT_SERIES_MAX; i++) {
    uint32_t key = atomic_load_explicit(&shm->vault[i].key, memory_order_acquire);
    const char *name;
    unsigned st;
    if(!key)
      continue;
    name = vault_name_of((key >> 10) & 0x7fu);
    st = key & 0x3ffu;
    if(!name)
      continue;
    if(vmb_buf_append_str(o, "vault_requests_total{operation=\"") || put_label(o, name))
      goto out;
    if(st ? vmb_buf_printf(o, "\",status=\"%u\"} %llu\n", st,
                           (unsigned long long)get(&shm->vault[i].count))
          : vmb_buf_printf(o, "\",status=\"unreachable\"} %llu\n",
                           (unsigned long long)get(&shm->vault[i].count)))
      goto out;
  }
  if(family(o, "vault_request_duration_seconds", "histogram",
            "Duration of calls to Vault by operation."))
    goto out;
  for(i = 0; i <= VAULT_OPS_MAX; i++) {
    const char *name = vault_name_of(i);
    if(!name || hist_count(&shm->vault_names[i].h) == 0)
      continue;
    vmb_buf_reset(&lb);
    if(vmb_buf_append_str(&lb, "operation=\"") || put_label(&lb, name) ||
       vmb_buf_append_str(&lb, "\"") ||
       render_hist(o, "vault_request_duration_seconds", lb.data, &shm->vault_names[i].h))
      goto out;
  }
  rc = 0;
out:
  vmb_buf_free(&lb);
  return rc;
}

static int render_upstreams(struct vmb_buf *o)
{
  char lb[64];
  size_t i;
  if(family(o, "upstream_requests_total", "counter",
            "Outbound calls by upstream (vault, kms, jwks, otlp)."))
    return -1;
  for(i = 0; i < N_UPSTREAMS; i++) {
    uint64_t n = hist_count(&shm->upstream[i].h);
    if(n && vmb_buf_printf(o, "upstream_requests_total{upstream=\"%s\"} %llu\n",
                           upstream_names[i], (unsigned long long)n))
      return -1;
  }
  if(family(o, "upstream_errors_total", "counter",
            "Outbound calls that failed: not reached, timed out, reply too "
            "large, or a 5xx answer."))
    return -1;
  for(i = 0; i < N_UPSTREAMS; i++) {
    uint64_t n = get(&shm->upstream[i].errors);
    if(hist_count(&shm->upstream[i].h) &&
       vmb_buf_printf(o, "upstream_errors_total{upstream=\"%s\"} %llu\n",
                      upstream_names[i], (unsigned long long)n))
      return -1;
  }
  if(family(o, "upstream_request_duration_seconds", "histogram",
            "Duration of outbound calls by upstream."))
    return -1;
  for(i = 0; i < N_UPSTREAMS; i++) {
    if(!hist_count(&shm->upstream[i].h))
      continue;
    snprintf(lb, sizeof(lb), "upstream=\"%s\"", upstream_names[i]);
    if(render_hist(o, "upstream_request_duration_seconds", lb, &shm->upstream[i].h))
      return -1;
  }
  return 0;
}

/* vault_up / kms_up and the reason of the last probe: every reason of
   the bounded list as its own series, 1 for the current one, so an alert
   can name it and no series appears or vanishes. */
static int render_probes(struct vmb_buf *o)
{
  size_t t, r;
  for(t = 0; t < VMB_PROBE_N; t++) {
    struct probe_slot *p = &shm->probes[t];
    uint64_t when = atomic_load(&p->time_ms);
    uint32_t reason = atomic_load(&p->reason);
    char name[64];
    if(!when)
      continue;   /* never probed (probe off, or KMS disabled) */
    if(reason >= VMB_PROBE_REASON_N)
      reason = VMB_PROBE_UNKNOWN;
    snprintf(name, sizeof(name), "%s_up", probe_targets[t]);
    if(family(o, name, "gauge", t == VMB_PROBE_VAULT
              ? "1 when the last background probe found Vault reachable, initialised and unsealed."
              : t == VMB_PROBE_KMS
              ? "1 when the last background probe reached the AWS KMS endpoint."
              : "1 when the last Redis command of any worker succeeded (REDIS_URL).") ||
       vmb_buf_printf(o, "%s %d\n", name, reason == VMB_PROBE_OK))
      return -1;
    snprintf(name, sizeof(name), "%s_probe_reason", probe_targets[t]);
    if(family(o, name, "gauge",
              "Outcome of the last background probe: 1 for the reason that applies."))
      return -1;
    for(r = 1; r < VMB_PROBE_REASON_N; r++)
      if(vmb_buf_printf(o, "%s{reason=\"%s\"} %d\n", name, probe_reasons[r],
                        r == reason))
        return -1;
    snprintf(name, sizeof(name), "%s_probe_timestamp_seconds", probe_targets[t]);
    if(family(o, name, "gauge", "When the last background probe finished (unix seconds).") ||
       vmb_buf_printf(o, "%s %.3f\n", name, (double)when / 1000.0))
      return -1;
    snprintf(name, sizeof(name), "%s_probe_duration_seconds", probe_targets[t]);
    if(family(o, name, "gauge", "How long the last background probe took.") ||
       vmb_buf_printf(o, "%s %.6f\n", name, (double)atomic_load(&p->duration_us) / 1e6))
      return -1;
  }
  return 0;
}

static int render_plain(struct vmb_buf *o)
{
  size_t i, j;
  int64_t inflight;
  unsigned workers;
  uint64_t oldest_ms;
  if(!shm)
    return -1;
  if(render_http(o))
    return -1;
  if(family(o, "http_requests_with_correlation_total", "counter",
            "HTTP requests that carried an X-Correlation-Id header.") ||
     vmb_buf_printf(o, "http_requests_with_correlation_total %llu\n",
                    (unsigned long long)get(&shm->correlation)))
    return -1;
  pool_state3(&inflight, &workers, &oldest_ms);
  if(family(o, "http_requests_in_flight", "gauge",
            "Requests being served right now by all live workers of the pool.") ||
     vmb_buf_printf(o, "http_requests_in_flight %lld\n", (long long)inflight))
    return -1;
  if(family(o, "mcp_streams_parked", "gauge",
            "Event streams (/mcp/sse, subscriptions/listen) held by each live "
            "responder process's event loop."))
    return -1;
  for(i = 0; i < PROCS_MAX; i++) {
    struct proc_slot *s = &shm->procs[i];
    if(slot_alive(s) &&
       vmb_buf_printf(o, "mcp_streams_parked{pid=\"%d\"} %lld\n", (int)atomic_load(&s->pid),
                      (long long)atomic_load(&s->streams)))
      return -1;
  }
  if(render_vault(o) || render_upstreams(o))
    return -1;
  if(family(o, "auth_failures_total", "counter",
            "Failed authentications by auth mode and reason."))
    return -1;
  for(i = 0; i < N_AUTH_MODES; i++)
    for(j = 0; j < N_AUTH_REASONS; j++) {
      uint64_t v = get(&shm->auth[i][j]);
      if(v && vmb_buf_printf(o, "auth_failures_total{mode=\"%s\",reason=\"%s\"} %llu\n",
                             auth_modes[i], auth_reasons[j], (unsigned long long)v))
        return -1;
    }
  if(family(o, "rate_limited_total", "counter",
            "Requests refused by the per-subject rate limit.") ||
     vmb_buf_printf(o, "rate_limited_total %llu\n",
                    (unsigned long long)get(&shm->rate_limited)))
    return -1;
  if(family(o, "mcp_tool_calls_total", "counter",
            "MCP tools/call invocations by tool and outcome."))
    return -1;
  for(i = 0; i < n_op_ids; i++)
    for(j = 0; j < 2; j++) {
      uint64_t v = get(&shm->tools[i][j]);
      if(!v)
        continue;
      if(vmb_buf_append_str(o, "mcp_tool_calls_total{tool=\"") ||
         put_label(o, op_ids[i]) ||
         vmb_buf_printf(o, "\",outcome=\"%s\"} %llu\n", j ? "ok" : "error",
                        (unsigned long long)v))
        return -1;
    }
  if(family(o, "worker_processes", "gauge",
            "Live worker processes registered in the pool's shared metrics.") ||
     vmb_buf_printf(o, "worker_processes %u\n", workers) ||
     family(o, "process_start_time_seconds", "gauge",
            "Start time of the pool: its oldest live worker (unix seconds).") ||
     vmb_buf_printf(o, "process_start_time_seconds %.3f\n",
                    oldest_ms ? (double)oldest_ms / 1000.0 : my_start) ||
     family(o, "worker_start_time_seconds", "gauge",
            "Start time of the worker process that served this scrape (unix seconds).") ||
     vmb_buf_printf(o, "worker_start_time_seconds %.3f\n", my_start) ||
     family(o, "pool_metrics_created_time_seconds", "gauge",
            "When the shared metrics file was created (unix seconds).") ||
     vmb_buf_printf(o, "pool_metrics_created_time_seconds %.3f\n",
                    (double)shm->created_ms / 1000.0) ||
     family(o, "build_info", "gauge", "Version of the bridge; the value is always 1.") ||
     vmb_buf_append_str(o, "build_info{version=\"") || put_label(o, build_version) ||
     vmb_buf_append_str(o, "\"} 1\n") ||
     family(o, "otel_spans_exported_total", "counter",
            "Spans delivered to the OTLP collector.") ||
     vmb_buf_printf(o, "otel_spans_exported_total %llu\n",
                    (unsigned long long)get(&shm->spans_exported)) ||
     family(o, "otel_spans_dropped_total", "counter",
            "Spans dropped because the export queue was full or the collector failed.") ||
     vmb_buf_printf(o, "otel_spans_dropped_total %llu\n",
                    (unsigned long long)get(&shm->spans_dropped)) ||
     family(o, "metrics_series_overflow_total", "counter",
            "Observations not recorded because a series table was full.") ||
     vmb_buf_printf(o, "metrics_series_overflow_total %llu\n",
                    (unsigned long long)get(&shm->series_overflow)))
    return -1;
  return render_probes(o);
}

/*
** The exposition, with METRICS_PREFIX put in front of every metric name:
** rendered plain first, then copied line by line. Every sample line
** starts with its metric name, and "# HELP name" / "# TYPE name" carry it
** after the keyword, so the prefix goes exactly there.
*/
int vmb_metrics_render(struct vmb_buf *o)
{
  struct vmb_buf plain;
  size_t pos = 0, plen = strlen(name_prefix);
  int rc = -1;
  if(!plen)
    return render_plain(o);
  vmb_buf_init(&plain, o->max);
  if(render_plain(&plain))
    goto out;
  while(pos < plain.len) {
    const char *line = plain.data + pos;
    const char *nl = memchr(line, '\n', plain.len - pos);
    size_t n = nl ? (size_t)(nl - line) + 1 : plain.len - pos;
    size_t skip = 0;
    if(n > 7 && (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)))
      skip = 7;
    else if(line[0] == '#' || line[0] == '\n')
      skip = n;   /* other comments and blank lines: copied as they are */
    if(skip < n) {
      if(vmb_buf_append(o, line, skip) || vmb_buf_append(o, name_prefix, plen) ||
         vmb_buf_append(o, line + skip, n - skip))
        goto out;
    }
    else if(vmb_buf_append(o, line, n))
      goto out;
    pos += n;
  }
  rc = 0;
out:
  vmb_buf_free(&plain);
  return rc;
}
