/*
** ratelimit.c - per-subject fixed-window limits shared by every thread of
** every worker process on the host (SPEC section 2).
**
** A FastCGI pool is many processes, so counters live in a file mapped
** MAP_SHARED: RUN_DIR/ratelimit.v1 (RUN_DIR and the file pass the checks of
** base/rundir.h; a file of another size is replaced, never resized). The file is a header
** and a fixed open-addressing table of 64-bit slot pairs:
**
**   key   = 64-bit hash of the subject (0 = free slot)
**   state = window number (high 32 bits) | count in that window (low 32)
**
** Each request is one compare-and-swap on state: a new window restarts at
** 1, otherwise the count goes up while it is below the limit. A single
** CAS leaves the slot either before or after the update, so a worker
** SIGKILLed at any instruction leaves nothing half-written and nothing
** locked - there is no mutex to recover. Fixed windows are aligned to the
** epoch (window = now / RATE_LIMIT_WINDOW_SECONDS), so every process
** agrees on them without talking to each other.
**
** Slots are claimed with a CAS on key. A slot whose window is older than
** the previous one may be reused by another subject when the probe
** sequence is full (stale subjects therefore do not fill the table
** forever). That reuse can, in a narrow race, charge one request to the
** wrong subject; it only happens when PROBES slots in a row are taken.
** If no slot can be found at all the request is allowed (failing open:
** the limiter protects capacity, it is not an authorisation check) and
** a warning is logged.
**
** With REDIS_URL set (issue 16) the counters live in Redis instead, so
** every host shares them: one Lua script per request (EVALSHA, EVAL on
** NOSCRIPT) reads the server's clock, picks the same epoch-aligned window,
** and increments only while the count is below the limit - check and
** increment are one atomic step on the server, so the limit is exact
** across hosts. The key expires with its window. When Redis cannot be
** asked within REDIS_TIMEOUT_MS the request is allowed or refused as
** RATE_LIMIT_ON_BACKEND_ERROR says (default allow, the same fail-open
** choice as a crowded table above; see docs/scaling.md).
*/
#include "ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis.h"
#include "rundir.h"
#include "vmb/log.h"

#define RL_MAGIC 0x766d62726c763031ULL   /* "vmbrlv01" */
#define RL_SLOTS 65536u                   /* power of two */
#define RL_PROBES 32u
#define RL_FILE "ratelimit.v1"

struct rl_slot {
  _Atomic uint64_t key;
  _Atomic uint64_t state;
};

struct rl_table {
  _Atomic uint64_t magic;
  uint64_t nslots;
  uint64_t reserved[6];             /* keeps slots on a 64-byte boundary */
  struct rl_slot slots[RL_SLOTS];
};

static struct rl_table *tbl;        /* the mapping; NULL when disabled */
static long rl_limit, rl_window;
static atomic_flag warned_full = ATOMIC_FLAG_INIT;
static bool use_redis, deny_on_error;
static char rl_sha[41];

/* KEYS[1] = key prefix for this subject; ARGV = limit, window seconds.
   Returns {allowed 0|1, count, seconds to the end of the window}. The
   window number is taken from the server's TIME so hosts with skewed
   clocks still agree. */
static const char rl_script[] =
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1])\n"
  "local limit = tonumber(ARGV[1])\n"
  "local w = tonumber(ARGV[2])\n"
  "local win = math.floor(now / w)\n"
  "local k = KEYS[1] .. ':' .. win\n"
  "local reset = w - (now % w)\n"
  "local c = tonumber(redis.call('GET', k) or '0')\n"
  "if c >= limit then return {0, c, reset} end\n"
  "c = redis.call('INCR', k)\n"
  "if c == 1 then redis.call('EXPIRE', k, w + 1) end\n"
  "return {1, c, reset}\n";

_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit atomics");

int vmb_ratelimit_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  char path[4200];
  struct stat st;
  void *map;
  int fd, tries;
  uint64_t expect = 0;

  vmb_ratelimit_cleanup();
  rl_limit = cfg->rate_limit_requests;
  rl_window = cfg->rate_limit_window_seconds > 0 ?
              cfg->rate_limit_window_seconds : 60;
  use_redis = false;
  deny_on_error = cfg->rate_limit_on_backend_error &&
                  !strcmp(cfg->rate_limit_on_backend_error, "deny");
  if(!cfg->rate_limit_enabled)
    return 0;
  /* Subjects are counted in Redis; the table below still serves the
     per-host keys (pre-authentication limits per client address). */
  if(vmb_redis_enabled()) {
    vmb_redis_sha1(rl_script, rl_sha);
    use_redis = true;
  }
  if(vmb_rundir_check(cfg->run_dir, err, errlen))
    return -1;
  if(snprintf(path, sizeof(path), "%s/%s", cfg->run_dir, RL_FILE) >=
     (int)sizeof(path)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: too long");
    return -1;
  }
  for(tries = 0;; tries++) {
    struct stat pst;
    if(tries == 20) {
      snprintf(err, errlen, "rate limit: %s keeps changing; giving up", path);
      return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if(fd < 0) {
      snprintf(err, errlen, "rate limit: cannot open %s: %s (symlinks are refused)",
               path, strerror(errno));
      return -1;
    }
    if(vmb_rundir_file_ok(fd, path, err, errlen)) {
      close(fd);
      return -1;
    }
    if(flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
      snprintf(err, errlen, "rate limit: cannot lock %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    /* Replaced while we waited for the lock: start again on the new one. */
    if(stat(path, &pst) != 0 || pst.st_ino != st.st_ino || pst.st_dev != st.st_dev) {
      close(fd);
      continue;
    }
    /* A fresh file is all zero, which is a valid empty table. */
    if(st.st_size == 0 && ftruncate(fd, (off_t)sizeof(struct rl_table)) != 0) {
      snprintf(err, errlen, "rate limit: cannot size %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    if(st.st_size != 0 && st.st_size != (off_t)sizeof(struct rl_table)) {
      /* Another layout (another version): replace the file, never resize
         it under the mappings of processes still running on it. */
      unlink(path);
      close(fd);
      continue;
    }
    break;
  }
  map = mmap(NULL, sizeof(struct rl_table), PROT_READ | PROT_WRITE,
             MAP_SHARED, fd, 0);
  flock(fd, LOCK_UN);               /* the mapping would keep it held */
  close(fd);                        /* the mapping keeps the file */
  if(map == MAP_FAILED) {
    snprintf(err, errlen, "rate limit: mmap %s: %s", path, strerror(errno));
    return -1;
  }
  tbl = map;
  if(!atomic_compare_exchange_strong(&tbl->magic, &expect, RL_MAGIC) &&
     expect != RL_MAGIC) {
    snprintf(err, errlen, "rate limit: %s is not a rate-limit table", path);
    vmb_ratelimit_cleanup();
    return -1;
  }
  tbl->nslots = RL_SLOTS;           /* informational; same value everywhere */
  return 0;
}

void vmb_ratelimit_cleanup(void)
{
  if(tbl)
    munmap(tbl, sizeof(struct rl_table));
  tbl = NULL;
}

/* FNV-1a then a 64-bit finaliser (splitmix): subjects are short and
   authenticated, so a fast non-cryptographic hash is enough; 0 is
   reserved for "free". */
static uint64_t subject_hash(const char *s)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for(; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h ? h : 1;
}

static struct rl_slot *find_slot(uint64_t key, uint32_t win)
{
  uint32_t i, idx = (uint32_t)key & (RL_SLOTS - 1);
  struct rl_slot *reuse = NULL;
  for(i = 0; i < RL_PROBES; i++) {
    struct rl_slot *s = &tbl->slots[(idx + i) & (RL_SLOTS - 1)];
    uint64_t k = atomic_load(&s->key);
    if(k == key)
      return s;
    if(k == 0) {
      uint64_t zero = 0;
      if(atomic_compare_exchange_strong(&s->key, &zero, key) || zero == key)
        return s;
      continue;                     /* another subject took it just now */
    }
    if(!reuse) {
      uint32_t sw = (uint32_t)(atomic_load(&s->state) >> 32);
      if(sw != win && sw + 1 != win)
        reuse = s;                  /* idle for a whole window at least */
    }
  }
  if(reuse) {
    uint64_t old = atomic_load(&reuse->key);
    if(atomic_compare_exchange_strong(&reuse->key, &old, key))
      return reuse;
  }
  return NULL;
}

/* Ask Redis; false when it could not answer (v->backend_* filled). */
static void redis_take(const char *subject, struct vmb_rl_verdict *v)
{
  char key[512], lim[24], win[24];
  const char *argv[3] = {key, lim, win}, *why = NULL;
  struct redisReply *r;
  int n = snprintf(key, sizeof(key), "%srl:%s", vmb_redis_prefix(), subject);
  if(n < 0 || n >= (int)sizeof(key)) {
    v->backend_error = true;    /* subjects are bounded well below this */
    v->backend_why = "protocol";
    v->allowed = !deny_on_error;
    return;
  }
  snprintf(lim, sizeof(lim), "%ld", rl_limit);
  snprintf(win, sizeof(win), "%ld", rl_window);
  r = vmb_redis_script(rl_script, rl_sha, 1, 3, argv, &why);
  if(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
     r->element[0]->type == REDIS_REPLY_INTEGER &&
     r->element[1]->type == REDIS_REPLY_INTEGER &&
     r->element[2]->type == REDIS_REPLY_INTEGER) {
    long long count = r->element[1]->integer;
    v->allowed = r->element[0]->integer == 1;
    v->remaining = v->allowed && count <= rl_limit ? rl_limit - (long)count : 0;
    v->reset_seconds = (long)r->element[2]->integer;
    vmb_redis_free(r);
    return;
  }
  if(r) {
    why = "protocol";           /* an error reply, e.g. OOM or a bad script */
    vmb_redis_free(r);
  }
  v->backend_error = true;
  v->backend_why = why ? why : "unreachable";
  v->allowed = !deny_on_error;
}

void vmb_ratelimit_take_key(const char *key, long limit, bool count_it,
                            struct vmb_rl_verdict *v)
{
  struct timespec ts;
  uint64_t now, cur, next;
  uint32_t win, count;
  struct rl_slot *s;

  clock_gettime(CLOCK_REALTIME, &ts);
  now = (uint64_t)ts.tv_sec;
  win = (uint32_t)(now / (uint64_t)rl_window);
  v->limit = limit;
  v->reset_seconds = (long)((uint64_t)rl_window - now % (uint64_t)rl_window);
  v->allowed = true;
  v->remaining = limit;
  v->backend_error = false;
  v->backend_why = NULL;
  if(!tbl)
    return;
  s = find_slot(subject_hash(key ? key : ""), win);
  if(!s) {
    if(!atomic_flag_test_and_set(&warned_full))
      vmb_log_server(VMB_LOG_WARN, "ratelimit",
                     "rate-limit table crowded; some requests not counted");
    return;
  }
  cur = atomic_load(&s->state);
  for(;;) {
    uint32_t sw = (uint32_t)(cur >> 32);
    count = sw == win ? (uint32_t)cur : 0;
    if((long)count >= limit) {
      v->allowed = false;
      v->remaining = 0;
      return;
    }
    if(!count_it) {                  /* a look, not a request */
      v->remaining = limit - (long)count;
      return;
    }
    next = ((uint64_t)win << 32) | (uint64_t)(count + 1);
    if(atomic_compare_exchange_weak(&s->state, &cur, next))
      break;
  }
  v->remaining = limit - (long)(count + 1);
}

void vmb_ratelimit_take(const char *subject, struct vmb_rl_verdict *v)
{
  if(use_redis) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v->limit = rl_limit;
    v->remaining = rl_limit;
    v->reset_seconds = (long)(rl_window - (long)ts.tv_sec % rl_window);
    v->allowed = true;
    v->backend_error = false;
    v->backend_why = NULL;
    redis_take(subject ? subject : "", v);
    return;
  }
  vmb_ratelimit_take_key(subject, rl_limit, true, v);
}

bool vmb_ratelimit_needs_redis(void)
{
  return use_redis && deny_on_error;
}
