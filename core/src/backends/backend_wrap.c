/*
** backend_wrap.c - response wrapping (issue 19, docs/wrapping.md).
**
** An operation that returns secret material takes an optional wrap_ttl.
** With it the handler's answer is handed to Vault's sys/wrapping/wrap
** (X-Vault-Wrap-TTL, under the bridge's Vault token) and the caller gets
** only {wrap_info}: a single-use token that a consumer exchanges once
** through wrap.unwrap (or Vault itself) for the very answer the operation
** would have given. One code path wraps every operation alike - Vault,
** database, SSH and KMS answers - and the bridge still sees each answer
** it records (a database lease id for its lease bookkeeping) exactly as
** it does unwrapped; the plaintext lives no longer than it does today.
**
** Who created a wrap: RUN_DIR/wraps.v1, a table mapped MAP_SHARED by
** every process of the host's pool (same file checks as the other
** RUN_DIR files). A slot is {key = 64 bits of SHA-256(token), owner = 64
** bits of SHA-256(subject), expires = unix seconds}; claimed with one CAS
** on key (free or expired slots), so a worker killed at any instruction
** leaves nothing locked. The table is bounded (WRAP_SLOTS) and expiring
** (a slot is free again when its wrap's TTL has passed). A wrap the table
** does not know (another host, a restart with a new RUN_DIR, a token
** made outside the bridge) is refused to everyone unless
** WRAP_UNWRAP_ANY_SUBJECT=true: ownership is checked, never assumed.
** The tokens themselves never reach a log; only the wrap's TTL does.
*/
#include "backend.h"
#include "backends.h"

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

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "grantset.h"
#include "rundir.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/log.h"

#define WRAP_MAGIC 0x766d627772763031ULL   /* "vmbwrv01" */
#define WRAP_SLOTS 16384u                   /* power of two */
#define WRAP_PROBES 64u
#define WRAP_FILE "wraps.v1"
#define WRAP_TOKEN_MAX 256

struct wrap_slot {
  _Atomic uint64_t key;
  _Atomic uint64_t owner;
  _Atomic uint64_t expires;
  uint64_t pad;
};

struct wrap_table {
  _Atomic uint64_t magic;
  uint64_t nslots;
  uint64_t reserved[6];
  struct wrap_slot slots[WRAP_SLOTS];
};

static struct {
  long ttl_max;                     /* WRAP_TTL_MAX, seconds */
  bool unwrap_any;                  /* WRAP_UNWRAP_ANY_SUBJECT */
} conf;
static struct wrap_table *tbl;

static void wrap_cleanup(void)
{
  if(tbl)
    munmap(tbl, sizeof(struct wrap_table));
  tbl = NULL;
}

int vmb_wrap_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  char path[4200];
  struct stat st;
  void *map;
  int fd, tries;
  uint64_t expect = 0;

  wrap_cleanup();
  conf.ttl_max = cfg->wrap_ttl_max;
  conf.unwrap_any = cfg->wrap_unwrap_any_subject;
  if(vmb_rundir_check(cfg->run_dir, err, errlen))
    return -1;
  if(snprintf(path, sizeof(path), "%s/%s", cfg->run_dir, WRAP_FILE) >= (int)sizeof(path)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: too long");
    return -1;
  }
  for(tries = 0;; tries++) {
    struct stat pst;
    if(tries == 20) {
      snprintf(err, errlen, "wrapping: %s keeps changing; giving up", path);
      return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if(fd < 0) {
      snprintf(err, errlen, "wrapping: cannot open %s: %s (symlinks are refused)",
               path, strerror(errno));
      return -1;
    }
    if(vmb_rundir_file_ok(fd, path, err, errlen)) {
      close(fd);
      return -1;
    }
    if(flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
      snprintf(err, errlen, "wrapping: cannot lock %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    if(stat(path, &pst) != 0 || pst.st_ino != st.st_ino || pst.st_dev != st.st_dev) {
      close(fd);
      continue;
    }
    if(st.st_size == 0 && ftruncate(fd, (off_t)sizeof(struct wrap_table)) != 0) {
      snprintf(err, errlen, "wrapping: cannot size %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    if(st.st_size != 0 && st.st_size != (off_t)sizeof(struct wrap_table)) {
      unlink(path);                 /* another layout: replace, never resize */
      close(fd);
      continue;
    }
    break;
  }
  map = mmap(NULL, sizeof(struct wrap_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  flock(fd, LOCK_UN);
  close(fd);
  if(map == MAP_FAILED) {
    snprintf(err, errlen, "wrapping: mmap %s: %s", path, strerror(errno));
    return -1;
  }
  tbl = map;
  if(!atomic_compare_exchange_strong(&tbl->magic, &expect, WRAP_MAGIC) &&
     expect != WRAP_MAGIC) {
    snprintf(err, errlen, "wrapping: %s is not a wrap table", path);
    wrap_cleanup();
    return -1;
  }
  tbl->nslots = WRAP_SLOTS;
  return 0;
}

/* 64 bits of SHA-256(s), never 0 (0 marks a free slot). */
static uint64_t hash64(const char *s)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  uint64_t h = 0;
  int i;
  SHA256((const unsigned char *)s, strlen(s), md);
  for(i = 0; i < 8; i++)
    h = (h << 8) | md[i];
  OPENSSL_cleanse(md, sizeof(md));
  return h ? h : 1;
}

static uint64_t now_s(void)
{
  return (uint64_t)time(NULL);
}

/* Remember that subject created the wrap token until expires. -1 when
   no slot is free (WRAP_PROBES live wraps in a row). */
static int record_owner(const char *token, const char *subject, uint64_t expires)
{
  uint64_t key = hash64(token), owner = hash64(subject), now = now_s();
  unsigned i, at;
  if(!tbl)
    return -1;
  for(i = 0; i < WRAP_PROBES; i++) {
    struct wrap_slot *sl;
    uint64_t cur;
    at = (unsigned)((key + i) & (WRAP_SLOTS - 1));
    sl = &tbl->slots[at];
    cur = atomic_load(&sl->key);
    if(cur != 0 && atomic_load(&sl->expires) > now)
      continue;
    /* The owner is cleared before the key is claimed, so a reader that
       sees the new key with an old owner finds 0 and refuses. */
    if(!atomic_compare_exchange_strong(&sl->key, &cur, 0))
      continue;
    atomic_store(&sl->owner, 0);
    atomic_store(&sl->expires, expires);
    cur = 0;
    if(!atomic_compare_exchange_strong(&sl->key, &cur, key))
      continue;
    atomic_store(&sl->owner, owner);
    return 0;
  }
  return -1;
}

/* 1 = subject created token, 0 = another subject did, -1 = unknown. */
static int check_owner(const char *token, const char *subject)
{
  uint64_t key = hash64(token), owner = hash64(subject), now = now_s();
  unsigned i;
  if(!tbl)
    return -1;
  for(i = 0; i < WRAP_PROBES; i++) {
    struct wrap_slot *sl = &tbl->slots[(key + i) & (WRAP_SLOTS - 1)];
    if(atomic_load(&sl->key) != key || atomic_load(&sl->expires) <= now)
      continue;
    return atomic_load(&sl->owner) == owner ? 1 : 0;
  }
  return -1;
}

/* Free the slot of a used wrap. */
static void forget(const char *token)
{
  uint64_t key = hash64(token);
  unsigned i;
  if(!tbl)
    return;
  for(i = 0; i < WRAP_PROBES; i++) {
    struct wrap_slot *sl = &tbl->slots[(key + i) & (WRAP_SLOTS - 1)];
    uint64_t k = key;
    if(atomic_compare_exchange_strong(&sl->key, &k, 0))
      return;
  }
}

/* Parse a wrap TTL: seconds ("90"), or a Go-style duration made of
   number+unit parts with units s, m, h ("90s", "5m", "1h30m"). Strict:
   no sign, no spaces, no fractions, each part at most 9 digits. -1 on
   junk, else the seconds. */
static long parse_ttl(const char *s)
{
  long total = 0;
  size_t digits;
  bool any_unit = false;
  if(!s || !*s)
    return -1;
  while(*s) {
    long n = 0;
    digits = 0;
    while(*s >= '0' && *s <= '9') {
      if(++digits > 9)
        return -1;
      n = n * 10 + (*s++ - '0');
    }
    if(digits == 0)
      return -1;
    switch(*s) {
    case '\0':
      if(any_unit)
        return -1;                /* "5m30": a unit is missing */
      return n;
    case 's': break;
    case 'm': n *= 60; break;
    case 'h': n *= 3600; break;
    default: return -1;
    }
    s++;
    any_unit = true;
    total += n;
    if(total > 100000000L)
      return -1;
  }
  return total;
}

/* The validated wrap_ttl of the call in seconds; 0 when absent, -1 with
   c->detail when it is not acceptable. */
static long call_ttl(struct vmb_call *c)
{
  const char *v = vmb_arg_str(c, "wrap_ttl");
  long t;
  if(!v)
    return 0;
  t = parse_ttl(v);
  if(t < 0) {
    c->detail = "wrap_ttl: expected seconds or a duration such as 60s, 5m or 1h";
    return -1;
  }
  if(t < 1 || t > conf.ttl_max) {
    c->detail = vmb_arena_printf(c->req->arena, "wrap_ttl: must be between 1s and %lds "
                                 "(WRAP_TTL_MAX)", conf.ttl_max);
    return -1;
  }
  return t;
}

enum vmb_err vmb_wrap_before(struct vmb_call *c)
{
  long t = call_ttl(c);
  const struct vmb_grant_set *g = c->req->identity.grants;
  enum vmb_wrap_policy pol = g ? g->wrap : VMB_WRAP_OPTIONAL;
  if(t < 0)
    return VMB_ERR_BAD_REQUEST;
  /* The subject's registry record decides, before any work is done. */
  if(t > 0 && pol == VMB_WRAP_NEVER) {
    c->detail = "response wrapping is not allowed for this subject (registry: wrap never); "
                "call without wrap_ttl";
    return VMB_ERR_WRAP_POLICY;
  }
  if(t == 0 && pol == VMB_WRAP_ALWAYS) {
    c->detail = "this subject may receive secrets only wrapped (registry: wrap always); "
                "call again with wrap_ttl, e.g. \"60s\"";
    return VMB_ERR_WRAP_POLICY;
  }
  if(t > 0)
    json_object_object_add(c->log_fields, "wrap_ttl", json_object_new_int64(t));
  return VMB_ERR_OK;
}

enum vmb_err vmb_wrap_after(struct vmb_call *c)
{
  long t = call_ttl(c);
  struct vmb_vault_reply r;
  json_object *wi = NULL, *tok = NULL, *out, *ttl = NULL;
  enum vmb_err e;
  const char *token;

  if(t <= 0)
    return t < 0 ? VMB_ERR_BAD_REQUEST : VMB_ERR_OK;
  if(!c->result || !json_object_is_type(c->result, json_type_object))
    return VMB_ERR_INTERNAL;
  /* Under the bridge's own token, whatever CHILD_TOKEN_ENABLED says: the
     caller was already allowed the answer, and child tokens carry no
     default policy (so no sys/wrapping/wrap); the bridge's policy grants
     sys/wrapping/{wrap,unwrap,lookup} (scripts/provision-vault.sh). */
  e = vmb_vault_call_wrap(c->req, "wrap.wrap", "POST", "sys/wrapping/wrap", c->result, NULL,
                          t, &r);
  /* The plaintext answer is no longer needed whatever happened. */
  json_object_put(c->result);
  c->result = NULL;
  if(e != VMB_ERR_OK) {
    if(!c->detail)
      c->detail = "Vault could not wrap the answer; nothing was returned";
    return vmb_backend_fail(c, e == VMB_ERR_BAD_REQUEST ? VMB_ERR_VAULT_ERROR : e, &r);
  }
  if(!r.body || !json_object_object_get_ex(r.body, "wrap_info", &wi) ||
     !json_object_is_type(wi, json_type_object) ||
     !json_object_object_get_ex(wi, "token", &tok) ||
     !json_object_is_type(tok, json_type_string)) {
    c->detail = "Vault did not return wrap_info";
    return VMB_ERR_VAULT_ERROR;
  }
  token = json_object_get_string(tok);
  json_object_object_get_ex(wi, "ttl", &ttl);
  if(record_owner(token, c->req->identity.subject,
                  now_s() + (uint64_t)(ttl ? json_object_get_int64(ttl) : t) + 1) != 0) {
    /* The wrap exists but nobody could prove owning it: do not hand out
       a token that only the any-subject setting could redeem. */
    vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "wrap", "wrap owner table full", NULL);
    c->detail = "too many live wraps on this host; try again when some expire";
    return VMB_ERR_RATE_LIMITED;
  }
  out = json_object_new_object();
  {
    json_object *info = json_object_new_object();
    static const char *const keep[] = {"token", "accessor", "ttl", "creation_time",
                                       "creation_path", NULL};
    size_t i;
    for(i = 0; keep[i]; i++)
      vmb_json_copy(info, wi, keep[i]);
    json_object_object_add(out, "wrap_info", info);
  }
  c->result = out;
  json_object_object_add(c->log_fields, "wrapped", json_object_new_boolean(1));
  return VMB_ERR_OK;
}

/* The token argument: Vault tokens are short and printable; anything
   else is refused before it goes anywhere. */
static const char *token_arg(struct vmb_call *c)
{
  const char *t = vmb_arg_str(c, "token");
  const char *p;
  if(!t)
    return NULL;
  for(p = t; *p; p++)
    if(!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
         (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
      return NULL;
  return t;
}

/* The ownership rule of docs/wrapping.md; VMB_ERR_OK when the caller may
   use token. An unknown or foreign wrap answers the same error as an
   invalid token, so another subject learns nothing about it. */
static enum vmb_err owner_gate(struct vmb_call *c, const char *token)
{
  int o;
  if(conf.unwrap_any)
    return VMB_ERR_OK;
  o = check_owner(token, c->req->identity.subject);
  if(o == 1)
    return VMB_ERR_OK;
  json_object_object_add(c->log_fields, "wrap_owner",
                         json_object_new_string(o == 0 ? "other" : "unknown"));
  c->detail = "the wrapping token is invalid, expired, already used, or was not "
              "created by this subject";
  return VMB_ERR_WRAP_INVALID;
}

/* Vault's answer to a bad wrapping token (400 "wrapping token is not
   valid or does not exist", 403 "error validating wrapping token") ->
   wrap_invalid; anything else as usual. */
static enum vmb_err vault_wrap_fail(struct vmb_call *c, enum vmb_err e,
                                    const struct vmb_vault_reply *r)
{
  if(e == VMB_ERR_BAD_REQUEST || e == VMB_ERR_VAULT_DENIED) {
    c->detail = "the wrapping token is invalid, expired, already used, or was not "
                "created by this subject";
    return VMB_ERR_WRAP_INVALID;
  }
  return vmb_backend_fail(c, e, r);
}

enum vmb_err vmb_h_wrap_lookup(struct vmb_call *c)
{
  const char *token = token_arg(c);
  struct vmb_vault_reply r;
  json_object *body, *data;
  enum vmb_err e;
  if(!token) {
    c->detail = "token: not a Vault token";
    return VMB_ERR_BAD_REQUEST;
  }
  if((e = owner_gate(c, token)) != VMB_ERR_OK)
    return e;
  body = json_object_new_object();
  json_object_object_add(body, "token", json_object_new_string(token));
  /* Lookup is token-free in Vault and does not spend the wrap. */
  e = vmb_vault_call(c->req, "wrap.lookup", "POST", "sys/wrapping/lookup", body, NULL, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK)
    return vault_wrap_fail(c, e, &r);
  if(!(data = vmb_reply_data(&r)))
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  c->result = json_object_new_object();
  vmb_json_copy(c->result, data, "creation_time");
  vmb_json_copy(c->result, data, "creation_ttl");
  vmb_json_copy(c->result, data, "creation_path");
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_wrap_unwrap(struct vmb_call *c)
{
  const char *token = token_arg(c);
  struct vmb_vault_reply r;
  json_object *body, *data;
  enum vmb_err e;
  if(!token) {
    c->detail = "token: not a Vault token";
    return VMB_ERR_BAD_REQUEST;
  }
  if((e = owner_gate(c, token)) != VMB_ERR_OK)
    return e;
  body = json_object_new_object();
  json_object_object_add(body, "token", json_object_new_string(token));
  /* Third-party unwrap under the bridge's own token: Vault spends the
     wrapping token's single use whatever the outcome. */
  e = vmb_vault_call(c->req, "wrap.unwrap", "POST", "sys/wrapping/unwrap", body, NULL, &r);
  json_object_put(body);
  e = e == VMB_ERR_OK ? e : vault_wrap_fail(c, e, &r);
  /* Spent (or never valid): its slot is free. When Vault was not reached
     the wrap may still be live and stays its creator's. */
  if(e == VMB_ERR_OK || e == VMB_ERR_WRAP_INVALID)
    forget(token);
  if(e != VMB_ERR_OK)
    return e;
  if(!(data = vmb_reply_data(&r)) || !json_object_is_type(data, json_type_object))
    return vmb_backend_fail(c, VMB_ERR_VAULT_ERROR, &r);
  c->result = json_object_get(data);
  return VMB_ERR_OK;
}
