/*
** registry.c - subject records in Vault KV v2, a per-process snapshot and
** the host-wide generation counter (see registry.h, docs/registry.md).
**
** Ownership: the snapshot and the default grants are process-wide and
** immutable once published; everything a request takes from them is
** copied into its arena under the read lock. Records read for the admin
** API are json-c documents owned by the caller (NEW references).
*/
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nspath.h"
#include "redis.h"
#include "scope.h"
#include "util.h"
#include "vault.h"
#include "vmb/arena.h"
#include "vmb/log.h"

#define REG_MAGIC 0x766d627267763031ULL   /* "vmbrgv01" */
#define REG_FILE "registry.v1"
#define RETRY_US 1000000u                 /* retry a failed load after 1 s */

/* ---- time ----------------------------------------------------------- */

long long vmb_rfc3339_parse(const char *s)
{
  struct tm tm;
  int y, mo, d, h, mi, se;
  size_t n;
  char *end;
  time_t t;
  if(!s || (n = strlen(s)) < 20 || n > 40)
    return -1;
  /* digits at fixed places, separators exact */
  {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for(i = 0; i < 19; i++)
      if(shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
        return -1;
  }
  y = (int)strtol(s, &end, 10);
  mo = (int)strtol(s + 5, &end, 10);
  d = (int)strtol(s + 8, &end, 10);
  h = (int)strtol(s + 11, &end, 10);
  mi = (int)strtol(s + 14, &end, 10);
  se = (int)strtol(s + 17, &end, 10);
  end = (char *)s + 19;
  if(*end == '.') {
    end++;
    if(!(*end >= '0' && *end <= '9'))
      return -1;
    while(*end >= '0' && *end <= '9')
      end++;
  }
  if(strcmp(end, "Z") || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
     d > 31 || h > 23 || mi > 59 || se > 60)
    return -1;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  t = timegm(&tm);
  return t == (time_t)-1 ? -1 : (long long)t;
}

void vmb_rfc3339_format(long long t, char *out, size_t outlen)
{
  time_t secs = (time_t)t;
  struct tm tm;
  if(!gmtime_r(&secs, &tm)) {
    snprintf(out, outlen, "1970-01-01T00:00:00Z");
    return;
  }
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- the shared generation counter ---------------------------------- */

struct reg_shm {
  _Atomic uint64_t magic;
  _Atomic uint64_t generation;
  uint64_t reserved[6];
};

static struct reg_shm *shm;
/* The settings the registry reads, taken at start-up (vmb_registry_init);
   strings BORROWED from the configuration, which outlives requests. */
static struct {
  bool enabled;                     /* REGISTRY_ENABLED */
  const char *kv_mount;             /* KV_MOUNT */
  const char *admin_prefix;         /* ADMIN_PREFIX */
} conf = {.enabled = true, .kv_mount = "secret", .admin_prefix = "mcp-admin"};

/* Same rules as the rate-limit table (ratelimit.c): RUN_DIR is created
   0700 and must be a real directory of ours, not writable by others; the
   file is opened without following symlinks and must be ours. */
static int shm_open_file(const char *dir, char *err, size_t errlen)
{
  char path[4200];
  struct stat st;
  void *map;
  int fd;
  uint64_t expect = 0;
  size_t i, n = strlen(dir);
  if(n == 0 || n >= 4096) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: empty or too long");
    return -1;
  }
  memcpy(path, dir, n + 1);
  for(i = 1; i <= n; i++) {
    if(path[i] == '/' || path[i] == '\0') {
      char saved = path[i];
      path[i] = '\0';
      if(mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "invalid configuration: RUN_DIR: cannot create %s: %s",
                 path, strerror(errno));
        return -1;
      }
      path[i] = saved;
    }
  }
  if(lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
     (st.st_mode & 0022)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: %s must be a directory "
             "(not a symlink) owned by this user and not writable by others", dir);
    return -1;
  }
  snprintf(path, sizeof(path), "%s/%s", dir, REG_FILE);
  fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if(fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, errlen, "registry: cannot open %s: %s", path, strerror(errno));
    if(fd >= 0)
      close(fd);
    return -1;
  }
  if(st.st_size == 0 && ftruncate(fd, (off_t)sizeof(struct reg_shm)) != 0) {
    snprintf(err, errlen, "registry: cannot size %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if(fstat(fd, &st) != 0 || st.st_size != (off_t)sizeof(struct reg_shm) ||
     !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077)) {
    snprintf(err, errlen, "registry: %s has an unexpected size, type, owner or "
             "mode (remove it if it is from another version)", path);
    close(fd);
    return -1;
  }
  map = mmap(NULL, sizeof(struct reg_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if(map == MAP_FAILED) {
    snprintf(err, errlen, "registry: mmap %s: %s", path, strerror(errno));
    return -1;
  }
  shm = map;
  if(!atomic_compare_exchange_strong(&shm->magic, &expect, REG_MAGIC) &&
     expect != REG_MAGIC) {
    munmap(map, sizeof(struct reg_shm));
    shm = NULL;
    snprintf(err, errlen, "registry: %s is not a registry file", path);
    return -1;
  }
  return 0;
}

uint64_t vmb_registry_generation(void)
{
  return shm ? atomic_load(&shm->generation) : 0;
}

/* Every change bumps by one; with the generation read before a load, a
   change that races with the load makes the next request load again. */
static _Atomic uint64_t local_generation;

/*
** Other hosts (REDIS_URL, issue 16): every change also sets
** <prefix>registry:gen in Redis to a fresh random token, and each process
** reads that key at most every REDIS_GEN_CHECK_US (one GET, by whichever
** request claims the check; the others use the cached value) and folds a
** hash of it into the generation. A change made on another host is
** therefore seen within that interval plus one reload - well under a
** second - instead of REGISTRY_REFRESH_SECONDS. A token, not a counter:
** a counter starts again from 1 when Redis restarts empty and can come
** back to the very value a process read last, which would hide a change
** (a revoked key) from it; a random 128-bit token does not repeat. A
** missing key reads as 0. When Redis cannot be asked the cached value
** stays and REGISTRY_REFRESH_SECONDS bounds staleness as without Redis
** (the client logs the outage).
**
** A change this process could not announce (Redis away) is remembered in
** announce_pending and announced by the first generation check that
** finds Redis answering again (one SET), so the other hosts learn of it
** within the check interval of Redis' return instead of at their next
** periodic reload. The flag is per process: the process that made the
** change announces it, on its next request after Redis is back (a
** process that ends first, or serves nothing more, leaves the change to
** REGISTRY_REFRESH_SECONDS). Chosen over "every process that saw Redis
** come back reloads": that costs a Vault reload in every process of
** every host after every blip, and still misses processes that made no
** Redis call during the outage and so never saw it.
*/
#define REDIS_GEN_CHECK_US 250000u
static _Atomic uint64_t redis_gen, redis_gen_checked_us;
static atomic_bool announce_pending;

static void redis_gen_key(char *key, size_t len)
{
  snprintf(key, len, "%sregistry:gen", vmb_redis_prefix());
}

/* SET registry:gen to a fresh random token. 0 when Redis took it. */
static int redis_announce(void)
{
  char key[96], token[33];
  const char *argv[3] = {"SET", key, token};
  size_t lens[3];
  struct redisReply *r = NULL;
  int rc;
  redis_gen_key(key, sizeof(key));
  lens[0] = 3;
  lens[1] = strlen(key);
  lens[2] = 32;
  if(!vmb_random_hex(token, 16))
    r = vmb_redis_command(3, argv, lens, NULL);
  rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
  vmb_redis_free(r);
  return rc;
}

static uint64_t redis_generation(void)
{
  uint64_t now, last;
  if(!vmb_redis_enabled())
    return 0;
  now = vmb_monotonic_us();
  last = atomic_load(&redis_gen_checked_us);
  if(now - last >= REDIS_GEN_CHECK_US &&
     atomic_compare_exchange_strong(&redis_gen_checked_us, &last, now)) {
    char key[96];
    const char *argv[2] = {"GET", key};
    size_t lens[2];
    struct redisReply *r;
    if(atomic_exchange(&announce_pending, false)) {
      if(redis_announce())
        atomic_store(&announce_pending, true);      /* still away: next check */
      else
        vmb_log_server(VMB_LOG_INFO, "registry", "registry change made while "
                       "Redis was unavailable now announced in Redis");
    }
    redis_gen_key(key, sizeof(key));
    lens[0] = 3;
    lens[1] = strlen(key);
    r = vmb_redis_command(2, argv, lens, NULL);
    if(r && r->type == REDIS_REPLY_STRING) {
      /* FNV-1a over the token; 0 is kept for "no key" */
      uint64_t v = 0xcbf29ce484222325ULL;
      size_t i;
      for(i = 0; i < r->len; i++) {
        v ^= (unsigned char)r->str[i];
        v *= 0x100000001b3ULL;
      }
      atomic_store(&redis_gen, v ? v : 1);
    }
    else if(r && r->type == REDIS_REPLY_NIL)
      atomic_store(&redis_gen, 0);
    vmb_redis_free(r);
  }
  return atomic_load(&redis_gen);
}

void vmb_registry_changed(void)
{
  if(shm)
    atomic_fetch_add(&shm->generation, 1);
  atomic_fetch_add(&local_generation, 1);
  if(vmb_redis_enabled() && redis_announce()) {
    atomic_store(&announce_pending, true);
    vmb_log_server(VMB_LOG_WARN, "registry", "registry change not announced "
                   "in Redis; announced when Redis answers again (other hosts see "
                   "it then, or within REGISTRY_REFRESH_SECONDS)");
  }
}

/* The host's and the process' counters only grow, so their sum changes
   whenever either does; the Redis part is the hash of a token that
   changes with every change on any host, so XOR-ing it in keeps every
   change visible (short of a 2^-64 coincidence). */
static uint64_t current_generation(void)
{
  return (vmb_registry_generation() + (atomic_load(&local_generation) << 32)) ^
         redis_generation();
}

/* ---- the snapshot ---------------------------------------------------- */

struct snap_entry {
  char subject[VMB_SUBJECT_MAX + 1];
  bool enabled;
  long long expires_at;               /* epoch seconds, 0 = never */
  unsigned scopes;
  char *names[VMB_GRANT__N];          /* malloc'ed '\n' lists */
  enum vmb_wrap_policy wrap;          /* record field "wrap" */
  size_t n_keys;
  unsigned char (*digests)[32];       /* malloc'ed */
};

struct snapshot {
  uint64_t generation;
  uint64_t loaded_us;
  size_t n;
  struct snap_entry *e;
};

static pthread_rwlock_t snap_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *snap;
static uint64_t last_fail_us;
static uint64_t refresh_us;
static struct vmb_grant_set default_grants;
/* Why the last load failed (for the answer to a caller whose grants are
   therefore unknown). */
static _Atomic int last_load_err;
static _Atomic long last_load_status;
static char *default_names[VMB_GRANT__N];

static void snapshot_free(struct snapshot *s)
{
  size_t i;
  int k;
  if(!s)
    return;
  for(i = 0; i < s->n; i++) {
    for(k = 0; k < VMB_GRANT__N; k++)
      free(s->e[i].names[k]);
    if(s->e[i].digests)
      OPENSSL_cleanse(s->e[i].digests, s->e[i].n_keys * 32);
    free(s->e[i].digests);
  }
  free(s->e);
  free(s);
}

static int hex_digest(const char *hex, unsigned char out[32])
{
  size_t i;
  if(!hex || strlen(hex) != 64)
    return -1;
  for(i = 0; i < 64; i++) {
    char c = hex[i];
    unsigned v;
    if(c >= '0' && c <= '9') v = (unsigned)(c - '0');
    else if(c >= 'a' && c <= 'f') v = (unsigned)(c - 'a' + 10);
    else return -1;
    if(i % 2 == 0)
      out[i / 2] = (unsigned char)(v << 4);
    else
      out[i / 2] = (unsigned char)(out[i / 2] | v);
  }
  return 0;
}

/* Fill an entry from a stored record. A record that does not parse is
   kept as a disabled entry: a damaged record must not fall back to the
   more generous configuration. */
static void entry_from_record(struct snap_entry *e, const char *subject,
                              json_object *rec, struct vmb_arena *a)
{
  json_object *v, *keys;
  const struct vmb_grant_set *g;
  const char *why = NULL;
  int k;
  size_t i, n;
  snprintf(e->subject, sizeof(e->subject), "%s", subject);
  e->enabled = false;
  if(!rec || !json_object_is_type(rec, json_type_object))
    return;
  g = vmb_grants_from_json(a, json_object_object_get_ex(rec, "grants", &v) ? v : NULL, &why);
  if(!g)
    return;
  for(k = 0; k < VMB_GRANT__N; k++)
    if(!(e->names[k] = strdup(g->names[k])))
      return;
  e->scopes = json_object_object_get_ex(rec, "scopes", &v) &&
              json_object_is_type(v, json_type_array) ? vmb_scopes_parse_json(v) : 0;
  if(json_object_object_get_ex(rec, "expires_at", &v) &&
     json_object_is_type(v, json_type_string) && json_object_get_string_len(v)) {
    e->expires_at = vmb_rfc3339_parse(json_object_get_string(v));
    if(e->expires_at < 0)
      return;
  }
  if(json_object_object_get_ex(rec, "api_keys", &keys) &&
     json_object_is_type(keys, json_type_array) &&
     (n = json_object_array_length(keys)) > 0) {
    e->digests = calloc(n, 32);
    if(!e->digests)
      return;
    for(i = 0; i < n; i++) {
      json_object *h;
      json_object *ko = json_object_array_get_idx(keys, i);
      if(json_object_object_get_ex(ko, "sha256", &h) &&
         hex_digest(json_object_get_string(h), e->digests[e->n_keys]) == 0)
        e->n_keys++;
    }
  }
  e->wrap = VMB_WRAP_OPTIONAL;
  if(json_object_object_get_ex(rec, "wrap", &v) && json_object_is_type(v, json_type_string)) {
    if(!strcmp(json_object_get_string(v), "never"))
      e->wrap = VMB_WRAP_NEVER;
    else if(!strcmp(json_object_get_string(v), "always"))
      e->wrap = VMB_WRAP_ALWAYS;
  }
  e->enabled = json_object_object_get_ex(rec, "enabled", &v) &&
               json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static int entry_cmp(const void *a, const void *b)
{
  return strcmp(((const struct snap_entry *)a)->subject,
                ((const struct snap_entry *)b)->subject);
}

/* Load every record with the bridge's token. NULL when Vault cannot be
   read (the caller keeps the old snapshot). */
static struct snapshot *snapshot_load(struct vmb_request *req, uint64_t gen)
{
  struct vmb_vault_reply r;
  struct snapshot *s;
  json_object *data, *keys;
  enum vmb_err e;
  size_t i, n = 0;
  const char *path = vmb_registry_path(req->arena, "metadata", "subjects");
  if(!path)
    return NULL;
  e = vmb_vault_call(req, "registry.list", "LIST", path, NULL, NULL, &r);
  if(e != VMB_ERR_OK && e != VMB_ERR_NOT_FOUND) {
    atomic_store(&last_load_err, (int)e);
    atomic_store(&last_load_status, r.status);
    return NULL;
  }
  s = calloc(1, sizeof(*s));
  if(!s)
    return NULL;
  s->generation = gen;
  keys = NULL;
  if(e == VMB_ERR_OK && r.body && json_object_object_get_ex(r.body, "data", &data) &&
     json_object_object_get_ex(data, "keys", &keys) &&
     json_object_is_type(keys, json_type_array))
    n = json_object_array_length(keys);
  if(n) {
    s->e = calloc(n, sizeof(*s->e));
    if(!s->e) {
      free(s);
      return NULL;
    }
  }
  for(i = 0; i < n; i++) {
    const char *name = json_object_get_string(json_object_array_get_idx(keys, i));
    json_object *rec = NULL;
    long ver;
    if(!name || !vmb_subject_valid(name))
      continue;   /* folders ("x/") and foreign names */
    e = vmb_registry_read(req, name, &rec, &ver);
    if(e == VMB_ERR_NOT_FOUND)
      continue;   /* deleted between LIST and GET */
    if(e != VMB_ERR_OK) {
      atomic_store(&last_load_err, (int)e);
      atomic_store(&last_load_status, 0L);
      snapshot_free(s);
      return NULL;
    }
    entry_from_record(&s->e[s->n++], name, rec, req->arena);
    json_object_put(rec);
  }
  if(s->n > 1)
    qsort(s->e, s->n, sizeof(*s->e), entry_cmp);
  s->loaded_us = vmb_monotonic_us();
  return s;
}

/* Make sure the snapshot is current. 0, or -1 when there is none at all.
   The fast path is one atomic load, one monotonic clock read (vDSO) and
   an uncontended read lock: no system call. */
static int ensure_fresh(struct vmb_request *req)
{
  uint64_t gen = current_generation(), now = vmb_monotonic_us();
  struct snapshot *fresh, *old;
  int ok;
  pthread_rwlock_rdlock(&snap_lock);
  ok = snap && snap->generation == gen && now - snap->loaded_us < refresh_us;
  pthread_rwlock_unlock(&snap_lock);
  if(ok)
    return 0;
  pthread_mutex_lock(&load_lock);
  gen = current_generation();
  now = vmb_monotonic_us();
  pthread_rwlock_rdlock(&snap_lock);
  ok = snap && snap->generation == gen && now - snap->loaded_us < refresh_us;
  pthread_rwlock_unlock(&snap_lock);
  if(ok) {
    pthread_mutex_unlock(&load_lock);
    return 0;
  }
  if(last_fail_us && now - last_fail_us < RETRY_US) {
    ok = snap != NULL;
    pthread_mutex_unlock(&load_lock);
    return ok ? 0 : -1;   /* Vault failed a moment ago: do not hammer it */
  }
  fresh = snapshot_load(req, gen);
  if(!fresh) {
    last_fail_us = now ? now : 1;
    ok = snap != NULL;
    pthread_mutex_unlock(&load_lock);
    vmb_log_server(VMB_LOG_WARN, "registry", ok
                   ? "registry reload failed; serving the previous snapshot"
                   : "registry cannot be read from Vault; subjects get no grants");
    return ok ? 0 : -1;
  }
  last_fail_us = 0;
  pthread_rwlock_wrlock(&snap_lock);
  old = snap;
  snap = fresh;
  pthread_rwlock_unlock(&snap_lock);
  pthread_mutex_unlock(&load_lock);
  snapshot_free(old);
  return 0;
}

static const struct snap_entry *find_entry(const char *subject)
{
  struct snap_entry key;
  if(!snap || !snap->n)
    return NULL;
  snprintf(key.subject, sizeof(key.subject), "%s", subject);
  return bsearch(&key, snap->e, snap->n, sizeof(*snap->e), entry_cmp);
}

enum vmb_err vmb_registry_resolve(struct vmb_request *req, const char **detail)
{
  struct vmb_identity *id = &req->identity;
  const struct snap_entry *e;
  struct vmb_grant_set *g;
  enum vmb_err err = VMB_ERR_OK;
  int k;
  if(!id->authenticated || id->grants)
    return VMB_ERR_OK;
  if(!conf.enabled) {
    id->grants = &default_grants;   /* static, lives for the process */
    return VMB_ERR_OK;
  }
  g = vmb_arena_alloc(req->arena, sizeof(*g));
  if(!g)
    return VMB_ERR_NOMEM;
  if(ensure_fresh(req)) {
    /* Never loaded (Vault unreachable since start-up): fail safe. The
       caller keeps its scopes but its grants are unknown, so it reaches
       no Transit/DB/SSH/KMS resource (503 from the grant check), and its
       KV calls fail on Vault anyway. */
    for(k = 0; k < VMB_GRANT__N; k++)
      g->names[k] = "";
    g->unknown = true;
    id->grants = g;
    (void)detail;
    return VMB_ERR_OK;
  }
  pthread_rwlock_rdlock(&snap_lock);
  e = find_entry(id->subject);
  if(!e) {
    *g = default_grants;
  }
  else if(!e->enabled) {
    err = VMB_ERR_SUBJECT_DISABLED;
    *detail = "this subject is disabled";
  }
  else if(e->expires_at && (long long)time(NULL) >= e->expires_at) {
    err = VMB_ERR_SUBJECT_DISABLED;
    *detail = "this subject has expired";
  }
  else {
    g->from_registry = true;
    g->wrap = e->wrap;
    for(k = 0; k < VMB_GRANT__N; k++)
      if(!(g->names[k] = vmb_arena_strdup(req->arena, e->names[k])))
        err = VMB_ERR_NOMEM;
    /* A token never carries more than its subject's record allows. */
    id->scopes = !strcmp(id->mode ? id->mode : "", "jwt") ? (id->scopes & e->scopes)
                                                        : e->scopes;
  }
  pthread_rwlock_unlock(&snap_lock);
  if(err == VMB_ERR_OK)
    id->grants = g;
  return err;
}

enum vmb_err vmb_registry_unavailable(struct vmb_arena *a, const char **detail)
{
  enum vmb_err e = (enum vmb_err)atomic_load(&last_load_err);
  long st = atomic_load(&last_load_status);
  if(e == VMB_ERR_VAULT_DENIED) {
    *detail = "Vault denied the bridge reading the subject registry (permission denied), "
              "so the caller's grants are unknown";
    return e;
  }
  if(e == VMB_ERR_VAULT_ERROR && st) {
    *detail = vmb_arena_printf(a, "Vault answered with HTTP %ld when the bridge read the "
                               "subject registry, so the caller's grants are unknown", st);
    return e;
  }
  *detail = st == 503 ? "Vault is sealed or in standby: the subject registry cannot be read"
                      : "Vault is unreachable: the subject registry cannot be read, so the "
                        "caller's grants are unknown";
  return VMB_ERR_VAULT_UNAVAILABLE;
}

int vmb_registry_apikey(struct vmb_request *req, const char *key,
                        struct vmb_identity *id)
{
  unsigned char digest[32];
  unsigned int dlen = 32;
  const struct snap_entry *hit = NULL;
  size_t i, j, klen = strlen(key);
  int found = 0;
  if(!conf.enabled)
    return 0;
  if(ensure_fresh(req))
    return -1;
  if(EVP_Digest(key, klen, digest, &dlen, EVP_sha256(), NULL) != 1)
    return -1;
  pthread_rwlock_rdlock(&snap_lock);
  for(i = 0; snap && i < snap->n; i++)
    for(j = 0; j < snap->e[i].n_keys; j++) {
      /* no early exit: the time does not depend on which key matched */
      bool eq = CRYPTO_memcmp(digest, snap->e[i].digests[j], 32) == 0;
      hit = eq ? &snap->e[i] : hit;
    }
  if(hit) {
    id->authenticated = true;
    id->mode = "api_key";
    id->scopes = hit->scopes;
    snprintf(id->subject, sizeof(id->subject), "%s", hit->subject);
    found = 1;
  }
  pthread_rwlock_unlock(&snap_lock);
  OPENSSL_cleanse(digest, sizeof(digest));
  return found;
}

int vmb_registry_apikey_digest(const char *key, unsigned char digest[32])
{
  unsigned int dlen = 32;
  return EVP_Digest(key, strlen(key), digest, &dlen, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int vmb_registry_apikey_live(struct vmb_request *req, const unsigned char digest[32])
{
  size_t i, j;
  int found = 0;
  if(!conf.enabled)
    return 0;
  if(ensure_fresh(req))
    return -1;
  pthread_rwlock_rdlock(&snap_lock);
  for(i = 0; snap && i < snap->n; i++)
    for(j = 0; j < snap->e[i].n_keys; j++)
      found |= CRYPTO_memcmp(digest, snap->e[i].digests[j], 32) == 0;
  pthread_rwlock_unlock(&snap_lock);
  return found;
}

/* ---- storage --------------------------------------------------------- */

const char *vmb_registry_path(struct vmb_arena *a, const char *kind, const char *rel)
{
  return vmb_arena_printf(a, "%s/%s/%s/%s", conf.kv_mount, kind, conf.admin_prefix, rel);
}

enum vmb_err vmb_registry_read(struct vmb_request *req, const char *subject,
                               json_object **record, long *version)
{
  struct vmb_vault_reply r;
  json_object *data, *doc, *meta, *ver;
  enum vmb_err e;
  const char *path = vmb_registry_path(req->arena, "data",
                                       vmb_arena_printf(req->arena, "subjects/%s", subject));
  *record = NULL;
  *version = 0;
  if(!path)
    return VMB_ERR_NOMEM;
  e = vmb_vault_call(req, "registry.read", "GET", path, NULL, NULL, &r);
  if(e != VMB_ERR_OK)
    return e;
  if(!r.body || !json_object_object_get_ex(r.body, "data", &data) ||
     !json_object_object_get_ex(data, "data", &doc) ||
     !json_object_is_type(doc, json_type_object))
    return VMB_ERR_NOT_FOUND;   /* a deleted version answers data: null */
  if(json_object_object_get_ex(data, "metadata", &meta) &&
     json_object_object_get_ex(meta, "version", &ver))
    *version = (long)json_object_get_int64(ver);
  *record = json_object_get(doc);
  return VMB_ERR_OK;
}

enum vmb_err vmb_registry_list(struct vmb_request *req, json_object **subjects)
{
  struct vmb_vault_reply r;
  json_object *data, *keys, *out;
  enum vmb_err e;
  size_t i, n;
  const char *path = vmb_registry_path(req->arena, "metadata", "subjects");
  *subjects = NULL;
  if(!path)
    return VMB_ERR_NOMEM;
  out = json_object_new_array();
  if(!out)
    return VMB_ERR_NOMEM;
  e = vmb_vault_call(req, "registry.list", "LIST", path, NULL, NULL, &r);
  if(e == VMB_ERR_NOT_FOUND) {
    *subjects = out;
    return VMB_ERR_OK;
  }
  if(e != VMB_ERR_OK) {
    json_object_put(out);
    return e;
  }
  if(r.body && json_object_object_get_ex(r.body, "data", &data) &&
     json_object_object_get_ex(data, "keys", &keys) &&
     json_object_is_type(keys, json_type_array)) {
    n = json_object_array_length(keys);
    for(i = 0; i < n; i++) {
      const char *s = json_object_get_string(json_object_array_get_idx(keys, i));
      if(s && vmb_subject_valid(s))
        json_object_array_add(out, json_object_new_string(s));
    }
  }
  *subjects = out;
  return VMB_ERR_OK;
}

enum vmb_err vmb_registry_write(struct vmb_request *req, const char *subject,
                                json_object *record, long cas, long *version)
{
  struct vmb_vault_reply r;
  json_object *body, *opts, *data, *ver;
  enum vmb_err e;
  const char *path = vmb_registry_path(req->arena, "data",
                                       vmb_arena_printf(req->arena, "subjects/%s", subject));
  if(!path)
    return VMB_ERR_NOMEM;
  body = json_object_new_object();
  opts = json_object_new_object();
  if(!body || !opts) {
    json_object_put(body);
    json_object_put(opts);
    return VMB_ERR_NOMEM;
  }
  json_object_object_add(opts, "cas", json_object_new_int64(cas));
  json_object_object_add(body, "options", opts);
  json_object_object_add(body, "data", json_object_get(record));
  e = vmb_vault_call(req, "registry.write", "POST", path, body, NULL, &r);
  json_object_put(body);
  if(e == VMB_ERR_BAD_REQUEST && r.message && strstr(r.message, "check-and-set"))
    return VMB_ERR_CONFLICT;
  if(e != VMB_ERR_OK)
    return e;
  if(version && r.body && json_object_object_get_ex(r.body, "data", &data) &&
     json_object_object_get_ex(data, "version", &ver))
    *version = (long)json_object_get_int64(ver);
  return VMB_ERR_OK;
}

enum vmb_err vmb_registry_delete(struct vmb_request *req, const char *subject)
{
  struct vmb_vault_reply r;
  const char *path = vmb_registry_path(req->arena, "metadata",
                                       vmb_arena_printf(req->arena, "subjects/%s", subject));
  if(!path)
    return VMB_ERR_NOMEM;
  return vmb_vault_call(req, "registry.delete", "DELETE", path, NULL, NULL, &r);
}

/* ---- start-up --------------------------------------------------------- */

int vmb_registry_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  json_object *doc;
  const struct vmb_grant_set *g;
  const char *why = NULL;
  struct vmb_arena *a;
  int k, rc = -1;
  vmb_registry_cleanup();
  conf.enabled = cfg->registry_enabled;
  conf.kv_mount = cfg->kv_mount;
  conf.admin_prefix = cfg->admin_prefix;
  refresh_us = (uint64_t)cfg->registry_refresh_seconds * 1000000u;
  doc = vmb_json_parse(cfg->default_grants_json, strlen(cfg->default_grants_json), 8);
  a = vmb_arena_create();
  if(!a) {
    json_object_put(doc);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  g = doc ? vmb_grants_from_json(a, doc, &why) : NULL;
  if(!g) {
    snprintf(err, errlen, "invalid configuration: DEFAULT_GRANTS_JSON: %s",
             why ? why : "expected a JSON object");
    goto out;
  }
  for(k = 0; k < VMB_GRANT__N; k++) {
    if(!(default_names[k] = strdup(g->names[k]))) {
      snprintf(err, errlen, "out of memory");
      goto out;
    }
    default_grants.names[k] = default_names[k];
  }
  default_grants.from_registry = false;
  if(shm_open_file(cfg->run_dir, err, errlen))
    goto out;
  rc = 0;
out:
  json_object_put(doc);
  vmb_arena_destroy(a);
  if(rc)
    vmb_registry_cleanup();
  return rc;
}

void vmb_registry_cleanup(void)
{
  int k;
  pthread_rwlock_wrlock(&snap_lock);
  snapshot_free(snap);
  snap = NULL;
  pthread_rwlock_unlock(&snap_lock);
  last_fail_us = 0;
  for(k = 0; k < VMB_GRANT__N; k++) {
    free(default_names[k]);
    default_names[k] = NULL;
    default_grants.names[k] = "";
  }
  if(shm)
    munmap(shm, sizeof(struct reg_shm));
  shm = NULL;
}
