/*
** mcp_bus.c - the host-wide MCP event bus and GET /mcp/sse.
**
** Why shared memory: a FastCGI pool is several processes, each with
** several threads, and a tools/call may be served by a different process
** than the one holding the caller's event stream. So events go through
** one small file in RUN_DIR (mcp-bus.v2), mapped MAP_SHARED by every
** process of the host:
**
**   - a ring of BUS_EVENTS slots, each tagged with a sequence number;
**     `next` is the sequence number of the next event, from 1;
**   - a table of BUS_STREAMS open streams (pid + subject), so the
**     per-subject limit MCP_MAX_STREAMS_PER_SUBJECT holds host-wide
**     (rows are scanned up to a high-water mark, not the whole table);
**   - a table of BUS_SESSIONS MCP sessions (Mcp-Session-Id, subject,
**     last use), so a session begun on one process is known to all;
**   - one process-shared, robust mutex guarding all three: a process that
**     dies holding it leaves it recoverable (EOWNERDEAD), and stream
**     rows of dead pids are reclaimed on the next registration.
**
** Publishers (tools/call) take the lock, fill the slot, bump `next`,
** then bump the 32-bit `wake` word and FUTEX_WAKE everyone waiting on it.
** Each process that holds streams runs one small waiter thread
** (vmb_mcp_bus_watch) blocked in FUTEX_WAIT on that word; when it moves,
** the waiter writes the event loop's eventfd (mcp_park.c), and the loop
** copies out what is new under the lock, once per process, not per
** stream. Why a futex rather than an eventfd per process registered in
** shared memory: another process cannot write to our eventfd without
** being handed the descriptor (SCM_RIGHTS or pidfd_getfd), and a registry
** of them would need cleaning when processes die; one futex word in the
** mapping every process already has needs neither, and one FUTEX_WAKE by
** the publisher wakes every process of the host at once. An event
** overwritten before a slow loop saw it is skipped (the stream learns
** nothing it should not). Event ids are the global sequence numbers, so
** they are unique across all streams and Last-Event-ID can replay what
** is still in the ring.
**
** Streams are parked (mcp_park.c): after the serving thread has written
** the headers, one event-loop thread per process holds the connection,
** so a stream costs a socket and a few KiB, not a thread. Per process at
** most MCP_MAX_STREAMS_PER_PROCESS streams are open (lowered at start-up
** to what RLIMIT_NOFILE allows). A transport that cannot park (none
** today) falls back to vmb_mcp_bus_follow(), which holds its thread and
** polls every 100 ms.
**
** If RUN_DIR cannot be used, the bus falls back to an anonymous mapping:
** events then only reach streams of the same process (logged once).
**
** With REDIS_URL set (issue 16) events and sessions live in Redis: see
** "Events through Redis" below for events. Sessions: so every
** host knows them: key <prefix>sess:<id> holds the subject and expires
** after SESSION_IDLE_S without use; a touch or an end is one script that
** compares the subject and refreshes or deletes the key in one step, so
** DELETE on one host ends the session on all. When Redis cannot be asked
** in time a session is taken as valid (it carries no state and no right:
** every request is authenticated on its own), and the outage is logged
** and reported by /readyz through upstream/redis.c.
*/
#include "mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>

#include <hiredis/hiredis.h>

#include "redis.h"
#include "util.h"
#include "vmb/arena.h"
#include "rundir.h"
#include "vmb/log.h"

#define BUS_MAGIC 0x564d4231u        /* "VMB1" */
#define BUS_EVENTS 1024u
/* Host-wide open streams; the per-process limit is a setting, this is
   the ceiling of all processes together (about 9 MiB of the mapping,
   touched only up to the high-water mark). */
#define BUS_STREAMS 65536u
#define BUS_TOOL_MAX 64
#define POLL_NS (100L * 1000L * 1000L)
#define BATCH 32
#define BUS_SESSIONS 4096u
/* Descriptors kept free of streams in each process. */
#define FD_RESERVE 256L
/* A session unused this long is forgotten; the client gets 404 and
   starts a new one, as Streamable HTTP prescribes. */
#define SESSION_IDLE_S (12.0 * 3600.0)

struct bus_event {
  uint64_t seq;
  double ts;
  char tool[BUS_TOOL_MAX];
  char subject[VMB_SUBJECT_MAX + 1];
};

struct bus_stream {
  int32_t pid;                       /* 0 = free */
  uint32_t pad;
  uint64_t hash;                     /* of subject: most rows are skipped on it */
  char subject[VMB_SUBJECT_MAX + 1];
};

struct bus_session {
  char id[VMB_MCP_SESSION_ID_LEN + 1];   /* "" = free */
  char subject[VMB_SUBJECT_MAX + 1];
  double last_used;
};

struct bus {
  _Atomic uint32_t magic;     /* written last (release): the layout is ready */
  uint32_t size;
  pthread_mutex_t lock;
  _Atomic uint64_t next;
  _Atomic uint32_t wake;      /* futex word: moves after every publish */
  _Atomic uint32_t waiters;   /* processes with a waiter thread (hint only) */
  uint32_t streams_hw;        /* rows [0, hw) may be in use; lock held */
  uint32_t pad;
  struct bus_stream streams[BUS_STREAMS];
  struct bus_event events[BUS_EVENTS];
  struct bus_session sessions[BUS_SESSIONS];
};

static struct bus *bus;
static bool bus_shared;              /* false: anonymous fallback */
static atomic_bool stopping;
static atomic_long local_streams;
static long max_local_streams;
static long process_limit_setting;
static long max_subject_streams;
static long keepalive_s;

/* ARGV = subject, idle seconds. Touch: refresh when the subject matches. */
static const char sess_touch_script[] =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
  "  redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
  "return 0\n";
/* End: delete when the subject matches. */
static const char sess_end_script[] =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
  "  redis.call('DEL', KEYS[1]) return 1 end\n"
  "return 0\n";
static char sess_touch_sha[41], sess_end_sha[41];

/* Events through Redis (see below). */
#define EV_SEQ_BITS 20
#define EV_LOCAL 1024u
#define EV_ALL_CAP 8192u

/* How long an event key lives after its last publish (each publish
   refreshes it): twice a session's idle lifetime, so a client that
   resumes with Last-Event-ID at any point of a live session still finds
   what the key holds, while a subject that stopped calling tools does
   not keep its ~50 KB in Redis for ever (docs/scaling.md). */
#define EV_KEY_TTL_S ((long)(2.0 * SESSION_IDLE_S))

/* KEYS: subject key, all key. ARGV: tool, ts, subject, subject cap,
   all cap, key expiry in seconds. */
static const char ev_publish_script[] =
  "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', "
  "'tool', ARGV[1], 'ts', ARGV[2])\n"
  "redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
  "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', id, "
  "'subject', ARGV[3], 'tool', ARGV[1], 'ts', ARGV[2])\n"
  "redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
  "return id\n";
static char ev_publish_sha[41];
/* The reader's XREAD BLOCK: long, so an idle process asks Redis a few
   times a minute; its command deadline is REDIS_TIMEOUT_MS on top. */
static const long redis_block_ms = 5000;

/* ---- set-up --------------------------------------------------------- */

static int bus_format(struct bus *b)
{
  pthread_mutexattr_t at;
  int rc;
  /* No memset: b is a file just grown from 0 bytes, so it reads as zeros
     already, and writing ~10 MiB of zeros would make every page of the
     stream table resident in RUN_DIR's tmpfs instead of only those the
     high-water mark reaches. */
  if(pthread_mutexattr_init(&at))
    return -1;
  rc = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED) ||
       pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST) ||
       pthread_mutex_init(&b->lock, &at);
  pthread_mutexattr_destroy(&at);
  if(rc)
    return -1;
  atomic_store(&b->next, 1);
  b->size = (uint32_t)sizeof(*b);
  atomic_store_explicit(&b->magic, BUS_MAGIC, memory_order_release);
  return 0;
}

/* Map RUN_DIR/mcp-bus.v2 (v1 had 512 stream rows and no wake word;
   a v1 file left by an older build is not touched), creating and formatting it under an exclusive
   flock so concurrent starters agree on one layout. RUN_DIR and the file
   pass the checks of base/rundir.h; a file of another size or layout is
   replaced (unlinked and created anew), never resized or reformatted under
   the mappings of processes still using it. NULL with err filled. */
static struct bus *map_file(const char *dir, char *err, size_t errlen)
{
  char path[4096];
  int tries;

  if(vmb_rundir_check(dir, err, errlen))
    return NULL;
  if(snprintf(path, sizeof(path), "%s/mcp-bus.v2", dir) >= (int)sizeof(path)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: too long");
    return NULL;
  }
  for(tries = 0; tries < 20; tries++) {
    struct stat st, pst;
    struct bus *b;
    void *p;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if(fd < 0) {
      snprintf(err, errlen, "mcp: cannot open %s: %s (symlinks are refused)", path,
               strerror(errno));
      return NULL;
    }
    if(vmb_rundir_file_ok(fd, path, err, errlen)) {
      close(fd);
      return NULL;
    }
    if(flock(fd, LOCK_EX) || fstat(fd, &st)) {
      snprintf(err, errlen, "mcp: cannot lock %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    if(stat(path, &pst) || pst.st_ino != st.st_ino || pst.st_dev != st.st_dev) {
      close(fd);                     /* replaced while we waited */
      continue;
    }
    if(st.st_size != 0 && st.st_size != (off_t)sizeof(struct bus)) {
      unlink(path);                  /* another layout: replace */
      close(fd);
      continue;
    }
    if(st.st_size == 0 && ftruncate(fd, (off_t)sizeof(struct bus))) {
      snprintf(err, errlen, "mcp: cannot size %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    p = mmap(NULL, sizeof(struct bus), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if(p == MAP_FAILED) {
      snprintf(err, errlen, "mcp: cannot map %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    b = p;
    if(st.st_size == 0) {
      if(bus_format(b)) {
        snprintf(err, errlen, "mcp: cannot set up the event bus in %s", path);
        munmap(p, sizeof(struct bus));
        unlink(path);
        close(fd);
        return NULL;
      }
    }
    else if(atomic_load_explicit(&b->magic, memory_order_acquire) != BUS_MAGIC ||
            b->size != (uint32_t)sizeof(*b)) {
      munmap(p, sizeof(struct bus));
      unlink(path);
      close(fd);
      continue;
    }
    flock(fd, LOCK_UN);
    close(fd);
    return b;
  }
  snprintf(err, errlen, "mcp: %s keeps changing; giving up", path);
  return NULL;
}

int vmb_mcp_bus_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  process_limit_setting = cfg->mcp_max_streams_per_process > 0 ?
    cfg->mcp_max_streams_per_process : 10000;
  max_local_streams = process_limit_setting;
  max_subject_streams = cfg->mcp_max_streams_per_subject;
  keepalive_s = cfg->mcp_sse_keepalive_seconds > 0 ? cfg->mcp_sse_keepalive_seconds : 15;
  atomic_store(&stopping, false);
  vmb_redis_sha1(sess_touch_script, sess_touch_sha);
  vmb_redis_sha1(sess_end_script, sess_end_sha);
  vmb_redis_sha1(ev_publish_script, ev_publish_sha);
  {
    /* Every parked stream holds a descriptor: keep the limit within
       RLIMIT_NOFILE (raised to its hard limit by the transport before
       this runs), with a reserve for listening sockets, Vault and Redis
       connections, logs and the accept of new requests. */
    struct rlimit rl;
    if(!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
      long budget = (long)rl.rlim_cur - FD_RESERVE;
      if(budget < 1)
        budget = 1;
      if(budget < max_local_streams) {
        char msg[200];
        snprintf(msg, sizeof(msg), "MCP_MAX_STREAMS_PER_PROCESS %ld lowered to %ld: "
                 "RLIMIT_NOFILE is %llu", max_local_streams, budget,
                 (unsigned long long)rl.rlim_cur);
        vmb_log_server(VMB_LOG_WARN, "mcp", msg);
        max_local_streams = budget;
      }
    }
  }
  if(bus)
    return 0;
  /* A RUN_DIR that fails its checks stops start-up (issue 13): the bus
     holds sessions, and falling back to a private mapping would hide a
     planted file behind a warning. */
  bus = map_file(cfg->run_dir, err, errlen);
  bus_shared = bus != NULL;
  if(!bus)
    return -1;
  return 0;
}

static void reader_stop(void);

void vmb_mcp_bus_cleanup(void)
{
  atomic_store(&stopping, true);
  reader_stop();                     /* first: it wakes the loop's eventfd */
  vmb_mcp_park_join();               /* every parked stream ended */
  /* The mapping stays: a straggling thread may still touch it, and the
     process is about to exit anyway. */
}

void vmb_mcp_stop_streams(void)
{
  atomic_store(&stopping, true);
  vmb_mcp_park_stop();
}

static int bus_lock(void)
{
  int rc = pthread_mutex_lock(&bus->lock);
  if(rc == EOWNERDEAD) {
    /* Its owner died mid-update: at worst one event slot or stream row
       is half written, which readers tolerate. */
    pthread_mutex_consistent(&bus->lock);
    rc = 0;
  }
  return rc;
}

static void bus_unlock(void) { pthread_mutex_unlock(&bus->lock); }

static void copy_str(char *dst, size_t cap, const char *src)
{
  size_t n = strlen(src);
  if(n >= cap)
    n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* ---- publishing ----------------------------------------------------- */

/*
** Events through Redis (REDIS_URL, issue 16): one Redis stream per
** subject, <prefix>ev:<subject>, capped near BUS_EVENTS entries. A
** stream on any host reads only its own subject's key, so no other
** subject's event can reach it, and sees every host's events in the
** order Redis took them. Event ids are the Redis entry ids packed into
** one number (milliseconds << 20 | sequence), so Last-Event-ID works as
** before. An event whose XADD fails is lost (the outage is logged).
**
** Parked streams (mcp_park.c) do not read their subject's key each: the
** same script that adds an event to <prefix>ev:<subject> also adds it,
** with that entry's id and the subject, to one host-independent stream
** <prefix>ev:all. Each process that holds streams runs one reader thread
** with one blocking XREAD on ev:all (not one per stream), keeps the last
** EV_LOCAL events in a process-local ring and wakes its loop, which hands
** each event only to the local streams of that event's subject (no other
** subject's stream ever sees it). Replay after Last-Event-ID still reads
** the subject's own key, in the serving thread before the stream parks.
*/

static int ev_key(char *key, size_t len, const char *subject)
{
  int n = snprintf(key, len, "%sev:%s", vmb_redis_prefix(), subject);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int all_key(char *key, size_t len)
{
  int n = snprintf(key, len, "%sev:all", vmb_redis_prefix());
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void redis_publish(const char *tool, const char *subject)
{
  char key[256], akey[128], ts[32], cap[16], acap[16], ttl[24];
  const char *argv[8] = {key, akey, tool, ts, subject, cap, acap, ttl};
  struct redisReply *r;
  if(ev_key(key, sizeof(key), subject) || all_key(akey, sizeof(akey)))
    return;
  snprintf(ts, sizeof(ts), "%.6f", vmb_now());
  snprintf(cap, sizeof(cap), "%u", BUS_EVENTS);
  snprintf(acap, sizeof(acap), "%u", EV_ALL_CAP);
  snprintf(ttl, sizeof(ttl), "%ld", EV_KEY_TTL_S);
  r = vmb_redis_script(ev_publish_script, ev_publish_sha, 2, 8, argv, NULL);
  vmb_redis_free(r);
}

/* "ms-seq" -> packed id; 0 when malformed. */
static uint64_t ev_pack(const char *id, size_t len)
{
  uint64_t ms = 0, seq = 0;
  size_t i = 0;
  for(; i < len && id[i] >= '0' && id[i] <= '9'; i++)
    ms = ms * 10 + (uint64_t)(id[i] - '0');
  if(i == 0 || i >= len || id[i] != '-' || i > 15)
    return 0;
  for(i++; i < len && id[i] >= '0' && id[i] <= '9'; i++)
    seq = seq * 10 + (uint64_t)(id[i] - '0');
  if(i != len || seq >= (1u << EV_SEQ_BITS))
    return 0;
  return ms << EV_SEQ_BITS | seq;
}

/* The id of the subject's newest event, packed (0: none yet); -1 when
   Redis could not answer. */
static int redis_last_id(const char *subject, uint64_t *out)
{
  char key[256];
  const char *argv[6] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
  size_t lens[6];
  int i, rc = -1;
  struct redisReply *r;
  if(ev_key(key, sizeof(key), subject))
    return -1;
  for(i = 0; i < 6; i++)
    lens[i] = strlen(argv[i]);
  r = vmb_redis_command(6, argv, lens, NULL);
  if(r && r->type == REDIS_REPLY_ARRAY) {
    *out = 0;
    if(r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
       r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
      *out = ev_pack(r->element[0]->element[0]->str, r->element[0]->element[0]->len);
    rc = 0;
  }
  vmb_redis_free(r);
  return rc;
}

/* Events of subject after *pos into out (at most max); *pos moves to the
   last one read. 0 when Redis could not answer (try again next tick). */
static size_t redis_collect(const char *subject, uint64_t *pos, struct vmb_mcp_event *out,
                            size_t max)
{
  char key[256], after[48], count[16];
  const char *argv[6] = {"XREAD", "COUNT", count, "STREAMS", key, after};
  size_t lens[6], n = 0, i, j;
  struct redisReply *r, *entries;
  if(ev_key(key, sizeof(key), subject))
    return 0;
  snprintf(after, sizeof(after), "%llu-%llu", (unsigned long long)(*pos >> EV_SEQ_BITS),
           (unsigned long long)(*pos & ((1u << EV_SEQ_BITS) - 1)));
  snprintf(count, sizeof(count), "%zu", max);
  for(i = 0; i < 6; i++)
    lens[i] = strlen(argv[i]);
  r = vmb_redis_command(6, argv, lens, NULL);
  if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
     r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
     r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
    vmb_redis_free(r);                /* nil: nothing new */
    return 0;
  }
  entries = r->element[0]->element[1];
  for(i = 0; i < entries->elements && n < max; i++) {
    struct redisReply *e = entries->element[i], *f;
    uint64_t id;
    if(e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
       e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
      continue;
    id = ev_pack(e->element[0]->str, e->element[0]->len);
    if(id <= *pos)
      continue;
    *pos = id;
    f = e->element[1];
    memset(&out[n], 0, sizeof(out[n]));
    out[n].seq = (unsigned long long)id;
    for(j = 0; j + 1 < f->elements; j += 2) {
      const struct redisReply *k = f->element[j], *v = f->element[j + 1];
      if(k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        continue;
      if(!strcmp(k->str, "tool"))
        copy_str(out[n].tool, sizeof(out[n].tool), v->str);
      else if(!strcmp(k->str, "ts"))
        out[n].ts = strtod(v->str, NULL);
    }
    copy_str(out[n].subject, sizeof(out[n].subject), subject);
    if(out[n].tool[0])
      n++;
  }
  vmb_redis_free(r);
  return n;
}

void vmb_mcp_bus_publish(const char *tool, const char *subject)
{
  struct bus_event *e;
  uint64_t seq;
  if(tool && subject && vmb_redis_enabled()) {
    redis_publish(tool, subject);
    return;
  }
  if(!bus || !tool || !subject || bus_lock())
    return;
  seq = atomic_load(&bus->next);
  e = &bus->events[seq % BUS_EVENTS];
  e->seq = seq;
  e->ts = vmb_now();
  copy_str(e->tool, sizeof(e->tool), tool);
  copy_str(e->subject, sizeof(e->subject), subject);
  atomic_store(&bus->next, seq + 1);
  bus_unlock();
  /* Wake every process's waiter (vmb_mcp_bus_watch): the word moves
     first, so a waiter that is about to sleep on the old value returns at
     once instead of sleeping through this event. */
  atomic_fetch_add(&bus->wake, 1);
  if(atomic_load(&bus->waiters))
    syscall(SYS_futex, &bus->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Copy up to max events for subject with seq in [*pos, next) into out;
   advance *pos past what was scanned. Returns the number copied. */
static size_t bus_collect(const char *subject, uint64_t *pos, struct bus_event *out,
                          size_t max)
{
  size_t n = 0;
  uint64_t next;
  if(bus_lock())
    return 0;
  next = atomic_load(&bus->next);
  if(next > BUS_EVENTS && *pos < next - BUS_EVENTS)
    *pos = next - BUS_EVENTS;        /* overwritten before we looked */
  while(*pos < next && n < max) {
    const struct bus_event *e = &bus->events[*pos % BUS_EVENTS];
    if(e->seq == *pos && !strncmp(e->subject, subject, sizeof(e->subject))) {
      out[n] = *e;
      out[n].tool[sizeof(out[n].tool) - 1] = '\0';
      out[n].subject[sizeof(out[n].subject) - 1] = '\0';
      n++;
    }
    (*pos)++;
  }
  bus_unlock();
  return n;
}

/* ---- sessions -------------------------------------------------------- */


/* Ids come from a header: only our own shape reaches a Redis key. */
static bool session_id_ok(const char *id)
{
  size_t i;
  for(i = 0; id[i]; i++)
    if(!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  return i == VMB_MCP_SESSION_ID_LEN;
}

static int session_key(char *key, size_t len, const char *id)
{
  int n = snprintf(key, len, "%ssess:%s", vmb_redis_prefix(), id);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* 1 yes, 0 no, -1 Redis could not answer. */
static int redis_session_script(const char *script, const char *sha,
                                const char *id, const char *subject)
{
  char key[160], ttl[24];
  const char *argv[3] = {key, subject, ttl};
  struct redisReply *r;
  int rc = -1;
  if(!session_id_ok(id) || session_key(key, sizeof(key), id))
    return 0;
  snprintf(ttl, sizeof(ttl), "%ld", (long)SESSION_IDLE_S);
  r = vmb_redis_script(script, sha, 1, 3, argv, NULL);
  if(r && r->type == REDIS_REPLY_INTEGER)
    rc = r->integer == 1;
  vmb_redis_free(r);
  return rc;
}

int vmb_mcp_session_new(const char *subject, char *id, size_t idlen)
{
  size_t i, victim = 0;
  double now = vmb_now(), oldest = 0;
  if(idlen < VMB_MCP_SESSION_ID_LEN + 1 || vmb_random_hex(id, VMB_MCP_SESSION_ID_LEN / 2))
    return -1;
  if(vmb_redis_enabled()) {
    char key[160], ttl[24];
    const char *argv[5] = {"SET", key, subject, "EX", ttl};
    size_t lens[5];
    struct redisReply *r;
    if(session_key(key, sizeof(key), id))
      return -1;
    snprintf(ttl, sizeof(ttl), "%ld", (long)SESSION_IDLE_S);
    for(i = 0; i < 5; i++)
      lens[i] = strlen(argv[i]);
    /* Not stored when Redis is down: the id is still handed out (touch
       accepts any id then), and once Redis is back the client gets 404
       and initialises again, as Streamable HTTP prescribes. */
    r = vmb_redis_command(5, argv, lens, NULL);
    vmb_redis_free(r);
    return 0;
  }
  if(!bus || bus_lock())
    return -1;
  /* A free slot, else the least recently used one (that client will
     get 404 and start over). */
  for(i = 0; i < BUS_SESSIONS; i++) {
    struct bus_session *s = &bus->sessions[i];
    if(!s->id[0] || now - s->last_used > SESSION_IDLE_S) {
      victim = i;
      break;
    }
    if(i == 0 || s->last_used < oldest) {
      oldest = s->last_used;
      victim = i;
    }
  }
  copy_str(bus->sessions[victim].id, sizeof(bus->sessions[victim].id), id);
  copy_str(bus->sessions[victim].subject, sizeof(bus->sessions[victim].subject), subject);
  bus->sessions[victim].last_used = now;
  bus_unlock();
  return 0;
}

/* The slot of a live session id owned by subject, or -1. Lock held. */
static long session_find(const char *id, const char *subject, double now)
{
  size_t i;
  if(strlen(id) != VMB_MCP_SESSION_ID_LEN)
    return -1;
  for(i = 0; i < BUS_SESSIONS; i++) {
    struct bus_session *s = &bus->sessions[i];
    if(s->id[0] && !strncmp(s->id, id, sizeof(s->id))) {
      /* Bound to the subject that began it: anyone else, even with the
         id, is told it does not exist. */
      if(strncmp(s->subject, subject, sizeof(s->subject)) ||
         now - s->last_used > SESSION_IDLE_S)
        return -1;
      return (long)i;
    }
  }
  return -1;
}

bool vmb_mcp_session_touch(const char *id, const char *subject)
{
  double now = vmb_now();
  long i;
  if(vmb_redis_enabled())
    return redis_session_script(sess_touch_script, sess_touch_sha, id, subject) != 0;
  if(!bus || bus_lock())
    return false;
  i = session_find(id, subject, now);
  if(i >= 0)
    bus->sessions[i].last_used = now;
  bus_unlock();
  return i >= 0;
}

int vmb_mcp_session_end(const char *id, const char *subject)
{
  long i;
  if(vmb_redis_enabled())
    return redis_session_script(sess_end_script, sess_end_sha, id, subject);
  if(!bus || bus_lock())
    return 0;
  i = session_find(id, subject, vmb_now());
  if(i >= 0)
    memset(&bus->sessions[i], 0, sizeof(bus->sessions[i]));
  bus_unlock();
  return i >= 0;
}

/* ---- stream accounting ---------------------------------------------- */

#define REG_OK VMB_MCP_STREAM_OK
#define REG_SUBJECT_LIMIT VMB_MCP_STREAM_SUBJECT_LIMIT
#define REG_PROCESS_LIMIT VMB_MCP_STREAM_PROCESS_LIMIT
#define REG_FULL VMB_MCP_STREAM_FULL
#define REG_ERROR VMB_MCP_STREAM_ERROR

/* FNV-1a of a subject: rows of other subjects are skipped on it. */
static uint64_t subject_hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for(; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h | 1;                      /* never 0 */
}

/* Is pid gone? Asked once per pid per scan: *cache holds the answers so
   far (a scan over thousands of rows of a few processes makes a few
   kill(0) calls, not thousands). */
struct pid_cache {
  int32_t pid[32];
  bool dead[32];
  size_t n;
};

static bool pid_dead(struct pid_cache *c, int32_t pid)
{
  size_t i;
  bool dead;
  for(i = 0; i < c->n; i++)
    if(c->pid[i] == pid)
      return c->dead[i];
  dead = kill(pid, 0) && errno == ESRCH;
  if(c->n < 32) {
    c->pid[c->n] = pid;
    c->dead[c->n++] = dead;
  }
  return dead;
}

enum vmb_mcp_stream_reg vmb_mcp_stream_open(const char *subject, long *slot)
{
  long count = 0, free_slot = -1, i, hw;
  pid_t me = getpid();
  uint64_t h = subject_hash(subject);
  struct pid_cache pc;
  pc.n = 0;
  if(atomic_fetch_add(&local_streams, 1) >= max_local_streams) {
    atomic_fetch_sub(&local_streams, 1);
    return REG_PROCESS_LIMIT;
  }
  if(!bus || bus_lock()) {
    atomic_fetch_sub(&local_streams, 1);
    return REG_ERROR;
  }
  hw = (long)bus->streams_hw;
  if(hw > (long)BUS_STREAMS)
    hw = (long)BUS_STREAMS;          /* a torn write by a dead owner */
  for(i = 0; i < hw; i++) {
    struct bus_stream *s = &bus->streams[i];
    if(s->pid && s->pid != me && bus_shared && pid_dead(&pc, s->pid))
      s->pid = 0;                    /* its process is gone */
    if(!s->pid) {
      if(free_slot < 0)
        free_slot = i;
      continue;
    }
    if(s->hash == h && !strncmp(s->subject, subject, sizeof(s->subject)))
      count++;
  }
  if(free_slot < 0 && hw < (long)BUS_STREAMS)
    free_slot = hw;
  if(count >= max_subject_streams || free_slot < 0) {
    bus_unlock();
    atomic_fetch_sub(&local_streams, 1);
    return free_slot < 0 ? REG_FULL : REG_SUBJECT_LIMIT;
  }
  bus->streams[free_slot].pid = (int32_t)me;
  bus->streams[free_slot].hash = h;
  copy_str(bus->streams[free_slot].subject, sizeof(bus->streams[free_slot].subject), subject);
  if(free_slot >= hw)
    bus->streams_hw = (uint32_t)free_slot + 1;
  bus_unlock();
  *slot = free_slot;
  return REG_OK;
}

void vmb_mcp_stream_close(long slot)
{
  if(slot < 0 || slot >= (long)BUS_STREAMS)
    return;
  if(!bus_lock()) {
    bus->streams[slot].pid = 0;
    bus->streams[slot].hash = 0;
    bus->streams[slot].subject[0] = '\0';
    /* Lower the high-water mark past free rows at its end. */
    while(bus->streams_hw > 0 && !bus->streams[bus->streams_hw - 1].pid)
      bus->streams_hw--;
    bus_unlock();
  }
  atomic_fetch_sub(&local_streams, 1);
}

long vmb_mcp_stream_process_limit(void) { return max_local_streams; }
long vmb_mcp_streams_open_here(void) { return atomic_load(&local_streams); }

long vmb_mcp_stream_subject_limit(void) { return max_subject_streams; }

unsigned long long vmb_mcp_bus_next(void)
{
  if(vmb_redis_enabled())
    return 0;                         /* "from now": found by the follower */
  return bus ? (unsigned long long)atomic_load(&bus->next) : 1u;
}

/* ---- delivery to parked streams (mcp_park.c) ------------------------ */

/* Redis mode: the events the reader thread took from ev:all, newest
   EV_LOCAL, indexed from 0 by arrival. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmb_mcp_event ring[EV_LOCAL];
static uint64_t ring_next;            /* lock held */

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_fd = -1;             /* the loop's eventfd, set once */
static int watch_rc = -1;
static char all_last[48] = "$";       /* reader thread's position in ev:all */
/* The Redis reader is joined at cleanup, before redis.c is cleaned up:
   a thread still running then ends after redis.c's per-thread key is
   deleted, so its connection (and a reply it just read) would never be
   freed, which LeakSanitizer reports at exit. reader_cancel (an eventfd)
   ends its blocking XREAD at once. */
static pthread_t reader_thread;
static bool reader_started;
static int reader_cancel = -1;

static void wake_loop(void)
{
  uint64_t one = 1;
  ssize_t n = write(watch_fd, &one, sizeof(one));
  (void)n;                            /* EAGAIN: a wake is pending already */
}

/* One per process: sleeps in FUTEX_WAIT on bus->wake and wakes the loop
   when it moved. The 1 s timeout only lets it notice shutdown. */
static void *futex_waiter(void *arg)
{
  uint32_t seen = atomic_load(&bus->wake) - 1;   /* wake once at start */
  (void)arg;
  atomic_fetch_add(&bus->waiters, 1);
  while(!atomic_load(&stopping)) {
    uint32_t v = atomic_load(&bus->wake);
    struct timespec ts = {1, 0};
    if(v != seen) {
      seen = v;
      wake_loop();
      continue;
    }
    syscall(SYS_futex, &bus->wake, FUTEX_WAIT, v, &ts, NULL, 0);
  }
  atomic_fetch_sub(&bus->waiters, 1);
  return NULL;
}

static const struct redisReply *field(const struct redisReply *f, const char *name)
{
  size_t j;
  for(j = 0; j + 1 < f->elements; j += 2)
    if(f->element[j]->type == REDIS_REPLY_STRING && f->element[j + 1]->type ==
       REDIS_REPLY_STRING && !strcmp(f->element[j]->str, name))
      return f->element[j + 1];
  return NULL;
}

/* Take one XREAD reply's entries into the ring; true when any arrived. */
static bool ring_take(const struct redisReply *r)
{
  const struct redisReply *entries;
  size_t i;
  bool any = false;
  if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
     r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
     r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    return false;                     /* nil: nothing new within the block */
  entries = r->element[0]->element[1];
  for(i = 0; i < entries->elements; i++) {
    const struct redisReply *e = entries->element[i], *id, *sub, *tool, *ts;
    struct vmb_mcp_event ev;
    if(e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
       e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
       e->element[0]->len >= sizeof(all_last))
      continue;
    memcpy(all_last, e->element[0]->str, e->element[0]->len);
    all_last[e->element[0]->len] = '\0';
    id = field(e->element[1], "id");
    sub = field(e->element[1], "subject");
    tool = field(e->element[1], "tool");
    ts = field(e->element[1], "ts");
    if(!id || !sub || !tool || sub->len > VMB_SUBJECT_MAX || !tool->len)
      continue;
    memset(&ev, 0, sizeof(ev));
    ev.seq = (unsigned long long)ev_pack(id->str, id->len);
    if(!ev.seq)
      continue;
    copy_str(ev.subject, sizeof(ev.subject), sub->str);
    copy_str(ev.tool, sizeof(ev.tool), tool->str);
    ev.ts = ts ? strtod(ts->str, NULL) : vmb_now();
    pthread_mutex_lock(&ring_lock);
    ring[ring_next % EV_LOCAL] = ev;
    ring_next++;
    pthread_mutex_unlock(&ring_lock);
    any = true;
  }
  return any;
}

/* One per process with REDIS_URL: one blocking XREAD on ev:all at a time,
   for every stream of the process, on this thread's own connection. */
static void *redis_reader(void *arg)
{
  char akey[128], block[24];
  (void)arg;
  if(all_key(akey, sizeof(akey)))
    return NULL;
  snprintf(block, sizeof(block), "%ld", redis_block_ms);
  while(!atomic_load(&stopping)) {
    const char *argv[8] = {"XREAD", "COUNT", "256", "BLOCK", block, "STREAMS", akey, all_last};
    const char *why = NULL;
    size_t lens[8];
    struct redisReply *r;
    int i;
    for(i = 0; i < 8; i++)
      lens[i] = strlen(argv[i]);
    r = vmb_redis_command_blocking(8, argv, lens, redis_block_ms, reader_cancel, &why);
    if(!r) {
      struct pollfd p = {reader_cancel, POLLIN, 0};
      if(why && !strcmp(why, "cancelled"))
        break;
      poll(&p, 1, 200);               /* Redis away: redis.c backs off too */
      continue;
    }
    if(ring_take(r))
      wake_loop();
    vmb_redis_free(r);
  }
  return NULL;
}

static void watch_start(void)
{
  pthread_t t;
  pthread_attr_t at;
  if(pthread_attr_init(&at))
    return;
  pthread_attr_setstacksize(&at, 256u * 1024u);
  if(vmb_redis_enabled()) {
    /* Place the reader after the newest event now, synchronously, so
       that anything published after a stream's replay read (which
       follows this) reaches the ring. */
    char akey[128];
    const char *argv[5] = {"XREVRANGE", akey, "+", "-", "COUNT"};
    const char *argv6[6];
    size_t lens[6];
    struct redisReply *r;
    int i;
    if(!all_key(akey, sizeof(akey))) {
      memcpy(argv6, argv, sizeof(argv));
      argv6[5] = "1";
      for(i = 0; i < 6; i++)
        lens[i] = strlen(argv6[i]);
      r = vmb_redis_command(6, argv6, lens, NULL);
      if(r && r->type == REDIS_REPLY_ARRAY) {
        snprintf(all_last, sizeof(all_last), "0-0");
        if(r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
           r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
           r->element[0]->element[0]->len < sizeof(all_last))
          snprintf(all_last, sizeof(all_last), "%s", r->element[0]->element[0]->str);
      }
      vmb_redis_free(r);
    }
    /* Joinable (see reader_stop). */
    reader_cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if(reader_cancel >= 0 && !pthread_create(&reader_thread, &at, redis_reader, NULL)) {
      reader_started = true;
      watch_rc = 0;
    }
    else {
      if(reader_cancel >= 0)
        close(reader_cancel);
      reader_cancel = -1;
      watch_rc = -1;
    }
  }
  else if(bus && !pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED))
    /* Detached: it holds no memory of its own and wakes each second. */
    watch_rc = pthread_create(&t, &at, futex_waiter, NULL) ? -1 : 0;
  pthread_attr_destroy(&at);
}

/* Cancel the reader's XREAD and join it, so it has ended (and redis.c
   has closed its connection) before redis.c is cleaned up. */
static void reader_stop(void)
{
  uint64_t one = 1;
  ssize_t n;
  if(!reader_started)
    return;
  n = write(reader_cancel, &one, sizeof(one));
  (void)n;                            /* an eventfd write of 1 cannot fail here */
  pthread_join(reader_thread, NULL);
  reader_started = false;
  close(reader_cancel);
  reader_cancel = -1;
}

int vmb_mcp_bus_watch(int efd)
{
  if(watch_fd < 0)
    watch_fd = efd;                   /* the first caller's; one loop per process */
  pthread_once(&watch_once, watch_start);
  return watch_rc;
}

uint64_t vmb_mcp_bus_end(void)
{
  uint64_t n;
  if(vmb_redis_enabled()) {
    pthread_mutex_lock(&ring_lock);
    n = ring_next;
    pthread_mutex_unlock(&ring_lock);
    return n;
  }
  return bus ? atomic_load(&bus->next) : 1u;
}

uint64_t vmb_mcp_bus_catchup_from(uint64_t last_id)
{
  if(vmb_redis_enabled()) {
    uint64_t n = vmb_mcp_bus_end();
    return n > EV_LOCAL ? n - EV_LOCAL : 0;
  }
  return last_id + 1;                 /* ids are the ring's indexes */
}

size_t vmb_mcp_bus_fetch(const char *subject, uint64_t *cursor, uint64_t end,
                         struct vmb_mcp_event *out, size_t max)
{
  size_t n = 0;
  if(vmb_redis_enabled()) {
    pthread_mutex_lock(&ring_lock);
    if(!end || end > ring_next)
      end = ring_next;
    if(ring_next > EV_LOCAL && *cursor < ring_next - EV_LOCAL)
      *cursor = ring_next - EV_LOCAL;
    for(; *cursor < end && n < max; (*cursor)++) {
      const struct vmb_mcp_event *e = &ring[*cursor % EV_LOCAL];
      if(!subject || !strncmp(e->subject, subject, sizeof(e->subject)))
        out[n++] = *e;
    }
    pthread_mutex_unlock(&ring_lock);
    return n;
  }
  if(!bus || bus_lock())
    return 0;
  {
    uint64_t next = atomic_load(&bus->next);
    if(!end || end > next)
      end = next;
    if(next > BUS_EVENTS && *cursor < next - BUS_EVENTS)
      *cursor = next - BUS_EVENTS;    /* overwritten before we looked */
    for(; *cursor < end && n < max; (*cursor)++) {
      const struct bus_event *e = &bus->events[*cursor % BUS_EVENTS];
      if(e->seq != *cursor || (subject && strncmp(e->subject, subject, sizeof(e->subject))))
        continue;
      memset(&out[n], 0, sizeof(out[n]));
      out[n].seq = (unsigned long long)e->seq;
      out[n].ts = e->ts;
      copy_str(out[n].tool, sizeof(out[n].tool), e->tool);
      memcpy(out[n].subject, e->subject, sizeof(out[n].subject) - 1);
      out[n].subject[sizeof(out[n].subject) - 1] = '\0';
      n++;
    }
  }
  bus_unlock();
  return n;
}

uint64_t vmb_mcp_bus_start(const char *subject, const char *last_event_id)
{
  long last_id;
  if(vmb_redis_enabled()) {
    uint64_t pos = 0;
    /* Ids are packed Redis ids: resume after the one the client saw. */
    if(last_event_id && !vmb_parse_long(last_event_id, 1, LONG_MAX, &last_id))
      return (uint64_t)last_id;
    /* Else after the newest event now; Redis away: from this millisecond. */
    if(redis_last_id(subject, &pos))
      pos = (uint64_t)(vmb_now() * 1000.0) << EV_SEQ_BITS;
    return pos;
  }
  {
    uint64_t next = bus ? atomic_load(&bus->next) : 1u;
    /* Resume after the last event the client saw, if the ring still has
       everything since then. */
    if(last_event_id && !vmb_parse_long(last_event_id, 0, LONG_MAX, &last_id) &&
       (uint64_t)last_id < next && (uint64_t)last_id + BUS_EVENTS >= next)
      return (uint64_t)last_id;
    return next - 1;
  }
}

size_t vmb_mcp_bus_replay(const char *subject, uint64_t *last, struct vmb_mcp_event *out,
                          size_t max)
{
  if(!vmb_redis_enabled())
    return 0;                         /* the loop catches up from the ring */
  return redis_collect(subject, last, out, max);
}

/* ---- the stream loop, shared by /mcp/sse and subscriptions/listen ---- */

static int send_text(const struct vmb_stream *st, const char *s, size_t n)
{
  return st->write(st->ctx, s, n);
}

int vmb_mcp_bus_follow(struct vmb_request *req, const char *subject,
                       unsigned long long start, vmb_mcp_event_fn fn, void *ctx)
{
  struct bus_event batch[BATCH];
  uint64_t pos = start, last_ka = vmb_monotonic_us();
  bool shared = vmb_redis_enabled(), placed = start != 0;
  while(!atomic_load(&stopping)) {
    struct timespec ts = {0, POLL_NS};
    if(fn && shared) {
      /* Redis: place the start after the newest event once (retried each
         tick while Redis is away), then read what is new. */
      if(!placed)
        placed = redis_last_id(subject, &pos) == 0;
      if(placed) {
        struct vmb_mcp_event ev[BATCH];
        size_t n, i;
        do {
          n = redis_collect(subject, &pos, ev, BATCH);
          for(i = 0; i < n; i++)
            if(fn(req, ctx, &ev[i]))
              return -1;
        } while(n == BATCH);
      }
    }
    else if(fn && atomic_load(&bus->next) != pos) {
      size_t n, i;
      int bad = 0;
      do {
        n = bus_collect(subject, &pos, batch, BATCH);
        for(i = 0; i < n && !bad; i++) {
          struct vmb_mcp_event e;
          memset(&e, 0, sizeof(e));
          e.seq = (unsigned long long)batch[i].seq;
          e.ts = batch[i].ts;
          copy_str(e.tool, sizeof(e.tool), batch[i].tool);
          copy_str(e.subject, sizeof(e.subject), batch[i].subject);
          bad = fn(req, ctx, &e);
        }
      } while(n == BATCH && !bad);
      if(bad)
        return -1;
    }
    if(vmb_monotonic_us() - last_ka >= (uint64_t)keepalive_s * 1000000u) {
      if(send_text(req->stream, ": keepalive\n\n", 13))
        return -1;
      last_ka = vmb_monotonic_us();
    }
    if(nanosleep(&ts, NULL) && errno == EINTR)
      return 1;                      /* the responder is stopping */
  }
  return 1;
}

/* ---- GET /mcp/sse --------------------------------------------------- */

json_object *vmb_mcp_sse_event_doc(const struct vmb_mcp_event *e)
{
  json_object *doc = json_object_new_object();
  char ts[48];
  if(!doc)
    return NULL;
  vmb_format_ts(ts, sizeof(ts), e->ts);
  json_object_object_add(doc, "type", json_object_new_string("tool.completed"));
  json_object_object_add(doc, "tool", json_object_new_string(e->tool));
  json_object_object_add(doc, "subject", json_object_new_string(e->subject));
  json_object_object_add(doc, "ts", json_object_new_string(ts));
  return doc;
}

static int send_event(struct vmb_request *req, void *ctx, const struct vmb_mcp_event *e)
{
  json_object *doc = vmb_mcp_sse_event_doc(e);
  char head[64];
  const char *text;
  int rc = -1, hn;
  (void)ctx;
  if(!doc)
    return 0;                        /* skip it rather than drop the stream */
  text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                        JSON_C_TO_STRING_NOSLASHESCAPE);
  hn = snprintf(head, sizeof(head), "id: %llu\nevent: tool.completed\ndata: ", e->seq);
  if(text && hn > 0 && hn < (int)sizeof(head))
    rc = send_text(req->stream, head, (size_t)hn) ||
         send_text(req->stream, text, strlen(text)) ||
         send_text(req->stream, "\n\n", 2) ? -1 : 0;
  json_object_put(doc);
  return rc;
}

enum vmb_err vmb_h_mcp_sse(struct vmb_call *c)
{
  struct vmb_request *req = c->req;
  const char *origin = vmb_request_header(req, "origin");
  const char *accept = vmb_request_header(req, "accept");
  const char *last = vmb_request_header(req, "last-event-id");
  const char *why = NULL;
  struct vmb_header h[10];
  size_t nh = 0;
  uint64_t pos, next, seen;
  long slot = -1, last_id;
  bool parkable;
  enum vmb_mcp_stream_reg reg;
  static const char hello[] = ": vault-mcp-bridge events\nretry: 3000\n\n";

  if(!vmb_mcp_host_origin_ok(req, &why)) {
    c->detail = why;
    return VMB_ERR_FORBIDDEN;
  }
  if(!req->stream) {
    c->detail = "this transport cannot stream";
    return VMB_ERR_NOT_ACCEPTABLE;
  }
  if(accept && !strstr(accept, "text/event-stream") && !strstr(accept, "*/*") &&
     !strstr(accept, "text/*")) {
    c->detail = "this endpoint answers text/event-stream";
    return VMB_ERR_NOT_ACCEPTABLE;
  }
  reg = vmb_mcp_stream_open(req->identity.subject, &slot);
  if(reg != REG_OK) {
    c->detail = reg == REG_SUBJECT_LIMIT ?
      vmb_arena_printf(req->arena, "at most %ld event streams per subject are open "
                       "at a time", max_subject_streams) :
      "no capacity for another event stream right now";
    vmb_response_header(c->resp, "Retry-After", reg == REG_SUBJECT_LIMIT ? "30" : "5");
    return reg == REG_ERROR ? VMB_ERR_INTERNAL : VMB_ERR_RATE_LIMITED;
  }
  /* The loop runs (and has its place in the event sequence) before the
     stream's own place is taken below, so nothing falls between them. */
  parkable = req->stream->park && !vmb_mcp_park_prepare();
  seen = vmb_mcp_bus_start(req->identity.subject, last);

  if(vmb_redis_enabled()) {
    /* Ids are packed Redis ids: resume after the one the client saw
       (what Redis still holds of the subject's stream). */
    pos = 0;
    if(last && !vmb_parse_long(last, 1, LONG_MAX, &last_id))
      pos = (uint64_t)last_id;
    /* Else start after the newest event now, before the stream opens,
       so an event published once the client sees the stream is never
       missed (if Redis is away, the follower places it later). */
    else if(redis_last_id(req->identity.subject, &pos) == 0 && pos == 0)
      pos = 1;                        /* nothing yet: everything from the start */
  }
  else {
    next = atomic_load(&bus->next);
    pos = next;
    /* Resume after the last event the client saw, if the ring still has
       everything since then. */
    if(last && !vmb_parse_long(last, 0, LONG_MAX, &last_id) &&
       (uint64_t)last_id < next && (uint64_t)last_id + BUS_EVENTS >= next)
      pos = (uint64_t)last_id + 1;
  }

  h[nh++] = (struct vmb_header){"Content-Type", "text/event-stream"};
  h[nh++] = (struct vmb_header){"Cache-Control", "no-store"};
  h[nh++] = (struct vmb_header){"X-Accel-Buffering", "no"};
  h[nh++] = (struct vmb_header){"X-Request-Id", req->request_id};
  if(origin) {
    /* The Origin check passed: it is on the CORS list or same-origin. */
    h[nh++] = (struct vmb_header){"Access-Control-Allow-Origin", origin};
    h[nh++] = (struct vmb_header){"Vary", "Origin"};
  }
  c->resp->status = 200;
  c->resp->streamed = true;
  if(req->stream->begin(req->stream->ctx, 200, h, nh) ||
     send_text(req->stream, hello, sizeof(hello) - 1)) {
    vmb_mcp_stream_close(slot);
    return VMB_ERR_OK;
  }
  if(parkable) {
    struct vmb_mcp_event ev[BATCH];
    struct vmb_parked *p;
    size_t n, i;
    int rounds = 0;
    /* Redis: replay after Last-Event-ID here, from the subject's own
       stream (bounded); the shared-memory ring is replayed by the loop. */
    do {
      n = vmb_mcp_bus_replay(req->identity.subject, &seen, ev, BATCH);
      for(i = 0; i < n; i++)
        if(send_event(req, NULL, &ev[i])) {
          vmb_mcp_stream_close(slot);
          return VMB_ERR_OK;
        }
    } while(n == BATCH && ++rounds < 64);
    p = vmb_mcp_parked_new(req, slot, seen, false, false, NULL);
    if(p && !req->stream->park(req->stream->ctx, p))
      return VMB_ERR_OK;               /* the loop holds it (and the slot) */
    if(p)
      vmb_mcp_park_drop(p);            /* closes the slot */
    else
      vmb_mcp_stream_close(slot);
    return VMB_ERR_OK;
  }
  vmb_mcp_bus_follow(req, req->identity.subject, pos, send_event, NULL);
  vmb_mcp_stream_close(slot);
  return VMB_ERR_OK;
}
