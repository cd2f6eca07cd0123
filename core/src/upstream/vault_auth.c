/*
** vault_auth.c - the bridge's own Vault token (static or AppRole) and the
** per-subject child tokens (SPEC section 3).
**
** AppRole: log in at start; a background thread renews the token at two
** thirds of its TTL and logs in again when renewal fails. The current
** token lives in vault.c behind a rwlock (vmb_vault_set_token).
**
** The secret id is needed for the process's whole life (a token that
** reached its max TTL or was revoked can only be replaced by a fresh
** login), so it cannot be wiped after the first login. It lives in one
** place only: a page of its own, taken at init, locked in RAM (mlock:
** never written to swap) and left out of core dumps (MADV_DONTDUMP),
** wiped and unmapped at cleanup. The configuration's copy is wiped as
** soon as init has taken it (vmb_config_forget_vault_credentials).
**
** Child tokens: one per subject, created with only the policy
** {CHILD_TOKEN_POLICY_PREFIX}{subject} and CHILD_TOKEN_TTL, cached and
** reused until two thirds of the TTL are spent, so Vault itself enforces
** each agent's policy without a token mint per request. The cache is a
** fixed array under a mutex; a token is copied out, never shared.
**
** Lease tokens: Vault revokes every lease with the token that created it
** (vault/expiration.go RevokeByToken, called from token_store.go
** revokeInternal for each token of an expiring or revoked tree), so a
** database credential made under a 90 s child token dies after 90 s
** whatever its lease says. db.issue_creds therefore runs under a token of
** its own: the same single policy, DB_LEASE_TOKEN_TTL, and by default no
** parent (DB_LEASE_TOKEN_ORPHAN), so neither the child token's expiry nor
** a re-login of the bridge ends the credential before its lease does. One
** token per lease, never cached and never handed out; it holds nothing
** else and ends at its TTL.
*/
#include "vault_auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "policy.h"
#include "util.h"
#include "vault.h"
#include "vmb/arena.h"
#include "vmb/worker.h"
#include "vmb/log.h"
#include "worker.h"

#define CHILD_CACHE_SLOTS 256

struct child_slot {
  char subject[VMB_SUBJECT_MAX + 1];
  char token[256];
  uint64_t renew_after_us;    /* monotonic time after which we mint anew */
  uint64_t last_used_us;
};

/* The settings this module reads, taken at start-up (vmb_vault_auth_init).
   Strings are BORROWED from the configuration, which outlives requests;
   the AppRole credentials among them are never logged. */
static struct {
  const char *role_id;              /* VAULT_ROLE_ID */
  const char *policy_prefix;        /* CHILD_TOKEN_POLICY_PREFIX */
  long child_ttl;                   /* CHILD_TOKEN_TTL, seconds */
  long lease_ttl;                   /* DB_LEASE_TOKEN_TTL, seconds */
  bool lease_orphan;                /* DB_LEASE_TOKEN_ORPHAN */
} conf;
/* VAULT_SECRET_ID, OWNED here (see the header comment): a NUL-terminated
   string at the start of its own locked page. Written by init before the
   renewal thread starts, read by logins (init, then that thread only),
   wiped by cleanup after the thread is joined: no lock needed. */
static char *secret_page;
static size_t secret_page_len;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static struct child_slot child_cache[CHILD_CACHE_SLOTS];

static pthread_t renew_thread;
static int renew_started;
static long first_ttl;               /* the TTL of init's login, for the thread */
static pthread_mutex_t renew_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t renew_cond = PTHREAD_COND_INITIALIZER;
static int renew_stop;

/* A throwaway request context for calls made outside any client request
   (start-up, the renewal thread). */
struct side_ctx {
  struct vmb_worker *w;
  struct vmb_request req;
};

static int side_open(struct side_ctx *s)
{
  memset(s, 0, sizeof(*s));
  s->w = vmb_worker_create();
  if(!s->w)
    return -1;
  s->req.arena = vmb_worker_arena(s->w);
  s->req.worker = s->w;
  s->req.method = "POST";
  s->req.path = "/";
  snprintf(s->req.request_id, sizeof(s->req.request_id), "vault-auth");
  return 0;
}

static void side_close(struct side_ctx *s)
{
  vmb_worker_destroy(s->w);
}

/* Read auth.client_token and auth.lease_duration from a login/create
   reply. Returns 0 with the token copied into out. */
static int auth_from_reply(const struct vmb_vault_reply *r, char *out, size_t outlen,
                           long *ttl)
{
  json_object *auth, *tok, *dur;
  if(!r->body || !json_object_object_get_ex(r->body, "auth", &auth) ||
     !json_object_object_get_ex(auth, "client_token", &tok) ||
     !json_object_is_type(tok, json_type_string) ||
     (size_t)json_object_get_string_len(tok) >= outlen)
    return -1;
  memcpy(out, json_object_get_string(tok), (size_t)json_object_get_string_len(tok) + 1);
  *ttl = 0;
  if(json_object_object_get_ex(auth, "lease_duration", &dur))
    *ttl = (long)json_object_get_int64(dur);
  return 0;
}

static int approle_login(long *ttl)
{
  struct side_ctx s;
  struct vmb_vault_reply r;
  json_object *body;
  char token[512];
  int rc = -1;
  if(side_open(&s))
    return -1;
  body = json_object_new_object();
  json_object_object_add(body, "role_id", json_object_new_string(conf.role_id));
  json_object_object_add(body, "secret_id",
                         json_object_new_string(secret_page ? secret_page : ""));
  if(vmb_vault_call(&s.req, "auth.approle_login", "POST", "auth/approle/login",
                    body, "", &r) == VMB_ERR_OK &&
     auth_from_reply(&r, token, sizeof(token), ttl) == 0) {
    vmb_vault_set_token(token);
    OPENSSL_cleanse(token, sizeof(token));
    rc = 0;
  }
  /* the body held the secret_id */
  {
    json_object *sid;
    if(json_object_object_get_ex(body, "secret_id", &sid))
      OPENSSL_cleanse((void *)json_object_get_string(sid),
                      (size_t)json_object_get_string_len(sid));
  }
  json_object_put(body);
  vmb_worker_reset(s.w);
  side_close(&s);
  vmb_log_server(rc ? VMB_LOG_WARN : VMB_LOG_INFO, "vault",
                 rc ? "AppRole login failed" : "AppRole login succeeded");
  return rc;
}

static int token_renew_self(long *ttl)
{
  struct side_ctx s;
  struct vmb_vault_reply r;
  char token[512];
  int rc = -1;
  if(side_open(&s))
    return -1;
  if(vmb_vault_call(&s.req, "auth.renew_self", "POST", "auth/token/renew-self",
                    NULL, NULL, &r) == VMB_ERR_OK &&
     auth_from_reply(&r, token, sizeof(token), ttl) == 0) {
    OPENSSL_cleanse(token, sizeof(token));
    rc = 0;
  }
  vmb_worker_reset(s.w);
  side_close(&s);
  return rc;
}

/* Sleep up to secs, or until told to stop. Returns 1 when stopping. */
static int renew_wait(long secs)
{
  struct timespec until;
  int stop;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += secs;
  pthread_mutex_lock(&renew_lock);
  while(!renew_stop &&
        pthread_cond_timedwait(&renew_cond, &renew_lock, &until) == 0)
    ;
  stop = renew_stop;
  pthread_mutex_unlock(&renew_lock);
  return stop;
}

static void *renew_main(void *arg)
{
  long ttl = (long)(intptr_t)arg;
  for(;;) {
    /* Renew at two thirds of the TTL; retry a failed login every 2 s. */
    long wait = ttl > 0 ? (ttl * 2) / 3 : 2;
    if(wait < 1)
      wait = 1;
    if(renew_wait(wait))
      break;
    if(ttl > 0 && token_renew_self(&ttl) == 0)
      continue;
    vmb_log_server(VMB_LOG_INFO, "vault", "token renewal failed; logging in again");
    if(approle_login(&ttl) != 0)
      ttl = 0;
  }
  return NULL;
}

/* Take VAULT_SECRET_ID into its own page (see the header comment). */
static int secret_take(const char *secret_id, char *err, size_t errlen)
{
  long ps = sysconf(_SC_PAGESIZE);
  size_t n = strlen(secret_id);
  void *p;
  secret_page_len = ps > 0 ? (size_t)ps : 4096u;
  if(n >= secret_page_len) {
    snprintf(err, errlen, "invalid configuration: VAULT_SECRET_ID: too long");
    return -1;
  }
  p = mmap(NULL, secret_page_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if(p == MAP_FAILED) {
    snprintf(err, errlen, "cannot map a page for VAULT_SECRET_ID");
    return -1;
  }
  secret_page = p;
#ifdef MADV_DONTDUMP
  (void)madvise(secret_page, secret_page_len, MADV_DONTDUMP);
#endif
  /* Locking may be refused (RLIMIT_MEMLOCK); the secret still works, so
     say so instead of refusing to start. */
  if(mlock(secret_page, secret_page_len) != 0)
    vmb_log_server(VMB_LOG_WARN, "vault",
                   "cannot lock the page holding VAULT_SECRET_ID in memory "
                   "(RLIMIT_MEMLOCK); it may be written to swap");
  memcpy(secret_page, secret_id, n + 1);
  return 0;
}

static void secret_drop(void)
{
  if(!secret_page)
    return;
  OPENSSL_cleanse(secret_page, secret_page_len);
  (void)munlock(secret_page, secret_page_len);
  (void)munmap(secret_page, secret_page_len);
  secret_page = NULL;
}

int vmb_vault_auth_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  long ttl = 0;
  conf.role_id = cfg->vault_role_id;
  conf.policy_prefix = cfg->child_token_policy_prefix;
  conf.child_ttl = cfg->child_token_ttl;
  conf.lease_ttl = cfg->db_lease_token_ttl;
  conf.lease_orphan = cfg->db_lease_token_orphan;
  memset(child_cache, 0, sizeof(child_cache));
  if(!*cfg->vault_role_id)
    return 0;
  secret_drop();
  if(secret_take(cfg->vault_secret_id, err, errlen))
    return -1;
  /* Vault may come up after us (a dev stack): a failed first login is
     retried by the renewal thread, and /readyz says not ready meanwhile. */
  approle_login(&ttl);
  first_ttl = ttl;
  return 0;
}

int vmb_vault_auth_start_renewal(const struct vmb_config *cfg, char *err, size_t errlen)
{
  if(!*cfg->vault_role_id || !secret_page)
    return 0;
  renew_stop = 0;
  if(pthread_create(&renew_thread, NULL, renew_main, (void *)(intptr_t)first_ttl) != 0) {
    snprintf(err, errlen, "cannot start the token renewal thread");
    return -1;
  }
  renew_started = 1;
  return 0;
}

void vmb_vault_auth_stop_renewal(void)
{
  if(renew_started) {
    pthread_mutex_lock(&renew_lock);
    renew_stop = 1;
    pthread_cond_broadcast(&renew_cond);
    pthread_mutex_unlock(&renew_lock);
    pthread_join(renew_thread, NULL);
    renew_started = 0;
  }
}

void vmb_vault_auth_cleanup(void)
{
  vmb_vault_auth_stop_renewal();     /* already joined in a normal shutdown */
  secret_drop();
  pthread_mutex_lock(&child_lock);
  OPENSSL_cleanse(child_cache, sizeof(child_cache));
  pthread_mutex_unlock(&child_lock);
}

/* Look up a live cached token; copies it out. Caller holds child_lock. */
static int cache_get(const char *subject, uint64_t now, char *out, size_t outlen)
{
  size_t i;
  for(i = 0; i < CHILD_CACHE_SLOTS; i++) {
    struct child_slot *s = &child_cache[i];
    if(s->subject[0] && !strcmp(s->subject, subject) && now < s->renew_after_us &&
       strlen(s->token) < outlen) {
      memcpy(out, s->token, strlen(s->token) + 1);
      s->last_used_us = now;
      return 0;
    }
  }
  return -1;
}

/* Store into the subject's slot, a free one, or the least recently used. */
static void cache_put(const char *subject, const char *token, uint64_t renew_after,
                      uint64_t now)
{
  size_t i, pick = 0;
  uint64_t oldest = UINT64_MAX;
  for(i = 0; i < CHILD_CACHE_SLOTS; i++) {
    struct child_slot *s = &child_cache[i];
    if(!strcmp(s->subject, subject) || !s->subject[0]) {
      pick = i;
      break;
    }
    if(s->last_used_us < oldest) {
      oldest = s->last_used_us;
      pick = i;
    }
  }
  OPENSSL_cleanse(&child_cache[pick], sizeof(child_cache[pick]));
  snprintf(child_cache[pick].subject, sizeof(child_cache[pick].subject), "%s", subject);
  snprintf(child_cache[pick].token, sizeof(child_cache[pick].token), "%s", token);
  child_cache[pick].renew_after_us = renew_after;
  child_cache[pick].last_used_us = now;
}

void vmb_vault_forget_subject_token(const char *subject)
{
  size_t i;
  pthread_mutex_lock(&child_lock);
  for(i = 0; i < CHILD_CACHE_SLOTS; i++)
    if(child_cache[i].subject[0] && !strcmp(child_cache[i].subject, subject))
      OPENSSL_cleanse(&child_cache[i], sizeof(child_cache[i]));
  pthread_mutex_unlock(&child_lock);
}

/*
** Mint a token for subject that holds exactly the subject's policy (written
** first when this request is the subject's own, policy.c). ttl in seconds;
** orphan asks Vault for a token without a parent (no_parent, which needs
** sudo on auth/token/create, the permission child tokens already need).
** purpose goes into the token's metadata so an operator looking at
** auth/token/lookup-accessor sees why it exists. Returns OK with the token
** in out and Vault's TTL in *ttl_out.
*/
static enum vmb_err mint(struct vmb_request *req, const char *subject, long ttl,
                         bool orphan, const char *purpose, char *out, size_t outlen,
                         long *ttl_out, const char **detail)
{
  struct vmb_vault_reply r;
  json_object *body, *pols, *meta;
  enum vmb_err e;
  char ttl_text[32], policy[VMB_POLICY_NAME_MAX];

  /* The subject's policy follows its grants (policy.c); it is written
     before the first mint of this process and whenever the grants
     changed. A failure is logged there: the policy may be provisioned. */
  if(vmb_policy_name(conf.policy_prefix, subject, policy, sizeof(policy)))
    return VMB_ERR_BAD_REQUEST;
  if(!strcmp(req->identity.subject, subject))
    (void)vmb_policy_ensure(req, subject, req->identity.grants);
  body = json_object_new_object();
  pols = json_object_new_array();
  meta = json_object_new_object();
  json_object_array_add(pols, json_object_new_string(policy));
  json_object_object_add(body, "policies", pols);
  json_object_object_add(body, "no_default_policy", json_object_new_boolean(1));
  if(orphan)
    json_object_object_add(body, "no_parent", json_object_new_boolean(1));
  snprintf(ttl_text, sizeof(ttl_text), "%lds", ttl);
  json_object_object_add(body, "ttl", json_object_new_string(ttl_text));
  json_object_object_add(body, "renewable", json_object_new_boolean(0));
  /* Vault's database plugins put the display name into user names
     (v-token-<name>-...), so both kinds of token carry the subject. */
  json_object_object_add(body, "display_name", json_object_new_string(subject));
  json_object_object_add(meta, "subject", json_object_new_string(subject));
  json_object_object_add(meta, "purpose", json_object_new_string(purpose));
  json_object_object_add(body, "meta", meta);
  e = vmb_vault_call(req, "auth.token_create", "POST", "auth/token/create", body,
                     NULL, &r);
  json_object_put(body);
  if(e != VMB_ERR_OK) {
    *detail = e == VMB_ERR_VAULT_DENIED || e == VMB_ERR_BAD_REQUEST
      ? (orphan ? "the bridge's Vault token may not create orphan tokens for this agent "
                  "(sudo on auth/token/create, or set DB_LEASE_TOKEN_ORPHAN=false)"
                : "the bridge's Vault token may not create child tokens for this agent")
      : e == VMB_ERR_VAULT_ERROR
      ? vmb_arena_printf(req->arena, "Vault answered with HTTP %ld when the bridge "
                         "created the agent's token", r.status)
      : NULL;
    return e == VMB_ERR_BAD_REQUEST ? VMB_ERR_VAULT_DENIED : e;
  }
  if(auth_from_reply(&r, out, outlen, ttl_out) != 0)
    return VMB_ERR_VAULT_ERROR;
  if(*ttl_out <= 0)
    *ttl_out = ttl;
  return VMB_ERR_OK;
}

enum vmb_err vmb_vault_subject_token(struct vmb_request *req, const char *subject,
                                     char *out, size_t outlen, const char **detail,
                                     bool *from_cache)
{
  uint64_t now = vmb_monotonic_us();
  enum vmb_err e;
  long ttl = 0;
  int hit;

  pthread_mutex_lock(&child_lock);
  hit = cache_get(subject, now, out, outlen);
  pthread_mutex_unlock(&child_lock);
  *from_cache = hit == 0;
  if(hit == 0)
    return VMB_ERR_OK;
  e = mint(req, subject, conf.child_ttl, false, "request", out, outlen, &ttl, detail);
  if(e != VMB_ERR_OK)
    return e;
  pthread_mutex_lock(&child_lock);
  cache_put(subject, out, now + (uint64_t)ttl * 1000000u * 2u / 3u, now);
  pthread_mutex_unlock(&child_lock);
  return VMB_ERR_OK;
}

enum vmb_err vmb_vault_lease_token(struct vmb_request *req, const char *subject,
                                   char *out, size_t outlen, long *ttl,
                                   const char **detail)
{
  return mint(req, subject, conf.lease_ttl, conf.lease_orphan, "db-lease", out, outlen,
              ttl, detail);
}

void vmb_vault_drop_lease_token(struct vmb_request *req, const char *token)
{
  struct vmb_vault_reply r;
  json_object *body = json_object_new_object();
  /* With the bridge's own token: the lease token's policy has no
     auth/token/revoke-self (no_default_policy). Best effort: a token we
     cannot revoke ends at DB_LEASE_TOKEN_TTL. */
  json_object_object_add(body, "token", json_object_new_string(token));
  if(vmb_vault_call(req, "auth.token_revoke", "POST", "auth/token/revoke", body, NULL, &r)
     != VMB_ERR_OK)
    vmb_log_server(VMB_LOG_INFO, "vault", "an unused database lease token could not be "
                   "revoked; it expires at DB_LEASE_TOKEN_TTL");
  {
    json_object *t;
    if(json_object_object_get_ex(body, "token", &t))
      OPENSSL_cleanse((void *)json_object_get_string(t),
                      (size_t)json_object_get_string_len(t));
  }
  json_object_put(body);
}
