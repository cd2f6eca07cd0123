/*
** auth_jwt.c - strict JWT verifier: HS256, RS256, ES256 (SPEC section 2).
**
** Why not jwt_decode() from libjwt: Debian's libjwt 1.10.2 lets the token
** header pick the algorithm, matches "alg" case-insensitively, accepts
** junk in the signature segment (lenient base64), copies segments with
** alloca() and would need a PEM parsed on every call. Wrapping it safely
** means doing every check here anyway, and the PEM round trip alone costs
** more than the RSA verify itself. So this file verifies directly with
** OpenSSL EVP and json-c: the libjwt holes listed in docs/auth.md do not
** exist by construction. docs/auth.md has the full argument and numbers.
**
** The rules, in order (each refusal is a short static reason code):
**   1. shape: 1..8192 bytes of [A-Za-z0-9_-.], exactly two dots, header
**      and payload non-empty ("malformed", "too_large");
**   2. header: strict base64url, strict JSON object; "alg" compared
**      byte-exactly with the algorithms the configured keys allow
**      ("alg_not_allowed"); "crit" refused; "typ", if any, exactly "JWT";
**      "kid" a short string; jku/x5u/jwk/x5c are ignored, never fetched;
**   3. key: HS256 only with JWT_HS256_SECRET; RS256/ES256 only from the
**      JWKS, looked up by kid, and the key's own type fixes the algorithm
**      (an RSA key never verifies an HS256 MAC, an oct JWK is never
**      loaded). Without a kid, the set must hold exactly one key for that
**      algorithm - keys are never tried in turn;
**   4. signature over the received "header.payload" bytes: HMAC compared
**      with CRYPTO_memcmp, RSA PKCS#1 v1.5 of the modulus size, ECDSA P-256
**      as raw R||S (64 bytes);
**   5. only then the payload is parsed and the claims checked: exp
**      required, nbf and iat honoured with 60 s leeway, iss and aud when
**      configured, sub a valid subject, scopes from "scope" or "scopes".
**
** Threads: configuration is set once by vmb_jwt_init() before workers
** start. The JWKS is an immutable, refcounted key set; a reader takes a
** reference under a read lock, a refresh swaps the pointer under the
** write lock, and the last reference frees the old set. Fetches use one
** CURL handle of this module under fetch_lock (fetches are rare). The
** verified-token cache is 256 sets x 4 ways, each set under its own mutex.
*/
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "http_client.h"
#include "nspath.h"
#include "scope.h"
#include "util.h"
#include "vmb/log.h"

#define JWT_MAX_LEN 8192          /* whole compact token */
#define JWT_HEADER_MAX 2048       /* decoded header bytes */
#define JWT_PAYLOAD_MAX 6144      /* decoded payload: 8192 * 3 / 4 */
#define JWT_SIG_MAX 1024          /* RSA-8192 */
#define JWT_LEEWAY 60             /* seconds, for exp, nbf and iat */
#define JWT_KID_MAX 256
#define JWT_JSON_DEPTH 8
#define JWKS_MAX_BYTES (256 * 1024)
#define JWKS_MAX_KEYS 64
#define JWKS_MIN_REFETCH_S 10     /* unknown-kid refetches, failed fetches */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192         /* bounds the verify cost an issuer imposes */
#define CACHE_SETS 256
#define CACHE_WAYS 4

enum jwt_alg { ALG_NONE_ = 0, ALG_HS256, ALG_RS256, ALG_ES256 };

struct jwk_key {
  char *kid;                      /* NULL when the JWK has none */
  enum jwt_alg alg;               /* fixed by kty/crv, never by a token */
  EVP_PKEY *pkey;
  EVP_MD_CTX *vtmpl;              /* DigestVerifyInit done once; copied per
                                     call, which skips the provider fetches
                                     of a fresh init (~4 us on RSA-2048) */
};

/* Immutable once published; freed by whoever drops the last reference. */
struct keyset {
  atomic_long refs;
  unsigned long gen;              /* bumps on every content change */
  unsigned char doc_hash[32];     /* SHA-256 of the JWKS document */
  size_t n;
  struct jwk_key *keys;
};

struct cache_entry {
  unsigned char digest[32];       /* SHA-256 of the exact token bytes */
  int64_t exp;
  unsigned long gen;              /* key-set generation it was verified under */
  unsigned scopes;
  uint32_t stamp;                 /* insertion order, for eviction */
  bool used;
  char subject[VMB_SUBJECT_MAX + 1];
};

struct cache_set {
  pthread_mutex_t lock;
  uint32_t clock;
  struct cache_entry e[CACHE_WAYS];
};

/* Module state. Written by init/cleanup (single-threaded) and, for the
   key set and fetch bookkeeping, under the locks named beside them. */
static struct {
  bool enabled;                   /* some key source is configured */
  bool validate_iss, validate_aud, require_kid;
  char *issuer, *audience;        /* owned copies */
  EVP_MAC_CTX *hs_tmpl;           /* keyed HMAC-SHA256, duplicated per call */
  bool have_jwks;
  char *jwks_url;                 /* NULL for a file */
  bool jwks_plain_http;           /* loopback http, explicitly allowed */
  long cache_seconds;
  EVP_MD *sha256;
  struct vmb_upstream upstream;   /* the JWKS endpoint, set by init */
  struct vmb_upstream_conns conns;  /* one connection, under fetch_lock */
  atomic_llong fetched_at;        /* monotonic s of the last good fetch */
  atomic_llong last_attempt;      /* monotonic s of last fetch try */
  atomic_ulong fetches, fetch_failures, cache_hits;
  atomic_ulong gen_counter;
  atomic_bool cache_on;
  atomic_llong fake_now;          /* tests: 0 = the real clock */
  atomic_llong mono_skew;         /* tests: added to the fetch clock */
} jw;

static pthread_rwlock_t ks_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct keyset *cur_ks;     /* under ks_lock */
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_set cache[CACHE_SETS];
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* ---- small helpers ----------------------------------------------------- */

static int64_t wall_now(void)
{
  long long f = atomic_load(&jw.fake_now);
  return f ? (int64_t)f : (int64_t)time(NULL);
}

static int64_t mono_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec + (int64_t)atomic_load(&jw.mono_skew);
}

static int b64u_val(unsigned char c)
{
  if(c >= 'A' && c <= 'Z') return c - 'A';
  if(c >= 'a' && c <= 'z') return c - 'a' + 26;
  if(c >= '0' && c <= '9') return c - '0' + 52;
  if(c == '-') return 62;
  if(c == '_') return 63;
  return -1;
}

/* Strict base64url (RFC 7515 section 2): no padding, no other characters,
   length % 4 != 1 and zero unused trailing bits, so each byte string has
   exactly one encoding and a token cannot be altered without changing
   what is signed. Decodes into out[cap]; -1 on any violation. */
static int b64u_decode(const char *s, size_t n, unsigned char *out,
                       size_t cap, size_t *outlen)
{
  uint32_t acc = 0;
  int bits = 0;
  size_t i, o = 0;
  if(n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
    return -1;
  for(i = 0; i < n; i++) {
    int v = b64u_val((unsigned char)s[i]);
    if(v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if(acc != 0)
    return -1;
  *outlen = o;
  return 0;
}

static int sha256_of(const void *d, size_t n, unsigned char out[32])
{
  unsigned int len = 32;
  return EVP_Digest(d, n, out, &len, jw.sha256 ? jw.sha256 : EVP_sha256(),
                    NULL) == 1 ? 0 : -1;
}

/* Borrowed string member of o, or NULL when absent or not a string. A
   string holding a NUL byte is treated as absent-and-bad via *bad. */
static const char *str_member(json_object *o, const char *name, bool *present,
                              bool *bad, size_t *len)
{
  json_object *v;
  const char *s;
  *present = json_object_object_get_ex(o, name, &v);
  *bad = false;
  if(!*present)
    return NULL;
  if(!json_object_is_type(v, json_type_string)) {
    *bad = true;
    return NULL;
  }
  s = json_object_get_string(v);
  *len = (size_t)json_object_get_string_len(v);
  if(strlen(s) != *len) {
    *bad = true;
    return NULL;
  }
  return s;
}

static void log_warn(const char *msg, const char *kid, const char *why)
{
  json_object *f = json_object_new_object();
  if(f && kid)
    json_object_object_add(f, "kid", json_object_new_string(kid));
  if(f && why)
    json_object_object_add(f, "reason", json_object_new_string(why));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "jwt", msg, f);
  json_object_put(f);
}

/* ---- JWK -> EVP_PKEY ---------------------------------------------------- */

/* Strictly decoded big-endian integer member; NEW BIGNUM or NULL. */
static BIGNUM *bn_member(json_object *jwk, const char *name, size_t *nbytes)
{
  bool present, bad;
  size_t len = 0, dlen = 0;
  const char *s = str_member(jwk, name, &present, &bad, &len);
  unsigned char *d;
  BIGNUM *bn;
  if(!s || !len)
    return NULL;
  d = vmb_b64url_decode(s, len, &dlen);
  if(!d)
    return NULL;
  bn = dlen ? BN_bin2bn(d, (int)dlen, NULL) : NULL;
  if(nbytes)
    *nbytes = dlen;
  free(d);
  return bn;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY_CTX *chk = NULL;
  EVP_PKEY *pkey = NULL;
  if(!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
     EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    goto out;
  /* Rejects off-curve EC points and malformed RSA publics. */
  chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  if(!chk || EVP_PKEY_public_check(chk) != 1) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
out:
  EVP_PKEY_CTX_free(chk);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static EVP_PKEY *rsa_from_jwk(json_object *jwk, const char **why)
{
  BIGNUM *n = bn_member(jwk, "n", NULL), *e = bn_member(jwk, "e", NULL);
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;
  *why = "bad_rsa_key";
  if(!n || !e)
    goto out;
  if(BN_num_bits(n) < RSA_MIN_BITS || BN_num_bits(n) > RSA_MAX_BITS) {
    *why = "rsa_key_size";
    goto out;
  }
  if(!BN_is_odd(e) || BN_num_bits(e) < 2 || BN_num_bits(e) > 64)
    goto out;
  bld = OSSL_PARAM_BLD_new();
  if(!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    goto out;
  pkey = pkey_fromdata("RSA", bld);
out:
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return pkey;
}

static EVP_PKEY *ec_from_jwk(json_object *jwk, const char **why)
{
  bool present, bad;
  size_t len = 0, xl = 0, yl = 0;
  const char *crv = str_member(jwk, "crv", &present, &bad, &len);
  BIGNUM *x = NULL, *y = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;
  unsigned char pub[65];
  *why = "unsupported_curve";
  if(!crv || strcmp(crv, "P-256") != 0)
    return NULL;
  *why = "bad_ec_key";
  x = bn_member(jwk, "x", &xl);
  y = bn_member(jwk, "y", &yl);
  /* RFC 7518 6.2.1.2: coordinates are exactly the field size. */
  if(!x || !y || xl != 32 || yl != 32)
    goto out;
  pub[0] = 0x04;
  if(BN_bn2binpad(x, pub + 1, 32) != 32 || BN_bn2binpad(y, pub + 33, 32) != 32)
    goto out;
  bld = OSSL_PARAM_BLD_new();
  if(!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                              "prime256v1", 0) ||
     !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                       sizeof(pub)))
    goto out;
  pkey = pkey_fromdata("EC", bld);
out:
  OSSL_PARAM_BLD_free(bld);
  BN_free(x);
  BN_free(y);
  return pkey;
}

/* Decide whether one JWK may verify signatures here, and build its key.
   jwk is BORROWED. Returns 0 with *k filled, or -1 with *why (static). */
static int jwk_load(json_object *jwk, struct jwk_key *k, const char **why)
{
  static const char *const private_members[] =
    {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
  bool present, bad;
  size_t len = 0, i;
  const char *kty, *s;
  json_object *v;

  memset(k, 0, sizeof(*k));
  *why = "not_an_object";
  if(!json_object_is_type(jwk, json_type_object))
    return -1;
  kty = str_member(jwk, "kty", &present, &bad, &len);
  *why = "unsupported_kty";
  if(!kty)
    return -1;
  /* A verifier must never hold secret key material: an oct key (shared
     secret) or private RSA/EC members in a JWKS mean a misconfigured
     issuer. Skip the key rather than silently use its public half. */
  for(i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
    if(json_object_object_get_ex(jwk, private_members[i], NULL)) {
      *why = "private_or_symmetric_key";
      return -1;
    }
  s = str_member(jwk, "use", &present, &bad, &len);
  if(bad || (present && strcmp(s, "sig") != 0)) {
    *why = "use_not_sig";
    return -1;
  }
  if(json_object_object_get_ex(jwk, "key_ops", &v)) {
    bool verify = false;
    size_t n = json_object_is_type(v, json_type_array) ?
               json_object_array_length(v) : 0;
    for(i = 0; i < n; i++) {
      json_object *op = json_object_array_get_idx(v, i);
      if(json_object_is_type(op, json_type_string) &&
         !strcmp(json_object_get_string(op), "verify"))
        verify = true;
    }
    if(!verify) {
      *why = "key_ops_without_verify";
      return -1;
    }
  }
  if(!strcmp(kty, "RSA")) {
    k->alg = ALG_RS256;
    k->pkey = rsa_from_jwk(jwk, why);
  }
  else if(!strcmp(kty, "EC")) {
    k->alg = ALG_ES256;
    k->pkey = ec_from_jwk(jwk, why);
  }
  else {
    return -1;
  }
  if(!k->pkey)
    return -1;
  /* A JWK "alg" must agree with what the key type implies. */
  s = str_member(jwk, "alg", &present, &bad, &len);
  if(bad || (present && strcmp(s, k->alg == ALG_RS256 ? "RS256" : "ES256"))) {
    *why = "alg_mismatch";
    goto fail;
  }
  s = str_member(jwk, "kid", &present, &bad, &len);
  if(bad || (present && (len == 0 || len > JWT_KID_MAX))) {
    *why = "bad_kid";
    goto fail;
  }
  if(present) {
    k->kid = strdup(s);
    if(!k->kid) {
      *why = "out_of_memory";
      goto fail;
    }
  }
  return 0;
fail:
  EVP_PKEY_free(k->pkey);
  k->pkey = NULL;
  return -1;
}

static void keyset_free(struct keyset *ks)
{
  size_t i;
  if(!ks)
    return;
  for(i = 0; i < ks->n; i++) {
    free(ks->keys[i].kid);
    EVP_MD_CTX_free(ks->keys[i].vtmpl);
    EVP_PKEY_free(ks->keys[i].pkey);
  }
  free(ks->keys);
  free(ks);
}

/* Parse a JWKS document (or, when single_jwk, one JWK object) into a new
   key set holding the usable keys; unusable ones are skipped and logged.
   Returns NULL with err filled when the document itself is bad. */
static struct keyset *keyset_parse(const char *text, size_t len,
                                   bool single_jwk, char *err, size_t errlen)
{
  json_object *doc, *keys = NULL;   /* doc: NEW, put before returning */
  struct keyset *ks = NULL;
  size_t i, n;

  doc = len <= JWKS_MAX_BYTES ? vmb_json_parse(text, len, JWT_JSON_DEPTH) : NULL;
  if(!doc || !json_object_is_type(doc, json_type_object)) {
    snprintf(err, errlen, "not a JSON object");
    goto out;
  }
  if(single_jwk) {
    n = 1;
  }
  else {
    if(!json_object_object_get_ex(doc, "keys", &keys) ||
       !json_object_is_type(keys, json_type_array)) {
      snprintf(err, errlen, "no \"keys\" array");
      goto out;
    }
    n = json_object_array_length(keys);
    if(n > JWKS_MAX_KEYS) {
      snprintf(err, errlen, "more than %d keys", JWKS_MAX_KEYS);
      goto out;
    }
  }
  ks = calloc(1, sizeof(*ks));
  if(ks)
    ks->keys = calloc(n ? n : 1, sizeof(*ks->keys));
  if(!ks || !ks->keys) {
    snprintf(err, errlen, "out of memory");
    keyset_free(ks);
    ks = NULL;
    goto out;
  }
  atomic_init(&ks->refs, 1);
  for(i = 0; i < n; i++) {
    json_object *jwk = single_jwk ? doc : json_object_array_get_idx(keys, i);
    struct jwk_key k;
    const char *why = NULL;
    size_t j;
    bool dup = false;
    if(jwk_load(jwk, &k, &why)) {
      json_object *kidv;
      const char *kid = NULL;
      if(json_object_is_type(jwk, json_type_object) &&
         json_object_object_get_ex(jwk, "kid", &kidv) &&
         json_object_is_type(kidv, json_type_string))
        kid = json_object_get_string(kidv);
      log_warn("JWKS key skipped", kid, why);
      continue;
    }
    /* Two keys under one kid would make the lookup ambiguous: the first
       one wins and the duplicate is dropped. */
    for(j = 0; j < ks->n && k.kid; j++)
      if(ks->keys[j].kid && !strcmp(ks->keys[j].kid, k.kid) &&
         ks->keys[j].alg == k.alg)
        dup = true;
    if(dup) {
      log_warn("JWKS key skipped", k.kid, "duplicate_kid");
      free(k.kid);
      EVP_PKEY_free(k.pkey);
      continue;
    }
    k.vtmpl = EVP_MD_CTX_new();
    if(k.vtmpl && EVP_DigestVerifyInit(k.vtmpl, NULL, EVP_sha256(), NULL,
                                       k.pkey) != 1) {
      EVP_MD_CTX_free(k.vtmpl);     /* fall back to a fresh init per call */
      k.vtmpl = NULL;
    }
    ks->keys[ks->n++] = k;
  }
  if(sha256_of(text, len, ks->doc_hash)) {
    snprintf(err, errlen, "digest failed");
    keyset_free(ks);
    ks = NULL;
  }
out:
  json_object_put(doc);
  return ks;
}

/* ---- the published key set -------------------------------------------- */

static struct keyset *ks_acquire(void)
{
  struct keyset *ks;
  pthread_rwlock_rdlock(&ks_lock);
  ks = cur_ks;
  if(ks)
    atomic_fetch_add(&ks->refs, 1);
  pthread_rwlock_unlock(&ks_lock);
  return ks;
}

static void ks_release(struct keyset *ks)
{
  if(ks && atomic_fetch_sub(&ks->refs, 1) == 1)
    keyset_free(ks);
}

/* Publish nks (its reference moves to the module). Cached tokens verified
   under older keys stop counting because the generation changes. */
static void ks_install(struct keyset *nks)
{
  struct keyset *old;
  nks->gen = atomic_fetch_add(&jw.gen_counter, 1) + 1;
  pthread_rwlock_wrlock(&ks_lock);
  old = cur_ks;
  cur_ks = nks;
  pthread_rwlock_unlock(&ks_lock);
  ks_release(old);
}

static unsigned long current_gen(void)
{
  return atomic_load(&jw.gen_counter);
}

/* ---- JWKS fetch --------------------------------------------------------- */

/* Fetch and publish the JWKS. Caller holds fetch_lock. On any failure the
   published set stays as it was (the last good one). trace: the context of
   the request that is waiting for this fetch (NULL at start-up). Returns
   0 or -1. */
static int jwks_fetch_locked(const struct vmb_trace_ctx *trace, char *err, size_t errlen)
{
  struct vmb_upstream_call call;
  struct vmb_upstream_reply r;
  struct keyset *nks = NULL, *old;
  int ret = -1;

  atomic_store(&jw.last_attempt, (long long)mono_now());
  atomic_fetch_add(&jw.fetches, 1);
  /* Fetches are rare (JWT_JWKS_CACHE_SECONDS) and serialised by
     fetch_lock, so one connection serves every thread. The request that
     found the set stale or met an unknown kid waits for this fetch, so
     the fetch is a client span of that request, as a Vault or KMS call
     is (upstream "jwks"); the start-up fetch has no request (and comes
     before tracing starts): no span. Counted in upstream_* either way. */
  memset(&call, 0, sizeof(call));
  call.method = "GET";
  call.url = jw.jwks_url;
  call.op = "jwks.fetch";
  call.trace = trace;
  if(vmb_upstream_call(&jw.conns, &jw.upstream, &call, &r)) {
    snprintf(err, errlen, "fetch failed: %s", r.error ? r.error : "unknown error");
    goto out;
  }
  if(r.status != 200) {
    snprintf(err, errlen, "HTTP status %ld", r.status);
    goto out;
  }
  nks = keyset_parse(r.body.data ? r.body.data : "", r.body.len, false, err, errlen);
  if(!nks)
    goto out;
  if(nks->n == 0) {
    /* A set with no usable key is far likelier an issuer mistake than a
       deliberate revocation of everything; keep serving the last good. */
    snprintf(err, errlen, "no usable signing key");
    goto out;
  }
  old = ks_acquire();
  if(old && !memcmp(old->doc_hash, nks->doc_hash, 32)) {
    /* Same document: keep the generation so the token cache stays warm. */
    ks_release(old);
  }
  else {
    ks_release(old);
    ks_install(nks);
    nks = NULL;
  }
  atomic_store(&jw.fetched_at, (long long)mono_now());
  ret = 0;
out:
  if(ret)
    atomic_fetch_add(&jw.fetch_failures, 1);
  keyset_free(nks);
  vmb_buf_free(&r.body);
  return ret;
}

static void fetch_failed_log(const char *err)
{
  json_object *f = json_object_new_object();
  if(f)
    json_object_object_add(f, "error", json_object_new_string(err));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "jwt",
          "JWKS refresh failed; keeping the last good key set", f);
  json_object_put(f);
}

/* Periodic refresh when the cache lifetime has passed. Never blocks a
   request behind another thread's fetch: trylock, else use what we have. */
static void jwks_maybe_refresh(const struct vmb_trace_ctx *trace)
{
  int64_t now = mono_now();
  char err[256];
  if(!jw.jwks_url)
    return;
  if(now - atomic_load(&jw.last_attempt) < JWKS_MIN_REFETCH_S ||
     now - atomic_load(&jw.fetched_at) < jw.cache_seconds)
    return;
  if(pthread_mutex_trylock(&fetch_lock) != 0)
    return;
  if(now - atomic_load(&jw.fetched_at) >= jw.cache_seconds &&
     now - atomic_load(&jw.last_attempt) >= JWKS_MIN_REFETCH_S &&
     jwks_fetch_locked(trace, err, sizeof(err)))
    fetch_failed_log(err);
  pthread_mutex_unlock(&fetch_lock);
}

/* A token named a kid we do not know: the issuer may have rotated. Fetch
   at most once per JWKS_MIN_REFETCH_S whatever the flood of bogus kids.
   Returns true when a newer key set than seen_gen is now published. */
static bool jwks_refetch_for_kid(unsigned long seen_gen, const struct vmb_trace_ctx *trace)
{
  char err[256];
  bool newer;
  if(!jw.jwks_url)
    return false;
  if(mono_now() - atomic_load(&jw.last_attempt) < JWKS_MIN_REFETCH_S)
    return current_gen() != seen_gen;
  pthread_mutex_lock(&fetch_lock);
  /* Another thread may have fetched while we waited for the lock. */
  if(current_gen() == seen_gen &&
     mono_now() - atomic_load(&jw.last_attempt) >= JWKS_MIN_REFETCH_S &&
     jwks_fetch_locked(trace, err, sizeof(err)))
    fetch_failed_log(err);
  newer = current_gen() != seen_gen;
  pthread_mutex_unlock(&fetch_lock);
  return newer;
}

/* ---- verified-token cache ---------------------------------------------- */

static void cache_init_once(void)
{
  size_t i;
  for(i = 0; i < CACHE_SETS; i++)
    pthread_mutex_init(&cache[i].lock, NULL);
}

static struct cache_set *cache_set_of(const unsigned char d[32])
{
  return &cache[d[0]];              /* CACHE_SETS == 256 */
}

/* The last second a token with this exp is accepted (check_claims'
   rule: refused once now - JWT_LEEWAY > exp), saturated: exp is the
   token's number, up to INT64_MAX. */
static long long accepted_until(int64_t exp)
{
  return exp > LLONG_MAX - JWT_LEEWAY ? LLONG_MAX : (long long)exp + JWT_LEEWAY;
}

static bool cache_lookup(const unsigned char d[32], int64_t now,
                         struct vmb_identity *id)
{
  struct cache_set *s = cache_set_of(d);
  unsigned long gen = current_gen();
  bool hit = false;
  size_t i;
  pthread_mutex_lock(&s->lock);
  for(i = 0; i < CACHE_WAYS; i++) {
    struct cache_entry *e = &s->e[i];
    if(!e->used || memcmp(e->digest, d, 32) != 0)
      continue;
    if(e->gen != gen || now - JWT_LEEWAY > e->exp) {
      e->used = false;              /* stale key set or expired */
      break;
    }
    id->scopes = e->scopes;
    id->expires_at = accepted_until(e->exp);
    memcpy(id->subject, e->subject, sizeof(id->subject));
    hit = true;
    break;
  }
  pthread_mutex_unlock(&s->lock);
  return hit;
}

static void cache_insert(const unsigned char d[32], int64_t exp,
                         unsigned long gen, const struct vmb_identity *id)
{
  struct cache_set *s = cache_set_of(d);
  struct cache_entry *victim = NULL;
  size_t i;
  pthread_mutex_lock(&s->lock);
  /* Prefer a free way, then the oldest insertion. */
  for(i = 0; i < CACHE_WAYS; i++) {
    struct cache_entry *e = &s->e[i];
    if(!e->used || !memcmp(e->digest, d, 32)) {
      victim = e;
      break;
    }
    if(!victim || (uint32_t)(s->clock - e->stamp) >
                  (uint32_t)(s->clock - victim->stamp))
      victim = e;
  }
  memcpy(victim->digest, d, 32);
  victim->exp = exp;
  victim->gen = gen;
  victim->scopes = id->scopes;
  memcpy(victim->subject, id->subject, sizeof(victim->subject));
  victim->stamp = s->clock++;
  victim->used = true;
  pthread_mutex_unlock(&s->lock);
}

static void cache_flush(void)
{
  size_t i;
  pthread_once(&cache_once, cache_init_once);
  for(i = 0; i < CACHE_SETS; i++) {
    pthread_mutex_lock(&cache[i].lock);
    OPENSSL_cleanse(cache[i].e, sizeof(cache[i].e));
    pthread_mutex_unlock(&cache[i].lock);
  }
}

/* ---- verification ------------------------------------------------------- */

/* Where the keys come from for one verification. */
struct keysrc {
  EVP_MAC_CTX *hs;                  /* keyed template, or NULL */
  const unsigned char *hs_raw;      /* or a raw secret (vector tests) */
  size_t hs_raw_len;
  const struct keyset *ks;          /* or NULL */
  bool jwks_configured;             /* ks NULL means "not fetched yet" */
  bool require_kid;
};

struct verified {
  json_object *claims;              /* NEW, caller puts */
  int64_t exp;
};

static int hmac_sha256(const struct keysrc *k, const char *data, size_t n,
                       unsigned char out[32])
{
  size_t outl = 0;
  if(k->hs) {
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->hs);
    int ok = c && EVP_MAC_update(c, (const unsigned char *)data, n) == 1 &&
             EVP_MAC_final(c, out, &outl, 32) == 1 && outl == 32;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
  }
  return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->hs_raw,
                   k->hs_raw_len, (const unsigned char *)data, n, out, 32,
                   &outl) && outl == 32 ? 0 : -1;
}

/* The template is only read (copied), so many threads may share it. */
static bool pkey_verify(const struct jwk_key *k, const unsigned char *sig,
                        size_t siglen, const char *data, size_t n)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx &&
            (k->vtmpl ? EVP_MD_CTX_copy_ex(ctx, k->vtmpl) == 1 :
             EVP_DigestVerifyInit(ctx, NULL, jw.sha256 ? jw.sha256 :
                                  EVP_sha256(), NULL, k->pkey) == 1) &&
            EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data,
                             n) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

static bool es256_verify(const struct jwk_key *k, const unsigned char *sig,
                         size_t siglen, const char *data, size_t n)
{
  /* JWS carries R||S (RFC 7518 3.4); OpenSSL wants DER. Anything but 64
     bytes (a DER signature, a P-384 one) is refused outright. */
  ECDSA_SIG *es = NULL;
  BIGNUM *r = NULL, *s = NULL;
  unsigned char der[80], *p = der;
  int derlen;
  bool ok = false;
  if(siglen != 64)
    return false;
  es = ECDSA_SIG_new();
  r = BN_bin2bn(sig, 32, NULL);
  s = BN_bin2bn(sig + 32, 32, NULL);
  if(!es || !r || !s || !ECDSA_SIG_set0(es, r, s))
    goto out;
  r = s = NULL;                     /* owned by es now */
  derlen = i2d_ECDSA_SIG(es, NULL);
  if(derlen <= 0 || (size_t)derlen > sizeof(der))
    goto out;
  derlen = i2d_ECDSA_SIG(es, &p);
  ok = derlen > 0 && pkey_verify(k, der, (size_t)derlen, data, n);
out:
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(es);
  return ok;
}

static enum jwt_alg alg_of(const char *s, size_t len)
{
  /* Byte-exact: "none", "NONE", "rs256", "RS512", "PS256" all fail. */
  if(len != 5)
    return ALG_NONE_;
  if(!memcmp(s, "HS256", 5)) return ALG_HS256;
  if(!memcmp(s, "RS256", 5)) return ALG_RS256;
  if(!memcmp(s, "ES256", 5)) return ALG_ES256;
  return ALG_NONE_;
}

/* Verify shape, header and signature of token[0..len) with the keys in k.
   On success returns NULL and, when out is given, the parsed payload
   (NEW json object, any JSON type) in out->claims; payload bytes are also
   copied to raw_payload if non-NULL. Else a static reason code. */
static const char *verify_signature(const char *token, size_t len,
                                    const struct keysrc *k,
                                    json_object **payload_json,
                                    unsigned char *raw_payload,
                                    size_t *raw_len)
{
  unsigned char hbuf[JWT_HEADER_MAX], pbuf[JWT_PAYLOAD_MAX + 1];
  unsigned char sig[JWT_SIG_MAX];
  size_t i, dots[2], ndots = 0, hl, pl, sl;
  const char *reason = NULL, *kid = NULL, *algs;
  json_object *hdr = NULL;          /* NEW, put at out */
  enum jwt_alg alg;
  const struct jwk_key *key = NULL; /* BORROWED from k->ks */
  bool present, bad;
  size_t alen = 0, kidlen = 0, tl = 0;

  if(len == 0)
    return "malformed";
  if(len > JWT_MAX_LEN)
    return "too_large";
  for(i = 0; i < len; i++) {
    unsigned char c = (unsigned char)token[i];
    if(c == '.') {
      if(ndots == 2)
        return "malformed";         /* extra dots */
      dots[ndots++] = i;
    }
    else if(b64u_val(c) < 0) {
      return "malformed";           /* '=', '+', '/', spaces, NUL... */
    }
  }
  if(ndots != 2 || dots[0] == 0 || dots[1] == dots[0] + 1)
    return "malformed";
  if(b64u_decode(token, dots[0], hbuf, sizeof(hbuf) - 1, &hl))
    return "malformed";
  hdr = vmb_json_parse((const char *)hbuf, hl, JWT_JSON_DEPTH);
  if(!hdr || !json_object_is_type(hdr, json_type_object)) {
    reason = "bad_header";
    goto out;
  }
  algs = str_member(hdr, "alg", &present, &bad, &alen);
  alg = algs ? alg_of(algs, alen) : ALG_NONE_;
  if(alg == ALG_NONE_) {
    reason = "alg_not_allowed";
    goto out;
  }
  if(json_object_object_get_ex(hdr, "crit", NULL)) {
    reason = "crit_unsupported";    /* no JWS extension is understood */
    goto out;
  }
  {
    const char *typ = str_member(hdr, "typ", &present, &bad, &tl);
    if(present && (!typ || tl != 3 || memcmp(typ, "JWT", 3))) {
      reason = "bad_typ";
      goto out;
    }
  }
  kid = str_member(hdr, "kid", &present, &bad, &kidlen);
  if(present && (!kid || kidlen == 0 || kidlen > JWT_KID_MAX)) {
    reason = "bad_kid";
    goto out;
  }
  if(!present && k->require_kid) {
    reason = "missing_kid";
    goto out;
  }

  /* The key decides: an algorithm is allowed only when a key of exactly
     that kind is configured. */
  if(alg == ALG_HS256) {
    if(!k->hs && !k->hs_raw) {
      reason = "alg_not_allowed";
      goto out;
    }
  }
  else {
    size_t found = 0, kid_seen = 0;
    if(!k->ks) {
      reason = k->jwks_configured ? "jwks_unavailable" : "alg_not_allowed";
      goto out;
    }
    for(i = 0; i < k->ks->n; i++) {
      const struct jwk_key *jk = &k->ks->keys[i];
      if(kid) {
        if(!jk->kid || strcmp(jk->kid, kid))
          continue;
        kid_seen++;
      }
      if(jk->alg == alg) {
        key = jk;
        found++;
      }
    }
    if(kid && !kid_seen) {
      reason = "unknown_kid";
      goto out;
    }
    if(kid && !found) {
      reason = "key_alg_mismatch";  /* e.g. RS256 header naming an EC key */
      goto out;
    }
    if(!kid && found != 1) {
      reason = found ? "missing_kid" : "alg_not_allowed";
      goto out;
    }
  }

  sl = len - dots[1] - 1;
  if(sl == 0) {
    reason = "bad_signature";       /* an unsigned token */
    goto out;
  }
  if(b64u_decode(token + dots[1] + 1, sl, sig, sizeof(sig), &sl)) {
    reason = "malformed";
    goto out;
  }
  if(alg == ALG_HS256) {
    unsigned char mac[32];
    int hr = hmac_sha256(k, token, dots[1], mac);
    bool ok = hr == 0 && sl == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    if(!ok) {
      reason = "bad_signature";
      goto out;
    }
  }
  else if(alg == ALG_RS256) {
    if(sl != (size_t)EVP_PKEY_get_size(key->pkey) ||
       !pkey_verify(key, sig, sl, token, dots[1])) {
      reason = "bad_signature";
      goto out;
    }
  }
  else if(!es256_verify(key, sig, sl, token, dots[1])) {
    reason = "bad_signature";
    goto out;
  }

  /* Signed: now the payload may be decoded and parsed. */
  if(b64u_decode(token + dots[0] + 1, dots[1] - dots[0] - 1, pbuf,
                 sizeof(pbuf) - 1, &pl)) {
    reason = "malformed";
    goto out;
  }
  if(raw_payload) {
    memcpy(raw_payload, pbuf, pl);
    *raw_len = pl;
  }
  if(payload_json) {
    *payload_json = vmb_json_parse((const char *)pbuf, pl, JWT_JSON_DEPTH);
    if(!*payload_json) {
      reason = "bad_claims";
      goto out;
    }
  }
out:
  json_object_put(hdr);
  return reason;
}

static bool int64_claim(json_object *c, const char *name, bool *present,
                        int64_t *v)
{
  json_object *o;
  *present = json_object_object_get_ex(c, name, &o);
  if(!*present)
    return true;
  if(json_object_is_type(o, json_type_int)) {
    *v = json_object_get_int64(o);
    return true;
  }
  if(json_object_is_type(o, json_type_double)) {
    double d = json_object_get_double(o);
    if(!isfinite(d) || d < -9.2e18 || d > 9.2e18)
      return false;
    *v = (int64_t)floor(d);
    return true;
  }
  return false;                     /* strings, booleans: not NumericDate */
}

static bool str_eq(const char *s, size_t len, const char *want)
{
  return s && len == strlen(want) && !memcmp(s, want, len);
}

/* Claims of a verified payload (BORROWED c) into id. Static reason or NULL. */
static const char *check_claims(json_object *c, int64_t now,
                                struct vmb_identity *id, int64_t *exp_out)
{
  int64_t exp = 0, nbf = 0, iat = 0;
  bool present, bad;
  size_t len = 0;
  const char *s;
  json_object *v;

  if(!json_object_is_type(c, json_type_object))
    return "bad_claims";
  if(!int64_claim(c, "exp", &present, &exp))
    return "bad_exp";
  if(!present)
    return "missing_exp";
  if(now - JWT_LEEWAY > exp)
    return "expired";
  if(!int64_claim(c, "nbf", &present, &nbf))
    return "bad_nbf";
  if(present && nbf > now + JWT_LEEWAY)
    return "not_yet_valid";
  if(!int64_claim(c, "iat", &present, &iat))
    return "bad_iat";
  if(present && iat > now + JWT_LEEWAY)
    return "iat_in_future";
  if(jw.validate_iss) {
    s = str_member(c, "iss", &present, &bad, &len);
    if(!str_eq(s, len, jw.issuer))
      return "bad_issuer";
  }
  if(jw.validate_aud) {
    bool ok = false;
    if(json_object_object_get_ex(c, "aud", &v) &&
       json_object_is_type(v, json_type_array)) {
      size_t i, n = json_object_array_length(v);
      for(i = 0; i < n && !ok; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        ok = json_object_is_type(e, json_type_string) &&
             str_eq(json_object_get_string(e),
                    (size_t)json_object_get_string_len(e), jw.audience);
      }
    }
    else {
      s = str_member(c, "aud", &present, &bad, &len);
      ok = str_eq(s, len, jw.audience);
    }
    if(!ok)
      return "bad_audience";
  }
  s = str_member(c, "sub", &present, &bad, &len);
  if(!s || len > VMB_SUBJECT_MAX || !vmb_subject_valid(s))
    return "bad_subject";
  memcpy(id->subject, s, len + 1);

  /* "scope" (RFC 8693 / 9068, space-separated) wins over "scopes". */
  if(json_object_object_get_ex(c, "scope", &v)) {
    if(!json_object_is_type(v, json_type_string))
      return "bad_scope";
    id->scopes = vmb_scopes_parse_text(json_object_get_string(v));
  }
  else if(json_object_object_get_ex(c, "scopes", &v)) {
    if(json_object_is_type(v, json_type_string)) {
      id->scopes = vmb_scopes_parse_text(json_object_get_string(v));
    }
    else if(json_object_is_type(v, json_type_array)) {
      size_t i, n = json_object_array_length(v);
      for(i = 0; i < n; i++)
        if(!json_object_is_type(json_object_array_get_idx(v, i),
                                json_type_string))
          return "bad_scope";
      id->scopes = vmb_scopes_parse_json(v);
    }
    else {
      return "bad_scope";
    }
  }
  else {
    id->scopes = 0;                 /* no scopes claimed: none granted */
  }
  *exp_out = exp;
  return NULL;
}

/* ---- public entry points ------------------------------------------------ */

int vmb_jwt_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  char ferr[256];
  vmb_jwt_cleanup();
  pthread_once(&cache_once, cache_init_once);
  atomic_store(&jw.cache_on, true);
  if(!cfg->auth_jwt_enabled)
    return 0;
  jw.validate_iss = cfg->jwt_validate_issuer;
  jw.validate_aud = cfg->jwt_validate_audience;
  jw.require_kid = cfg->jwt_require_kid;
  jw.cache_seconds = cfg->jwt_jwks_cache_seconds > 0 ?
                     cfg->jwt_jwks_cache_seconds : 300;
  jw.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  jw.issuer = strdup(cfg->jwt_issuer ? cfg->jwt_issuer : "");
  jw.audience = strdup(cfg->jwt_audience ? cfg->jwt_audience : "");
  if(!jw.sha256 || !jw.issuer || !jw.audience) {
    snprintf(err, errlen, "JWT: out of memory");
    goto fail;
  }

  if(cfg->jwt_hs256_secret && *cfg->jwt_hs256_secret) {
    size_t n = strlen(cfg->jwt_hs256_secret);
    EVP_MAC *mac = NULL;
    OSSL_PARAM params[2];
    if(n < 32) {
      snprintf(err, errlen, "invalid configuration: JWT_HS256_SECRET: must "
               "be at least 32 bytes");
      goto fail;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    jw.hs_tmpl = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);                /* the ctx holds its own reference */
    if(!jw.hs_tmpl ||
       EVP_MAC_init(jw.hs_tmpl, (const unsigned char *)cfg->jwt_hs256_secret,
                    n, params) != 1) {
      snprintf(err, errlen, "JWT: cannot set up HMAC-SHA256");
      goto fail;
    }
  }

  jw.jwks_plain_http = false;
  if(*cfg->jwt_jwks_url) {
    const char *u = cfg->jwt_jwks_url;
    if(!strncasecmp(u, "http://", 7)) {
      /* Keys fetched in clear text could be swapped on the way: http is
         accepted only to this host, and only when the operator says so. */
      const char *h = u + 7;
      bool loopback = !strncmp(h, "127.", 4) || !strncasecmp(h, "localhost", 9) ||
                      !strncmp(h, "[::1]", 5);
      if(loopback && !strncasecmp(h, "localhost", 9))
        loopback = h[9] == ':' || h[9] == '/' || h[9] == '\0';
      if(!loopback || !cfg->jwt_jwks_allow_http_loopback) {
        snprintf(err, errlen, "invalid configuration: JWT_JWKS_URL: must be https:// "
                 "(http:// only to a loopback address, with "
                 "JWT_JWKS_ALLOW_HTTP_LOOPBACK=true)");
        goto fail;
      }
      jw.jwks_plain_http = true;
    }
    else if(strncasecmp(u, "https://", 8)) {
      snprintf(err, errlen, "invalid configuration: JWT_JWKS_URL: must be an https:// URL");
      goto fail;
    }
  }
  if(*cfg->jwt_jwks_file && *cfg->jwt_jwks_url) {
    snprintf(err, errlen, "invalid configuration: JWT_JWKS_FILE and "
             "JWT_JWKS_URL: set only one");
    goto fail;
  }
  if(*cfg->jwt_jwks_file) {
    struct keyset *ks;
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(cfg->jwt_jwks_file, "rb");
    if(f) {
      text = malloc(JWKS_MAX_BYTES + 1);
      if(text)
        len = fread(text, 1, JWKS_MAX_BYTES + 1, f);
      fclose(f);
    }
    if(!text || len > JWKS_MAX_BYTES) {
      free(text);
      snprintf(err, errlen, "invalid configuration: JWT_JWKS_FILE: %s",
               f ? "unreadable or larger than 256 KiB" : strerror(errno));
      goto fail;
    }
    ks = keyset_parse(text, len, false, ferr, sizeof(ferr));
    free(text);
    if(!ks || ks->n == 0) {
      snprintf(err, errlen, "invalid configuration: JWT_JWKS_FILE: %s",
               ks ? "no usable RS256/ES256 signing key" : ferr);
      keyset_free(ks);
      goto fail;
    }
    ks_install(ks);
    jw.have_jwks = true;
  }
  else if(*cfg->jwt_jwks_url) {
    jw.jwks_url = strdup(cfg->jwt_jwks_url);
    /* https only, unless the operator allowed http to a loopback issuer
       (the keys decide who gets in). */
    memset(&jw.upstream, 0, sizeof(jw.upstream));
    jw.upstream.id = VMB_UPSTREAM_JWKS;
    jw.upstream.name = "jwks";
    jw.upstream.timeout_ms = 5000;
    jw.upstream.connect_timeout_ms = 3000;
    jw.upstream.reply_max = JWKS_MAX_BYTES;
    jw.upstream.protocols = jw.jwks_plain_http ? "http" : "https";
    if(!jw.jwks_url || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      snprintf(err, errlen, "JWT: cannot set up the JWKS fetch");
      goto fail;
    }
    jw.have_jwks = true;
    /* The issuer being down at start-up must not stop the bridge: tokens
       fail with jwks_unavailable until a later fetch succeeds. */
    pthread_mutex_lock(&fetch_lock);
    if(jwks_fetch_locked(NULL, ferr, sizeof(ferr)))
      fetch_failed_log(ferr);
    pthread_mutex_unlock(&fetch_lock);
  }

  jw.enabled = jw.hs_tmpl || jw.have_jwks;
  if(jw.enabled && ((jw.validate_iss && !*jw.issuer) ||
                    (jw.validate_aud && !*jw.audience))) {
    snprintf(err, errlen, "invalid configuration: JWT_ISSUER/JWT_AUDIENCE: "
             "empty while JWT_VALIDATE_ISSUER/AUDIENCE is true");
    goto fail;
  }
  return 0;
fail:
  vmb_jwt_cleanup();
  return -1;
}

void vmb_jwt_cleanup(void)
{
  struct keyset *old;
  pthread_rwlock_wrlock(&ks_lock);
  old = cur_ks;
  cur_ks = NULL;
  pthread_rwlock_unlock(&ks_lock);
  ks_release(old);
  atomic_fetch_add(&jw.gen_counter, 1);
  vmb_upstream_conns_close(&jw.conns);
  if(jw.jwks_url)
    curl_global_cleanup();
  EVP_MAC_CTX_free(jw.hs_tmpl);     /* frees the keyed state */
  EVP_MD_free(jw.sha256);
  free(jw.issuer);
  free(jw.audience);
  free(jw.jwks_url);
  jw.hs_tmpl = NULL;
  jw.sha256 = NULL;
  jw.issuer = jw.audience = jw.jwks_url = NULL;
  jw.enabled = jw.have_jwks = false;
  atomic_store(&jw.fetched_at, 0);
  atomic_store(&jw.last_attempt, 0);
  cache_flush();
}

enum vmb_auth_result vmb_jwt_check(const char *token, struct vmb_identity *id,
                                   const char **reason)
{
  return vmb_jwt_check_traced(token, NULL, id, reason);
}

enum vmb_auth_result vmb_jwt_check_traced(const char *token, const struct vmb_trace_ctx *trace,
                                          struct vmb_identity *id, const char **reason)
{
  unsigned char digest[32];
  struct keysrc k;
  struct keyset *ks = NULL;
  json_object *claims = NULL;       /* NEW from verify_signature */
  const char *why;
  size_t len;
  int64_t now = wall_now(), exp = 0;
  unsigned long gen;
  bool use_cache = atomic_load(&jw.cache_on), have_digest = false;

  if(!jw.enabled) {
    *reason = "jwt_not_configured";
    return VMB_AUTH_INVALID;
  }
  len = strnlen(token, JWT_MAX_LEN + 1);
  if(len > JWT_MAX_LEN) {
    *reason = "too_large";
    return VMB_AUTH_INVALID;
  }
  jwks_maybe_refresh(trace);
  /* The exact bytes are hashed; strict parsing below guarantees only the
     one canonical spelling of a token was ever verified and cached. */
  if(use_cache)
    have_digest = sha256_of(token, len, digest) == 0;
  if(have_digest && cache_lookup(digest, now, id)) {
    atomic_fetch_add(&jw.cache_hits, 1);
    id->authenticated = true;
    id->mode = "jwt";
    return VMB_AUTH_OK;
  }

  memset(&k, 0, sizeof(k));
  k.hs = jw.hs_tmpl;
  k.require_kid = jw.require_kid;
  k.jwks_configured = jw.have_jwks;
  ks = ks_acquire();
  gen = ks ? ks->gen : current_gen();
  k.ks = ks;
  why = verify_signature(token, len, &k, &claims, NULL, NULL);
  if((why && !strcmp(why, "unknown_kid")) ||
     (why && !strcmp(why, "jwks_unavailable"))) {
    if(jwks_refetch_for_kid(gen, trace)) {
      ks_release(ks);
      ks = ks_acquire();
      gen = ks ? ks->gen : current_gen();
      k.ks = ks;
      why = verify_signature(token, len, &k, &claims, NULL, NULL);
    }
  }
  ks_release(ks);
  if(!why)
    why = check_claims(claims, now, id, &exp);
  json_object_put(claims);
  if(why) {
    memset(id, 0, sizeof(*id));
    *reason = why;
    return VMB_AUTH_INVALID;
  }
  id->authenticated = true;
  id->mode = "jwt";
  id->expires_at = accepted_until(exp);
  if(have_digest)
    cache_insert(digest, exp, gen, id);
  return VMB_AUTH_OK;
}

/* ---- test and bench hooks (declared in auth.h) -------------------------- */

void vmb_jwt_set_time(long long now)
{
  atomic_store(&jw.fake_now, now);
}

void vmb_jwt_skew_fetch_clock(long long seconds)
{
  atomic_fetch_add(&jw.mono_skew, seconds);
}

void vmb_jwt_set_cache(bool on)
{
  atomic_store(&jw.cache_on, on);
  if(!on)
    cache_flush();
}

void vmb_jwt_stats(struct vmb_jwt_stats *st)
{
  struct keyset *ks = ks_acquire();
  st->fetches = atomic_load(&jw.fetches);
  st->fetch_failures = atomic_load(&jw.fetch_failures);
  st->cache_hits = atomic_load(&jw.cache_hits);
  st->keys = ks ? ks->n : 0;
  ks_release(ks);
}

long vmb_jwt_jwks_usable(const char *json, size_t len, bool single_jwk)
{
  char err[128];
  struct keyset *ks = keyset_parse(json, len, single_jwk, err, sizeof(err));
  long n = ks ? (long)ks->n : -1;
  keyset_free(ks);
  return n;
}

const char *vmb_jwt_verify_jwk(const char *token, const char *jwk_json,
                               unsigned char *payload, size_t payload_cap,
                               size_t *payload_len)
{
  unsigned char key[512], raw[JWT_PAYLOAD_MAX];
  struct keysrc k;
  struct keyset *ks = NULL;
  json_object *jwk = vmb_json_parse(jwk_json, strlen(jwk_json), JWT_JSON_DEPTH);
  json_object *kty;
  const char *why;
  size_t klen = 0, rl = 0;
  char err[128];

  memset(&k, 0, sizeof(k));
  if(!jwk || !json_object_object_get_ex(jwk, "kty", &kty)) {
    json_object_put(jwk);
    return "bad_key";
  }
  if(!strcmp(json_object_get_string(kty), "oct")) {
    /* Tests only: the production path never accepts an oct JWK. */
    json_object *kv;
    const char *ks_ = json_object_object_get_ex(jwk, "k", &kv) ?
                      json_object_get_string(kv) : "";
    if(b64u_decode(ks_, strlen(ks_), key, sizeof(key), &klen) || klen == 0) {
      json_object_put(jwk);
      return "bad_key";
    }
    k.hs_raw = key;
    k.hs_raw_len = klen;
  }
  else {
    /* An unusable key (P-521, RSA-1024) leaves an empty set: the token
       is then refused by the same rules as in production. */
    ks = keyset_parse(jwk_json, strlen(jwk_json), true, err, sizeof(err));
    if(!ks) {
      json_object_put(jwk);
      return "bad_key";
    }
    k.ks = ks;
  }
  json_object_put(jwk);
  why = verify_signature(token, strlen(token), &k, NULL, raw, &rl);
  OPENSSL_cleanse(key, sizeof(key));
  keyset_free(ks);
  if(!why && payload) {
    if(rl > payload_cap)
      return "too_large";
    memcpy(payload, raw, rl);
    *payload_len = rl;
  }
  return why;
}
