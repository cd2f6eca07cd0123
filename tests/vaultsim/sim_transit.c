/*
** vault-sim Transit secrets engine (CONTRACT §7) with real OpenSSL
** cryptography, plus the random-bytes and hash tools that sys/tools
** shares with it.
**
** Ciphertexts are "vault:v<N>:" + std base64 of nonce||ciphertext||tag
** (AEAD types) or of the raw RSA-OAEP output. Signatures follow the asn1
** and jws marshalings. Every base64 input is decoded with Go's
** StdEncoding rules (sim_util.c) so error offsets match Vault.
*/
#include <ctype.h>
#include "sim.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DERIVED_MSG                                                         \
  "missing 'context' for key derivation; the key was created using a "     \
  "derived key, which means additional, per-request information must be " \
  "included in order to perform operations with the key"

enum kt { KT_AES128, KT_AES256, KT_CHACHA, KT_ED25519, KT_P256, KT_P384,
          KT_P521, KT_RSA2048, KT_RSA3072, KT_RSA4096, KT_HMAC };

static const struct ktinfo {
  const char *name;
  enum kt kt;
  int enc, sign, derive;
} KTYPES[] = {
    {"aes128-gcm96", KT_AES128, 1, 0, 1},
    {"aes256-gcm96", KT_AES256, 1, 0, 1},
    {"chacha20-poly1305", KT_CHACHA, 1, 0, 1},
    {"ed25519", KT_ED25519, 0, 1, 1},
    {"ecdsa-p256", KT_P256, 0, 1, 0},
    {"ecdsa-p384", KT_P384, 0, 1, 0},
    {"ecdsa-p521", KT_P521, 0, 1, 0},
    {"rsa-2048", KT_RSA2048, 1, 1, 0},
    {"rsa-3072", KT_RSA3072, 1, 1, 0},
    {"rsa-4096", KT_RSA4096, 1, 1, 0},
    {"hmac", KT_HMAC, 0, 0, 0},
};

struct tver {
  struct timespec created;
  unsigned char key[32];
  size_t keylen;
  unsigned char hmac[32];
  EVP_PKEY *pk;
};

struct tkey {
  char *name;
  const struct ktinfo *t;
  int derived, convergent, exportable, plaintext_backup, deletion_allowed;
  int64_t min_dec, min_enc, auto_rotate;
  struct tver *v; /* v[i] is version i+1 */
  size_t nv;
};

struct transit_state {
  struct smap *keys;
  int disable_upsert;
};

static const struct ktinfo *ktype(const char *name)
{
  for (size_t i = 0; i < sizeof KTYPES / sizeof KTYPES[0]; i++)
    if (strcmp(KTYPES[i].name, name) == 0)
      return &KTYPES[i];
  return NULL;
}

static int is_rsa(const struct tkey *k)
{
  return k->t->kt == KT_RSA2048 || k->t->kt == KT_RSA3072 ||
         k->t->kt == KT_RSA4096;
}

static int is_ec(const struct tkey *k)
{
  return k->t->kt == KT_P256 || k->t->kt == KT_P384 || k->t->kt == KT_P521;
}

static int is_aead(const struct tkey *k)
{
  return k->t->kt == KT_AES128 || k->t->kt == KT_AES256 ||
         k->t->kt == KT_CHACHA;
}

static void key_free(void *p)
{
  struct tkey *k = p;
  if (!k)
    return;
  for (size_t i = 0; i < k->nv; i++) {
    OPENSSL_cleanse(k->v[i].key, sizeof k->v[i].key);
    OPENSSL_cleanse(k->v[i].hmac, sizeof k->v[i].hmac);
    EVP_PKEY_free(k->v[i].pk);
  }
  free(k->v);
  free(k->name);
  free(k);
}

static void *tr_create(struct sim_mount *m)
{
  (void)m;
  struct transit_state *s = xcalloc(1, sizeof *s);
  s->keys = smap_new(key_free);
  return s;
}

static void tr_destroy(void *p)
{
  struct transit_state *s = p;
  if (!s)
    return;
  smap_free(s->keys);
  free(s);
}

/* Adds a fresh version; returns -1 on a crypto failure. */
static int add_version(struct tkey *k, struct timespec now)
{
  struct tver *nv = realloc(k->v, (k->nv + 1) * sizeof *nv);
  if (!nv)
    abort();
  k->v = nv;
  struct tver *v = &k->v[k->nv];
  memset(v, 0, sizeof *v);
  v->created = now;
  rand_bytes(v->hmac, sizeof v->hmac);
  switch (k->t->kt) {
  case KT_AES128:
    v->keylen = 16;
    break;
  case KT_AES256:
  case KT_CHACHA:
  case KT_HMAC:
    v->keylen = 32;
    break;
  case KT_ED25519:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    break;
  case KT_P256:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    break;
  case KT_P384:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    break;
  case KT_P521:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    break;
  case KT_RSA2048:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    break;
  case KT_RSA3072:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    break;
  case KT_RSA4096:
    v->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
    break;
  }
  if (v->keylen)
    rand_bytes(v->key, v->keylen);
  else if (!v->pk)
    return -1;
  k->nv++;
  return 0;
}

static char *pubkey_pem(EVP_PKEY *pk)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (b && PEM_write_bio_PUBKEY(b, pk) == 1) {
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n > 0)
      out = xstrndup(p, (size_t)n);
  }
  BIO_free(b);
  return out ? out : xstrdup("");
}

static json_object *key_json(const struct tkey *k)
{
  json_object *d = json_object_new_object();
  json_object_object_add(d, "allow_plaintext_backup",
                         json_object_new_boolean(k->plaintext_backup));
  json_object_object_add(d, "auto_rotate_period",
                         json_object_new_int64(k->auto_rotate));
  json_object_object_add(d, "deletion_allowed",
                         json_object_new_boolean(k->deletion_allowed));
  json_object_object_add(d, "derived", json_object_new_boolean(k->derived));
  json_object_object_add(d, "exportable", json_object_new_boolean(k->exportable));
  json_object_object_add(d, "imported_key", json_object_new_boolean(0));
  json_object *keys = json_object_new_object();
  for (size_t i = 0; i < k->nv; i++) {
    char ver[24];
    snprintf(ver, sizeof ver, "%zu", i + 1);
    if (!k->v[i].pk) {
      json_object_object_add(keys, ver,
                             json_object_new_int64(ts_sec(k->v[i].created)));
      continue;
    }
    json_object *e = json_object_new_object();
    char ts[40];
    fmt_rfc3339(k->v[i].created, ts);
    json_object_object_add(e, "certificate_chain", json_object_new_string(""));
    json_object_object_add(e, "creation_time", json_object_new_string(ts));
    const char *nm = k->t->kt == KT_ED25519 ? "ed25519"
                     : k->t->kt == KT_P256  ? "P-256"
                     : k->t->kt == KT_P384  ? "P-384"
                     : k->t->kt == KT_P521  ? "P-521"
                                            : k->t->name;
    json_object_object_add(e, "name", json_object_new_string(nm));
    char *pub = NULL;
    if (k->t->kt == KT_ED25519) {
      unsigned char raw[32];
      size_t rl = sizeof raw;
      if (!k->derived &&
          EVP_PKEY_get_raw_public_key(k->v[i].pk, raw, &rl) == 1)
        pub = b64_std_encode(raw, rl);
      else
        pub = xstrdup("");
    } else {
      pub = pubkey_pem(k->v[i].pk);
    }
    json_object_object_add(e, "public_key", json_object_new_string(pub));
    free(pub);
    json_object_object_add(keys, ver, e);
  }
  json_object_object_add(d, "keys", keys);
  if (k->derived) {
    json_object_object_add(d, "kdf", json_object_new_string("hkdf_sha256"));
    json_object_object_add(d, "convergent_encryption",
                           json_object_new_boolean(k->convergent));
    if (k->convergent)
      json_object_object_add(d, "convergent_encryption_version",
                             json_object_new_int(3));
  }
  json_object_object_add(d, "latest_version", json_object_new_int64((int64_t)k->nv));
  json_object_object_add(d, "min_available_version", json_object_new_int(0));
  json_object_object_add(d, "min_decryption_version",
                         json_object_new_int64(k->min_dec));
  json_object_object_add(d, "min_encryption_version",
                         json_object_new_int64(k->min_enc));
  json_object_object_add(d, "name", json_object_new_string(k->name));
  json_object_object_add(d, "supports_decryption",
                         json_object_new_boolean(k->t->enc));
  json_object_object_add(d, "supports_derivation",
                         json_object_new_boolean(k->t->derive));
  json_object_object_add(d, "supports_encryption",
                         json_object_new_boolean(k->t->enc));
  json_object_object_add(d, "supports_signing",
                         json_object_new_boolean(k->t->sign));
  json_object_object_add(d, "type", json_object_new_string(k->t->name));
  return d;
}

/* Creates a key; NULL with r filled on error. */
static struct tkey *key_create(struct transit_state *s, const char *name,
                               const char *type, int derived, int convergent,
                               struct sim_req *q, struct sim_resp *r)
{
  const struct ktinfo *t = ktype(*type ? type : "aes256-gcm96");
  if (!t) {
    resp_err(r, 400, "unknown key type %s", type);
    return NULL;
  }
  if (convergent && !derived) {
    resp_err(r, 400, "convergent encryption requires derivation to be enabled");
    return NULL;
  }
  if (derived && !t->derive) {
    resp_err(r, 400, "key derivation and convergent encryption not supported "
                     "for keys of type %s", t->name);
    return NULL;
  }
  if (convergent && !is_aead(&(struct tkey){.t = t})) {
    resp_err(r, 400, "convergent encryption not supported for keys of type %s",
             t->name);
    return NULL;
  }
  struct tkey *k = xcalloc(1, sizeof *k);
  k->name = xstrdup(name);
  k->t = t;
  k->derived = derived;
  k->convergent = convergent;
  k->min_dec = 1;
  if (add_version(k, q->now) < 0) {
    key_free(k);
    resp_multierr(r, 500, "internal error");
    return NULL;
  }
  smap_put(s->keys, name, k);
  return k;
}

/* ---- crypto helpers ------------------------------------------------------------ */

static int hkdf(const unsigned char *key, size_t keylen,
                const unsigned char *info, size_t infolen, unsigned char *out,
                size_t outlen)
{
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
  int ok = c && EVP_PKEY_derive_init(c) > 0 &&
           EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set1_hkdf_key(c, key, (int)keylen) > 0 &&
           EVP_PKEY_CTX_add1_hkdf_info(c, info, (int)infolen) > 0 &&
           EVP_PKEY_derive(c, out, &outlen) > 0;
  EVP_PKEY_CTX_free(c);
  return ok ? 0 : -1;
}

static const EVP_CIPHER *aead_cipher(const struct tkey *k)
{
  return k->t->kt == KT_AES128   ? EVP_aes_128_gcm()
         : k->t->kt == KT_AES256 ? EVP_aes_256_gcm()
                                 : EVP_chacha20_poly1305();
}

/* Per-request key material for AEAD types: derived or the raw key. */
static int aead_key(const struct tkey *k, const struct tver *v,
                    const unsigned char *ctx, size_t ctxlen,
                    unsigned char key[32], unsigned char hkey[32])
{
  if (!k->derived) {
    memcpy(key, v->key, v->keylen);
    memcpy(hkey, v->hmac, 32);
    return 0;
  }
  unsigned char buf[64];
  if (hkdf(v->key, v->keylen, ctx, ctxlen, buf, v->keylen + 32) < 0)
    return -1;
  memcpy(key, buf, v->keylen);
  memcpy(hkey, buf + v->keylen, 32);
  OPENSSL_cleanse(buf, sizeof buf);
  return 0;
}

static int aead_seal(const struct tkey *k, const unsigned char *key,
                     const unsigned char nonce[12], const unsigned char *aad,
                     size_t aadlen, const unsigned char *pt, size_t ptlen,
                     unsigned char *out /* ptlen + 16 */)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, ok = c && EVP_EncryptInit_ex(c, aead_cipher(k), NULL, NULL, NULL) &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
                  EVP_EncryptInit_ex(c, NULL, NULL, key, nonce);
  if (ok && aadlen)
    ok = EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen);
  if (ok && ptlen)
    ok = EVP_EncryptUpdate(c, out, &n, pt, (int)ptlen);
  ok = ok && EVP_EncryptFinal_ex(c, out + ptlen, &n) &&
       EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + ptlen);
  EVP_CIPHER_CTX_free(c);
  return ok ? 0 : -1;
}

static int aead_open(const struct tkey *k, const unsigned char *key,
                     const unsigned char *nonce, const unsigned char *aad,
                     size_t aadlen, const unsigned char *ct, size_t ctlen,
                     unsigned char *out /* ctlen - 16 */)
{
  if (ctlen < 16)
    return -1;
  size_t ptlen = ctlen - 16;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, ok = c && EVP_DecryptInit_ex(c, aead_cipher(k), NULL, NULL, NULL) &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
                  EVP_DecryptInit_ex(c, NULL, NULL, key, nonce);
  if (ok && aadlen)
    ok = EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen);
  if (ok && ptlen)
    ok = EVP_DecryptUpdate(c, out, &n, ct, (int)ptlen);
  ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16,
                                 (void *)(ct + ptlen)) &&
       EVP_DecryptFinal_ex(c, out + ptlen, &n) > 0;
  EVP_CIPHER_CTX_free(c);
  return ok ? 0 : -1;
}

static int rsa_crypt(EVP_PKEY *pk, int enc, const unsigned char *in,
                     size_t inlen, unsigned char **out, size_t *outlen)
{
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
  int ok = c && (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
           EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0;
  size_t n = 0;
  if (ok)
    ok = (enc ? EVP_PKEY_encrypt(c, NULL, &n, in, inlen)
              : EVP_PKEY_decrypt(c, NULL, &n, in, inlen)) > 0;
  *out = ok ? xcalloc(n + 1, 1) : NULL;
  if (ok)
    ok = (enc ? EVP_PKEY_encrypt(c, *out, &n, in, inlen)
              : EVP_PKEY_decrypt(c, *out, &n, in, inlen)) > 0;
  EVP_PKEY_CTX_free(c);
  if (!ok) {
    free(*out);
    *out = NULL;
    return -1;
  }
  *outlen = n;
  return 0;
}

static const EVP_MD *hash_md(const char *name, int *none)
{
  *none = 0;
  static const struct {
    const char *n;
    const EVP_MD *(*f)(void);
  } t[] = {{"sha1", EVP_sha1},         {"sha2-224", EVP_sha224},
           {"sha2-256", EVP_sha256},   {"sha2-384", EVP_sha384},
           {"sha2-512", EVP_sha512},   {"sha3-224", EVP_sha3_224},
           {"sha3-256", EVP_sha3_256}, {"sha3-384", EVP_sha3_384},
           {"sha3-512", EVP_sha3_512}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].n) == 0)
      return t[i].f();
  if (strcmp(name, "none") == 0) {
    *none = 1;
    return NULL;
  }
  return NULL;
}

/* ---- request helpers ----------------------------------------------------------- */

static const char *istr(json_object *item, const char *name)
{
  json_object *v = NULL;
  if (!item || !json_object_object_get_ex(item, name, &v))
    return "";
  return json_as_str(v);
}

static int ihas(json_object *item, const char *name)
{
  json_object *v = NULL;
  return item && json_object_object_get_ex(item, name, &v) && v &&
         !json_object_is_type(v, json_type_null);
}

static int64_t iint(json_object *item, const char *name)
{
  int64_t v = 0;
  const char *s = istr(item, name);
  if (*s && parse_int64(s, &v) == 0)
    return v;
  return 0;
}

/* Go-style decode with Vault's message; *err is new on failure. */
static int b64_field(const char *s, unsigned char **out, size_t *n,
                     char **err, const char *prefix)
{
  size_t bad = 0;
  if (b64_std_decode(s, strlen(s), out, n, &bad) < 0) {
    *err = xasprintf("%sillegal base64 data at input byte %zu", prefix, bad);
    return -1;
  }
  return 0;
}

/* Parses "vault:vN:payload". Sets *ver and *payload (borrowed). */
static int parse_versioned(const char *s, const char *what, int64_t *ver,
                           const char **payload, char **err)
{
  if (!str_has_prefix(s, "vault:")) {
    *err = xasprintf("invalid %s: no prefix", what);
    return -1;
  }
  const char *p = s + 6;
  const char *colon = strchr(p, ':');
  if (!colon) {
    *err = xasprintf("invalid %s: wrong number of fields", what);
    return -1;
  }
  char num[32];
  size_t nl = (size_t)(colon - p);
  if (nl < 1 || nl >= sizeof num || p[0] != 'v') {
    *err = xasprintf("invalid %s: version number could not be decoded", what);
    return -1;
  }
  memcpy(num, p + 1, nl - 1);
  num[nl - 1] = 0;
  if (parse_int64(num, ver) < 0) {
    *err = xasprintf("invalid %s: version number could not be decoded", what);
    return -1;
  }
  if (*ver == 0)
    *ver = 1;
  *payload = colon + 1;
  return 0;
}

/* ---- encrypt / decrypt ------------------------------------------------------------ */

static char *do_encrypt(struct tkey *k, json_object *item, int64_t *used_ver,
                        char **err)
{
  unsigned char *pt = NULL, *ctx = NULL, *aad = NULL;
  size_t ptlen = 0, ctxlen = 0, aadlen = 0;
  char *out = NULL;
  if (ihas(item, "context") &&
      b64_field(istr(item, "context"), &ctx, &ctxlen, err, "") < 0)
    goto done;
  if (ihas(item, "nonce") && *istr(item, "nonce")) {
    *err = xstrdup("nonce provided when not allowed");
    goto done;
  }
  if (!k->t->enc) {
    *err = xasprintf("message encryption not supported for key type %s",
                     k->t->name);
    goto done;
  }
  if (k->derived && ctxlen == 0) {
    *err = xstrdup(DERIVED_MSG);
    goto done;
  }
  int64_t ver = iint(item, "key_version");
  if (ver == 0)
    ver = (int64_t)k->nv;
  if (ver > (int64_t)k->nv) {
    *err = xstrdup("requested version for encryption is higher than the "
                   "latest key version");
    goto done;
  }
  if (ver < k->min_enc || ver < 0) {
    *err = xstrdup("requested version for encryption is less than the "
                   "minimum encryption key version");
    goto done;
  }
  if (b64_field(istr(item, "plaintext"), &pt, &ptlen, err, "") < 0)
    goto done;
  if (ihas(item, "associated_data") &&
      b64_field(istr(item, "associated_data"), &aad, &aadlen, err, "") < 0)
    goto done;
  struct tver *v = &k->v[ver - 1];
  unsigned char *blob = NULL;
  size_t bloblen = 0;
  if (is_rsa(k)) {
    if (rsa_crypt(v->pk, 1, pt, ptlen, &blob, &bloblen) < 0) {
      *err = xstrdup("failed to RSA encrypt the plaintext");
      goto done;
    }
  } else {
    unsigned char key[32], hkey[32], nonce[12];
    if (aead_key(k, v, ctx, ctxlen, key, hkey) < 0) {
      *err = xstrdup("internal error");
      goto done;
    }
    if (k->convergent) {
      /* Same plaintext and context -> same nonce -> same ciphertext. */
      unsigned char mac[32];
      unsigned int ml = 0;
      HMAC(EVP_sha256(), hkey, 32, pt, ptlen, mac, &ml);
      memcpy(nonce, mac, 12);
    } else {
      rand_bytes(nonce, 12);
    }
    bloblen = 12 + ptlen + 16;
    blob = xcalloc(bloblen, 1);
    memcpy(blob, nonce, 12);
    int rc = aead_seal(k, key, nonce, aad, aadlen, pt, ptlen, blob + 12);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(hkey, sizeof hkey);
    if (rc < 0) {
      free(blob);
      *err = xstrdup("internal error");
      goto done;
    }
  }
  char *b = b64_std_encode(blob, bloblen);
  out = xasprintf("vault:v%lld:%s", (long long)ver, b);
  free(b);
  free(blob);
  *used_ver = ver;
done:
  if (pt)
    OPENSSL_cleanse(pt, ptlen);
  free(pt);
  free(ctx);
  free(aad);
  return out;
}

/* Returns base64 plaintext (new) or NULL with *err. */
static char *do_decrypt(struct tkey *k, json_object *item, char **err)
{
  unsigned char *ctx = NULL, *aad = NULL, *blob = NULL, *pt = NULL;
  size_t ctxlen = 0, aadlen = 0, bloblen = 0, ptlen = 0;
  char *out = NULL;
  const char *ctext = istr(item, "ciphertext");
  if (ihas(item, "context") &&
      b64_field(istr(item, "context"), &ctx, &ctxlen, err, "") < 0)
    goto done;
  if (!k->t->enc) {
    *err = xasprintf("message decryption not supported for key type %s",
                     k->t->name);
    goto done;
  }
  if (k->derived && ctxlen == 0) {
    *err = xstrdup(DERIVED_MSG);
    goto done;
  }
  int64_t ver = 0;
  const char *payload = NULL;
  if (parse_versioned(ctext, "ciphertext", &ver, &payload, err) < 0)
    goto done;
  if (ver > (int64_t)k->nv) {
    *err = xstrdup("invalid ciphertext: version is too new");
    goto done;
  }
  if (k->min_dec > 0 && ver < k->min_dec) {
    *err = xstrdup("ciphertext or signature version is disallowed by policy "
                   "(too old)");
    goto done;
  }
  if (b64_std_decode(payload, strlen(payload), &blob, &bloblen, NULL) < 0) {
    *err = xstrdup("invalid ciphertext: could not decode base64");
    goto done;
  }
  if (ihas(item, "associated_data") &&
      b64_field(istr(item, "associated_data"), &aad, &aadlen, err, "") < 0)
    goto done;
  struct tver *v = &k->v[ver - 1];
  if (is_rsa(k)) {
    if (rsa_crypt(v->pk, 0, blob, bloblen, &pt, &ptlen) < 0) {
      *err = xstrdup("failed to RSA decrypt the ciphertext: crypto/rsa: "
                     "decryption error");
      goto done;
    }
  } else {
    if (bloblen < 12) {
      *err = xstrdup("invalid ciphertext length");
      goto done;
    }
    unsigned char key[32], hkey[32];
    if (aead_key(k, v, ctx, ctxlen, key, hkey) < 0) {
      *err = xstrdup("internal error");
      goto done;
    }
    pt = xcalloc(bloblen, 1);
    int rc = bloblen >= 28 ? aead_open(k, key, blob, aad, aadlen, blob + 12,
                                       bloblen - 12, pt)
                           : -1;
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(hkey, sizeof hkey);
    if (rc < 0) {
      *err = xstrdup("cipher: message authentication failed");
      goto done;
    }
    ptlen = bloblen - 28;
  }
  out = b64_std_encode(pt, ptlen);
done:
  if (pt)
    OPENSSL_cleanse(pt, ptlen);
  free(pt);
  free(ctx);
  free(aad);
  free(blob);
  return out;
}

/* The batch input, or NULL for a single request. -1: bad input. */
static int get_batch(struct sim_req *q, struct sim_resp *r, json_object **b)
{
  *b = req_get(q, "batch_input");
  if (!*b || json_object_is_type(*b, json_type_null)) {
    *b = NULL;
    return 0;
  }
  if (!json_object_is_type(*b, json_type_array)) {
    resp_err(r, 400, "failed to parse batch input: expected a list");
    return -1;
  }
  if (json_object_array_length(*b) == 0) {
    resp_err(r, 400, "missing batch input to process");
    return -1;
  }
  for (size_t i = 0; i < json_object_array_length(*b); i++)
    if (!json_object_is_type(json_object_array_get_idx(*b, i),
                             json_type_object)) {
      resp_err(r, 400, "failed to parse batch input: items must be objects");
      return -1;
    }
  return 1;
}

/* "context should be set either in all the request blocks or in none" */
static int context_consistent(json_object *batch)
{
  size_t n = json_object_array_length(batch), with = 0;
  for (size_t i = 0; i < n; i++)
    with += ihas(json_object_array_get_idx(batch, i), "context");
  return with == 0 || with == n;
}

/* Finishes a batch: 200, or 400/500 for encrypt/decrypt failures. */
static void batch_done(struct sim_req *q, struct sim_resp *r,
                       json_object *results, int fails, int oks, int strict)
{
  json_object *d = json_object_new_object();
  json_object_object_add(d, "batch_results", results);
  int status = 200;
  if (strict && fails) {
    status = 400;
    int64_t pf = 0;
    if (oks && req_int(q, r, "partial_failure_response_code", 0, &pf) > 0 &&
        pf >= 200 && pf < 600)
      status = (int)pf;
  }
  resp_data(r, status, d);
}

static const char *const k_encrypt[] = {
    "plaintext", "context", "nonce", "key_version", "type",
    "convergent_encryption", "batch_input", "associated_data",
    "partial_failure_response_code", "padding_scheme", NULL};

static void encrypt(struct transit_state *s, const char *name,
                    struct sim_req *q, struct sim_resp *r)
{
  json_object *batch = NULL;
  int isb = get_batch(q, r, &batch);
  if (isb < 0)
    return;
  if (!isb && !req_has(q, "plaintext")) {
    resp_err(r, 400, "missing plaintext to encrypt");
    return;
  }
  if (isb && !context_consistent(batch)) {
    resp_err(r, 400, "context should be set either in all the request blocks "
                     "or in none");
    return;
  }
  struct tkey *k = smap_get(s->keys, name);
  if (!k) {
    if (q->op != SIM_OP_CREATE || s->disable_upsert) {
      resp_err(r, 400, "encryption key not found");
      return;
    }
    const char *type = "";
    req_str(q, "type", &type);
    int conv = 0;
    if (req_bool(q, r, "convergent_encryption", 0, &conv) < 0)
      return;
    int derived = isb ? ihas(json_object_array_get_idx(batch, 0), "context")
                      : req_has(q, "context");
    k = key_create(s, name, type, derived, conv, q, r);
    if (!k)
      return;
  }
  if (!isb) {
    char *err = NULL;
    int64_t ver = 0;
    char *ct = do_encrypt(k, q->data, &ver, &err);
    if (!ct) {
      resp_err(r, 400, "%s", err);
      free(err);
      return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "ciphertext", json_object_new_string(ct));
    json_object_object_add(d, "key_version", json_object_new_int64(ver));
    free(ct);
    resp_data(r, 200, d);
    return;
  }
  json_object *res = json_object_new_array();
  int fails = 0, oks = 0;
  for (size_t i = 0; i < json_object_array_length(batch); i++) {
    json_object *it = json_object_array_get_idx(batch, i);
    json_object *o = json_object_new_object();
    char *err = NULL;
    int64_t ver = 0;
    char *ct = do_encrypt(k, it, &ver, &err);
    if (ct) {
      json_object_object_add(o, "ciphertext", json_object_new_string(ct));
      json_object_object_add(o, "key_version", json_object_new_int64(ver));
      oks++;
    } else {
      json_object_object_add(o, "error", json_object_new_string(err));
      fails++;
    }
    json_object_object_add(o, "reference",
                           json_object_new_string(istr(it, "reference")));
    free(ct);
    free(err);
    json_object_array_add(res, o);
  }
  batch_done(q, r, res, fails, oks, 1);
}

static const char *const k_decrypt[] = {
    "ciphertext", "context", "nonce", "key_version", "batch_input",
    "associated_data", "partial_failure_response_code", "padding_scheme",
    "decrypt_padding_scheme", "encrypt_padding_scheme", NULL};

static void decrypt_or_rewrap(struct transit_state *s, const char *name,
                              int rewrap, struct sim_req *q,
                              struct sim_resp *r)
{
  json_object *batch = NULL;
  int isb = get_batch(q, r, &batch);
  if (isb < 0)
    return;
  if (!isb && !req_has(q, "ciphertext")) {
    resp_err(r, 400, "missing ciphertext to decrypt");
    return;
  }
  if (isb && !context_consistent(batch)) {
    resp_err(r, 400, "context should be set either in all the request blocks "
                     "or in none");
    return;
  }
  struct tkey *k = smap_get(s->keys, name);
  if (!k) {
    resp_err(r, 400, "encryption key not found");
    return;
  }
  size_t n = isb ? json_object_array_length(batch) : 1;
  json_object *res = json_object_new_array();
  int fails = 0, oks = 0;
  for (size_t i = 0; i < n; i++) {
    json_object *it = isb ? json_object_array_get_idx(batch, i) : q->data;
    json_object *o = json_object_new_object();
    char *err = NULL, *pt = do_decrypt(k, it, &err);
    if (pt && rewrap) {
      /* Re-encrypt the recovered plaintext with the wanted version. */
      json_object *tmp = json_object_new_object();
      json_object_object_add(tmp, "plaintext", json_object_new_string(pt));
      if (ihas(it, "context"))
        json_object_object_add(tmp, "context",
                               json_object_new_string(istr(it, "context")));
      json_object_object_add(tmp, "key_version",
                             json_object_new_int64(iint(it, "key_version")));
      int64_t ver = 0;
      char *ct = do_encrypt(k, tmp, &ver, &err);
      json_object_put(tmp);
      OPENSSL_cleanse(pt, strlen(pt));
      free(pt);
      pt = NULL;
      if (ct) {
        json_object_object_add(o, "ciphertext", json_object_new_string(ct));
        json_object_object_add(o, "key_version", json_object_new_int64(ver));
        free(ct);
        oks++;
      } else {
        json_object_object_add(o, "error", json_object_new_string(err));
        fails++;
      }
    } else if (pt) {
      json_object_object_add(o, "plaintext", json_object_new_string(pt));
      OPENSSL_cleanse(pt, strlen(pt));
      free(pt);
      oks++;
    } else {
      json_object_object_add(o, "error", json_object_new_string(err));
      fails++;
    }
    if (isb)
      json_object_object_add(o, "reference",
                             json_object_new_string(istr(it, "reference")));
    if (!isb && err) {
      json_object_put(o);
      json_object_put(res);
      resp_err(r, 400, "%s", err);
      free(err);
      return;
    }
    free(err);
    json_object_array_add(res, o);
  }
  if (!isb) {
    json_object *d = json_object_get(json_object_array_get_idx(res, 0));
    json_object_put(res);
    resp_data(r, 200, d);
    return;
  }
  batch_done(q, r, res, fails, oks, !rewrap);
}

/* ---- sign / verify ------------------------------------------------------------- */

struct sign_opts {
  const EVP_MD *md;
  int none;
  int jws;
  int pkcs1;
  int prehashed;
  int salt; /* RSA_PSS_SALTLEN_* or explicit */
};

/* Parses hash/marshaling/signature options; -1 with r filled. */
static int sign_options(const char *urlhash, struct sim_req *q,
                        struct sim_resp *r, struct sign_opts *o)
{
  memset(o, 0, sizeof *o);
  const char *h = "", *mar = "", *sa = "", *salt = "";
  req_str(q, "hash_algorithm", &h);
  if (!*h)
    req_str(q, "algorithm", &h);
  if (urlhash && *urlhash)
    h = urlhash;
  if (!*h)
    h = "sha2-256";
  o->md = hash_md(h, &o->none);
  if (!o->md && !o->none) {
    resp_err(r, 400, "invalid hash algorithm \"%s\"", h);
    return -1;
  }
  req_str(q, "marshaling_algorithm", &mar);
  if (!*mar || strcmp(mar, "asn1") == 0)
    o->jws = 0;
  else if (strcmp(mar, "jws") == 0)
    o->jws = 1;
  else {
    resp_err(r, 400, "invalid marshaling type \"%s\"", mar);
    return -1;
  }
  if (req_bool(q, r, "prehashed", 0, &o->prehashed) < 0)
    return -1;
  req_str(q, "signature_algorithm", &sa);
  if (!*sa || strcmp(sa, "pss") == 0)
    o->pkcs1 = 0;
  else if (strcmp(sa, "pkcs1v15") == 0)
    o->pkcs1 = 1;
  else {
    resp_err(r, 400, "unsupported signature algorithm %s", sa);
    return -1;
  }
  req_str(q, "salt_length", &salt);
  int64_t sl;
  if (!*salt || strcmp(salt, "auto") == 0)
    o->salt = RSA_PSS_SALTLEN_AUTO;
  else if (strcmp(salt, "hash") == 0)
    o->salt = RSA_PSS_SALTLEN_DIGEST;
  else if (parse_int64(salt, &sl) == 0 && sl >= 0 && sl < 100000)
    o->salt = (int)sl;
  else {
    resp_err(r, 400, "invalid salt_length: %s", salt);
    return -1;
  }
  if (o->none && (!o->prehashed || !o->pkcs1)) {
    resp_err(r, 400, "hash_algorithm=none requires both prehashed=true and "
                     "signature_algorithm=pkcs1v15");
    return -1;
  }
  return 0;
}

static int ec_size(const struct tkey *k)
{
  return k->t->kt == KT_P256 ? 32 : k->t->kt == KT_P384 ? 48 : 66;
}

/* The bytes the private-key operation sees: the digest for ECDSA/RSA
** (unless prehashed), the raw input for ed25519. */
static int sign_digest(const struct tkey *k, const struct sign_opts *o,
                       const unsigned char *in, size_t inlen,
                       unsigned char *dg, size_t *dglen)
{
  if (o->prehashed || o->none) {
    if (inlen > EVP_MAX_MD_SIZE)
      return -1;
    memcpy(dg, in, inlen);
    *dglen = inlen;
    return 0;
  }
  (void)k;
  unsigned int n = 0;
  if (EVP_Digest(in, inlen, dg, &n, o->md, NULL) != 1)
    return -1;
  *dglen = n;
  return 0;
}

static int pkey_ctx_setup(EVP_PKEY_CTX *c, const struct tkey *k,
                          const struct sign_opts *o, int verify)
{
  if (!is_rsa(k))
    return 1;
  if (EVP_PKEY_CTX_set_rsa_padding(c, o->pkcs1 ? RSA_PKCS1_PADDING
                                               : RSA_PKCS1_PSS_PADDING) <= 0)
    return 0;
  if (!o->none && EVP_PKEY_CTX_set_signature_md(c, o->md) <= 0)
    return 0;
  if (!o->pkcs1) {
    int salt = o->salt;
    if (salt == RSA_PSS_SALTLEN_AUTO && !verify)
      salt = RSA_PSS_SALTLEN_MAX;
    if (EVP_PKEY_CTX_set_rsa_pss_saltlen(c, salt) <= 0)
      return 0;
  }
  return 1;
}

/* ver_req: the request's top-level key_version (path_sign_verify.go
** pathSignWrite applies it to every batch item). */
static char *do_sign(struct tkey *k, const struct sign_opts *o,
                     json_object *item, int64_t ver_req, int64_t *used,
                     char **err)
{
  unsigned char *in = NULL, *sig = NULL;
  size_t inlen = 0, siglen = 0;
  char *out = NULL;
  EVP_PKEY_CTX *c = NULL;
  EVP_MD_CTX *mc = NULL;
  if (!ihas(item, "input")) {
    /* Only a batch item can lack it: a single request signs "". */
    *err = xstrdup("missing input");
    goto done;
  }
  if (b64_field(istr(item, "input"), &in, &inlen, err,
                "unable to decode input as base64: ") < 0)
    goto done;
  int64_t ver = ver_req;
  if (ver == 0)
    ver = (int64_t)k->nv;
  if (ver > (int64_t)k->nv || ver < 0) {
    *err = xstrdup("requested version for signing is higher than the latest "
                   "key version");
    goto done;
  }
  if (ver < k->min_enc) {
    *err = xstrdup("requested version for signing is less than the minimum "
                   "encryption key version");
    goto done;
  }
  EVP_PKEY *pk = k->v[ver - 1].pk;
  if (k->t->kt == KT_ED25519) {
    siglen = 64;
    sig = xcalloc(siglen, 1);
    mc = EVP_MD_CTX_new();
    if (!mc || EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) != 1 ||
        EVP_DigestSign(mc, sig, &siglen, in, inlen) != 1) {
      *err = xstrdup("internal error");
      goto done;
    }
  } else {
    unsigned char dg[EVP_MAX_MD_SIZE];
    size_t dglen = 0;
    if (sign_digest(k, o, in, inlen, dg, &dglen) < 0) {
      *err = xstrdup("failed to hash the input");
      goto done;
    }
    c = EVP_PKEY_CTX_new(pk, NULL);
    if (!c || EVP_PKEY_sign_init(c) <= 0 || !pkey_ctx_setup(c, k, o, 0) ||
        EVP_PKEY_sign(c, NULL, &siglen, dg, dglen) <= 0) {
      *err = xstrdup("failed to sign the input");
      goto done;
    }
    sig = xcalloc(siglen, 1);
    if (EVP_PKEY_sign(c, sig, &siglen, dg, dglen) <= 0) {
      *err = xstrdup("failed to sign the input");
      goto done;
    }
    if (is_ec(k) && o->jws) {
      /* JWS wants fixed-width r||s instead of DER. */
      const unsigned char *p = sig;
      ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
      int w = ec_size(k);
      unsigned char *raw = xcalloc((size_t)w * 2, 1);
      if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, w) != w ||
          BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + w, w) != w) {
        ECDSA_SIG_free(es);
        free(raw);
        *err = xstrdup("internal error");
        goto done;
      }
      ECDSA_SIG_free(es);
      free(sig);
      sig = raw;
      siglen = (size_t)w * 2;
    }
  }
  char *enc = o->jws ? b64_rawurl_encode(sig, siglen)
                     : b64_std_encode(sig, siglen);
  out = xasprintf("vault:v%lld:%s", (long long)ver, enc);
  free(enc);
  *used = ver;
done:
  EVP_PKEY_CTX_free(c);
  EVP_MD_CTX_free(mc);
  free(in);
  free(sig);
  return out;
}

static char *hmac_of(struct tkey *k, int64_t ver, const EVP_MD *md,
                     const unsigned char *in, size_t inlen)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  const struct tver *v = &k->v[ver - 1];
  const unsigned char *key = k->t->kt == KT_HMAC ? v->key : v->hmac;
  if (!HMAC(md, key, 32, in, inlen, mac, &ml))
    return NULL;
  char *b = b64_std_encode(mac, ml);
  char *out = xasprintf("vault:v%lld:%s", (long long)ver, b);
  free(b);
  return out;
}

/* Returns 1 valid, 0 invalid, -1 error (*err). */
static int do_verify(struct tkey *k, const struct sign_opts *o,
                     json_object *item, const EVP_MD *hmac_md, char **err)
{
  unsigned char *in = NULL, *sig = NULL;
  size_t inlen = 0, siglen = 0;
  int valid = -1;
  EVP_PKEY_CTX *c = NULL;
  EVP_MD_CTX *mc = NULL;
  unsigned char *der = NULL;
  const char *s = ihas(item, "hmac") ? istr(item, "hmac")
                                     : istr(item, "signature");
  int64_t ver = 0;
  const char *payload = NULL;
  if (b64_field(istr(item, "input"), &in, &inlen, err,
                "unable to decode input as base64: ") < 0)
    goto done;
  if (parse_versioned(s, hmac_md ? "hmac" : "signature", &ver, &payload,
                      err) < 0)
    goto done;
  if (ver > (int64_t)k->nv) {
    *err = xasprintf("invalid %s: version is too new",
                     hmac_md ? "hmac" : "signature");
    goto done;
  }
  if (k->min_dec > 0 && ver < k->min_dec) {
    *err = xstrdup("ciphertext or signature version is disallowed by policy "
                   "(too old)");
    goto done;
  }
  if (hmac_md) {
    char *mine = hmac_of(k, ver, hmac_md, in, inlen);
    valid = mine && CRYPTO_memcmp(mine, s, strlen(mine) + 1 > strlen(s) + 1
                                               ? strlen(s) + 1
                                               : strlen(mine) + 1) == 0 &&
            strlen(mine) == strlen(s);
    free(mine);
    goto done;
  }
  int dec = o->jws ? b64_rawurl_decode(payload, strlen(payload), &sig, &siglen)
                   : b64_std_decode(payload, strlen(payload), &sig, &siglen,
                                    NULL);
  if (dec < 0) {
    *err = xstrdup("invalid base64 signature value");
    goto done;
  }
  EVP_PKEY *pk = k->v[ver - 1].pk;
  if (k->t->kt == KT_ED25519) {
    mc = EVP_MD_CTX_new();
    valid = mc && EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk) == 1 &&
            siglen == 64 && EVP_DigestVerify(mc, sig, siglen, in, inlen) == 1;
    goto done;
  }
  const unsigned char *vsig = sig;
  size_t vsiglen = siglen;
  if (is_ec(k)) {
    int w = ec_size(k);
    if (o->jws) {
      if (siglen != (size_t)w * 2) {
        *err = xstrdup("supplied signature is invalid");
        goto done;
      }
      ECDSA_SIG *es = ECDSA_SIG_new();
      BIGNUM *br = BN_bin2bn(sig, w, NULL), *bs = BN_bin2bn(sig + w, w, NULL);
      if (!es || !br || !bs || ECDSA_SIG_set0(es, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(es);
        *err = xstrdup("internal error");
        goto done;
      }
      int dl = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
      if (dl <= 0) {
        *err = xstrdup("internal error");
        goto done;
      }
      vsig = der;
      vsiglen = (size_t)dl;
    } else {
      const unsigned char *p = sig;
      ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
      int whole = es && p == sig + siglen;
      ECDSA_SIG_free(es);
      if (!whole) {
        *err = xstrdup("supplied signature is invalid");
        goto done;
      }
    }
  }
  unsigned char dg[EVP_MAX_MD_SIZE];
  size_t dglen = 0;
  if (sign_digest(k, o, in, inlen, dg, &dglen) < 0) {
    valid = 0;
    goto done;
  }
  c = EVP_PKEY_CTX_new(pk, NULL);
  if (!c || EVP_PKEY_verify_init(c) <= 0 || !pkey_ctx_setup(c, k, o, 1)) {
    *err = xstrdup("internal error");
    goto done;
  }
  valid = EVP_PKEY_verify(c, vsig, vsiglen, dg, dglen) == 1;
done:
  EVP_PKEY_CTX_free(c);
  EVP_MD_CTX_free(mc);
  OPENSSL_free(der);
  free(in);
  free(sig);
  return valid;
}

static const char *const k_sign[] = {
    "input", "hash_algorithm", "algorithm", "signature_algorithm",
    "marshaling_algorithm", "prehashed", "salt_length", "key_version",
    "context", "batch_input", "urlalgorithm", NULL};

static void sign(struct transit_state *s, const char *name, const char *urlh,
                 struct sim_req *q, struct sim_resp *r)
{
  struct sign_opts o;
  if (sign_options(urlh, q, r, &o) < 0)
    return;
  struct tkey *k = smap_get(s->keys, name);
  if (!k) {
    resp_err(r, 400, "signing key not found");
    return;
  }
  if (!k->t->sign) {
    resp_err(r, 400, "key type %s does not support signing", k->t->name);
    return;
  }
  json_object *batch = NULL;
  int isb = get_batch(q, r, &batch);
  if (isb < 0)
    return;
  int64_t ver_req = iint(q->data, "key_version");
  size_t n = isb ? json_object_array_length(batch) : 1;
  json_object *res = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *it = isb ? json_object_array_get_idx(batch, i) : q->data;
    char *err = NULL;
    int64_t ver = 0;
    json_object *empty = NULL;
    if (!isb && !ihas(it, "input")) {
      /* "use empty string if input is missing - not an error" */
      empty = json_object_new_object();
      json_object_object_add(empty, "input", json_object_new_string(""));
      it = empty;
    }
    char *sig = do_sign(k, &o, it, ver_req, &ver, &err);
    json_object_put(empty);
    if (!isb && !sig) {
      json_object_put(res);
      resp_err(r, 400, "%s", err);
      free(err);
      return;
    }
    /* batchResponseSignItem: key_version has no omitempty, so a failed
    ** item carries key_version 0 next to its error. */
    json_object *e = json_object_new_object();
    if (sig) {
      json_object_object_add(e, "signature", json_object_new_string(sig));
      json_object_object_add(e, "key_version", json_object_new_int64(ver));
    } else {
      json_object_object_add(e, "key_version", json_object_new_int64(0));
      json_object_object_add(e, "error", json_object_new_string(err));
    }
    if (isb)
      json_object_object_add(e, "reference",
                             json_object_new_string(istr(it, "reference")));
    free(sig);
    free(err);
    json_object_array_add(res, e);
  }
  if (!isb) {
    json_object *d = json_object_get(json_object_array_get_idx(res, 0));
    json_object_put(res);
    resp_data(r, 200, d);
    return;
  }
  batch_done(q, r, res, 0, 0, 0);
}

static const EVP_MD *hmac_alg(const char *a, int *bad)
{
  int none = 0;
  *bad = 0;
  const EVP_MD *md = hash_md(*a ? a : "sha2-256", &none);
  if (!md)
    *bad = 1;
  return md;
}

static const char *const k_verify[] = {
    "input", "signature", "hmac", "hash_algorithm", "algorithm",
    "signature_algorithm", "marshaling_algorithm", "prehashed",
    "salt_length", "context", "batch_input", "urlalgorithm", "cmac",
    NULL};

static void verify(struct transit_state *s, const char *name,
                   const char *urlh, struct sim_req *q, struct sim_resp *r)
{
  json_object *batch = NULL;
  int isb = get_batch(q, r, &batch);
  if (isb < 0)
    return;
  /* path_sign_verify.go pathVerifyWrite (the pre-CMAC text of Vault
  ** 1.17): every item must bring a signature, or every item an hmac. An
  ** item with both counts as a signature item. */
  size_t nitems = isb ? json_object_array_length(batch) : 1;
  int has_sig = 0, has_hmac = 0, missing = 0;
  for (size_t i = 0; i < nitems; i++) {
    json_object *it = isb ? json_object_array_get_idx(batch, i) : q->data;
    if (ihas(it, "signature"))
      has_sig = 1;
    else if (ihas(it, "hmac"))
      has_hmac = 1;
    else
      missing = 1;
  }
  if (!isb && ihas(q->data, "signature") && ihas(q->data, "hmac")) {
    resp_err(r, 400, "provide one of 'signature' or 'hmac'");
    return;
  }
  if (!isb && !has_sig && !has_hmac) {
    resp_err(r, 400, "neither a 'signature' nor an 'hmac' were given to "
                     "verify");
    return;
  }
  if (has_sig && has_hmac) {
    resp_err(r, 400, "elements of batch_input must all provide 'signature' "
                     "or all provide 'hmac'");
    return;
  }
  if (missing) {
    resp_err(r, 400, has_sig ? "some elements of batch_input are missing "
                               "'signature'"
                     : has_hmac ? "some elements of batch_input are missing "
                                  "'hmac'"
                                : "no batch_input elements have 'signature' "
                                  "or 'hmac'");
    return;
  }
  struct sign_opts o;
  const EVP_MD *hmd = NULL;
  if (has_hmac) {
    const char *a = "";
    req_str(q, "algorithm", &a);
    if (!*a)
      req_str(q, "hash_algorithm", &a);
    if (urlh && *urlh)
      a = urlh;
    int bad;
    hmd = hmac_alg(a, &bad);
    if (bad) {
      resp_err(r, 400, "unsupported algorithm \"%s\"", a);
      return;
    }
    memset(&o, 0, sizeof o);
  } else if (sign_options(urlh, q, r, &o) < 0) {
    return;
  }
  struct tkey *k = smap_get(s->keys, name);
  if (!k) {
    resp_err(r, 400, has_hmac ? "encryption key not found"
                              : "signature verification key not found");
    return;
  }
  if (!has_hmac && !k->t->sign) {
    resp_err(r, 400, "key type %s does not support verification", k->t->name);
    return;
  }
  size_t n = isb ? json_object_array_length(batch) : 1;
  json_object *res = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *it = isb ? json_object_array_get_idx(batch, i) : q->data;
    char *err = NULL;
    int v = -1;
    if (isb && !ihas(it, "input"))
      err = xstrdup("missing input"); /* a single request verifies "" */
    else
      v = do_verify(k, &o, it, hmd, &err);
    if (!isb && v < 0) {
      json_object_put(res);
      resp_err(r, 400, "%s", err);
      free(err);
      return;
    }
    /* batchResponseVerifyItem has "valid" without omitempty: a failed
    ** signature item says valid:false next to its error. The HMAC item
    ** type (path_hmac.go batchResponseHMACItem) has omitempty, so a
    ** failed or non-matching HMAC item carries no "valid" at all. */
    json_object *e = json_object_new_object();
    if (!hmd || v > 0 || (!isb && v == 0))
      json_object_object_add(e, "valid", json_object_new_boolean(v > 0));
    if (v < 0)
      json_object_object_add(e, "error", json_object_new_string(err));
    if (isb)
      json_object_object_add(e, "reference",
                             json_object_new_string(istr(it, "reference")));
    free(err);
    json_object_array_add(res, e);
  }
  if (!isb) {
    json_object *d = json_object_get(json_object_array_get_idx(res, 0));
    json_object_put(res);
    resp_data(r, 200, d);
    return;
  }
  batch_done(q, r, res, 0, 0, 0);
}

static const char *const k_hmac[] = {"input", "algorithm", "key_version",
                                    "batch_input", "urlalgorithm", NULL};

static void hmac(struct transit_state *s, const char *name, const char *urlh,
                 struct sim_req *q, struct sim_resp *r)
{
  const char *a = "";
  req_str(q, "algorithm", &a);
  if (urlh && *urlh)
    a = urlh;
  /* path_hmac.go pathHMACWrite, in its order: the key, the request's
  ** key_version (for every item), the algorithm, then the input. */
  struct tkey *k = smap_get(s->keys, name);
  if (!k) {
    resp_err(r, 400, "encryption key not found");
    return;
  }
  int64_t ver = 0;
  if (req_int(q, r, "key_version", 0, &ver) < 0)
    return;
  if (ver == 0)
    ver = (int64_t)k->nv;
  if (ver != (int64_t)k->nv && k->min_enc > 0 && ver < k->min_enc) {
    resp_err(r, 400, "cannot generate HMAC: version is too old (disallowed "
                     "by policy)");
    return;
  }
  if (ver < 0 || ver > (int64_t)k->nv) {
    resp_err(r, 400, "invalid key version");
    return;
  }
  int bad;
  const EVP_MD *md = hmac_alg(a, &bad);
  if (bad) {
    resp_err(r, 400, "unsupported algorithm \"%s\"", a);
    return;
  }
  json_object *batch = NULL;
  int isb = get_batch(q, r, &batch);
  if (isb < 0)
    return;
  if (!isb && !ihas(q->data, "input")) {
    resp_err(r, 400, "missing input for HMAC");
    return;
  }
  size_t n = isb ? json_object_array_length(batch) : 1;
  json_object *res = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *it = isb ? json_object_array_get_idx(batch, i) : q->data;
    char *err = NULL, *mac = NULL;
    unsigned char *in = NULL;
    size_t inlen = 0;
    if (!ihas(it, "input"))
      err = xstrdup("missing input for HMAC");
    else if (b64_field(istr(it, "input"), &in, &inlen, &err,
                       "unable to decode input as base64: ") == 0)
      mac = hmac_of(k, ver, md, in, inlen);
    free(in);
    if (!isb && !mac) {
      json_object_put(res);
      resp_err(r, 400, "%s", err ? err : "internal error");
      free(err);
      return;
    }
    json_object *e = json_object_new_object();
    if (mac)
      json_object_object_add(e, "hmac", json_object_new_string(mac));
    else
      json_object_object_add(e, "error",
                             json_object_new_string(err ? err : "internal error"));
    if (isb)
      json_object_object_add(e, "reference",
                             json_object_new_string(istr(it, "reference")));
    free(mac);
    free(err);
    json_object_array_add(res, e);
  }
  if (!isb) {
    json_object *d = json_object_get(json_object_array_get_idx(res, 0));
    json_object_put(res);
    resp_data(r, 200, d);
    return;
  }
  batch_done(q, r, res, 0, 0, 0);
}

/* ---- keys ------------------------------------------------------------------ */

static void keys_route(struct transit_state *s, const char *rest,
                       struct sim_req *q, struct sim_resp *r)
{
  int write = q->op == SIM_OP_UPDATE || q->op == SIM_OP_CREATE;
  if (!*rest) {
    if (q->op != SIM_OP_LIST) {
      resp_unsupported_op(r);
      return;
    }
    resp_list_keys(r, s->keys);
    return;
  }
  const char *slash = strchr(rest, '/');
  char *name = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
  const char *sub = slash ? slash + 1 : NULL;
  struct tkey *k = smap_get(s->keys, name);
  if (!sub) {
    static const char *const known[] = {
        "type", "derived", "convergent_encryption", "exportable",
        "allow_plaintext_backup", "auto_rotate_period", "key_size",
        "managed_key_name", "managed_key_id", "context", NULL};
    switch (q->op) {
    case SIM_OP_READ:
      if (!k)
        resp_err_empty(r, 404);
      else
        resp_data(r, 200, key_json(k));
      break;
    case SIM_OP_CREATE:
    case SIM_OP_UPDATE: {
      q->known = known;
      if (k) {
        resp_data(r, 200, key_json(k));
        resp_warn(r, "key %s already existed", name);
        break;
      }
      const char *type = "";
      int derived = 0, conv = 0, exp = 0, pb = 0;
      int64_t arp = 0;
      req_str(q, "type", &type);
      if (req_bool(q, r, "derived", 0, &derived) < 0 ||
          req_bool(q, r, "convergent_encryption", 0, &conv) < 0 ||
          req_bool(q, r, "exportable", 0, &exp) < 0 ||
          req_bool(q, r, "allow_plaintext_backup", 0, &pb) < 0 ||
          req_duration(q, r, "auto_rotate_period", 0, &arp) < 0)
        break;
      if (arp != 0 && arp < 3600) {
        resp_err(r, 400, "auto rotate period must be 0 to disable or at least "
                         "an hour");
        break;
      }
      k = key_create(s, name, type, derived, conv, q, r);
      if (!k)
        break;
      k->exportable = exp;
      k->plaintext_backup = pb;
      k->auto_rotate = arp;
      resp_data(r, 200, key_json(k));
      break;
    }
    case SIM_OP_DELETE:
      /* path_keys.go pathPolicyDelete wraps keysutil DeletePolicy's error:
      ** a missing key is not a silent success. */
      if (!k)
        resp_err(r, 400, "error deleting policy %s: could not delete key; "
                         "not found", name);
      else if (!k->deletion_allowed)
        resp_err(r, 400, "error deleting policy %s: deletion is not allowed "
                         "for this key", name);
      else {
        smap_del(s->keys, name);
        resp_nocontent(r);
      }
      break;
    default:
      resp_unsupported_op(r);
    }
  } else if (strcmp(sub, "rotate") == 0) {
    if (!write)
      resp_unsupported_op(r);
    else if (!k)
      resp_err(r, 400, "key not found");
    else if (add_version(k, q->now) < 0)
      resp_multierr(r, 500, "internal error");
    else
      resp_data(r, 200, key_json(k));
  } else if (strcmp(sub, "config") == 0) {
    static const char *const known[] = {
        "min_decryption_version", "min_encryption_version",
        "deletion_allowed", "exportable", "allow_plaintext_backup",
        "auto_rotate_period", NULL};
    q->known = known;
    if (!write) {
      resp_unsupported_op(r);
    } else if (!k) {
      resp_err(r, 400, "no existing key named %s could be found", name);
    } else {
      int64_t mind = k->min_dec, mine = k->min_enc, arp = k->auto_rotate;
      int del = k->deletion_allowed, exp = k->exportable,
          pb = k->plaintext_backup;
      if (req_int(q, r, "min_decryption_version", mind, &mind) < 0 ||
          req_int(q, r, "min_encryption_version", mine, &mine) < 0 ||
          req_bool(q, r, "deletion_allowed", del, &del) < 0 ||
          req_bool(q, r, "exportable", exp, &exp) < 0 ||
          req_bool(q, r, "allow_plaintext_backup", pb, &pb) < 0 ||
          req_duration(q, r, "auto_rotate_period", arp, &arp) < 0) {
        free(name);
        return;
      }
      if (mind <= 0)
        mind = 1;
      if (mind > (int64_t)k->nv) {
        resp_err(r, 400, "cannot set min decryption version of %lld, latest "
                         "key version is %zu", (long long)mind, k->nv);
      } else if (mine < 0 || mine > (int64_t)k->nv) {
        resp_err(r, 400, "cannot set min encryption version of %lld, latest "
                         "key version is %zu", (long long)mine, k->nv);
      } else if (mine > 0 && mine < mind) {
        resp_err(r, 400, "cannot set min encryption/decryption values; min "
                         "encryption version of %lld must be greater than or "
                         "equal to min decryption version of %lld",
                 (long long)mine, (long long)mind);
      } else if (k->exportable && !exp) {
        resp_err(r, 400, "export cannot be disabled on a key that has had it "
                         "enabled");
      } else {
        k->min_dec = mind;
        k->min_enc = mine;
        k->deletion_allowed = del;
        k->exportable = exp;
        k->plaintext_backup = pb;
        k->auto_rotate = arp;
        resp_data(r, 200, key_json(k));
      }
    }
  } else {
    resp_unsupported_path(r);
  }
  free(name);
}

/* ---- random and hash (shared with sys/tools) ------------------------------- */

void sim_tools_random(const char *urlrest, struct sim_req *q,
                      struct sim_resp *r)
{
  static const char *const known[] = {"bytes", "format", "source",
                                      "urlbytes", NULL};
  q->known = known;
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  int64_t bytes = 32;
  const char *format = "", *source = "";
  if (req_int(q, r, "bytes", 32, &bytes) < 0)
    return;
  req_str(q, "format", &format);
  req_str(q, "source", &source);
  /* URL forms: /<bytes>, /<source>, /<source>/<bytes>. */
  char *src = NULL, *ub = NULL;
  const char *u = urlrest;
  if (*u == '/')
    u++;
  if (*u) {
    const char *slash = strchr(u, '/');
    if (slash) {
      src = xstrndup(u, (size_t)(slash - u));
      ub = xstrdup(slash + 1);
    } else {
      int64_t t;
      if (parse_int64(u, &t) == 0)
        ub = xstrdup(u);
      else
        src = xstrdup(u);
    }
  }
  if (src)
    source = src;
  if (ub) {
    int64_t t;
    if (parse_int64(ub, &t) < 0) {
      resp_err(r, 400, "error parsing url-set byte count: strconv.Atoi: "
                       "parsing \"%s\": invalid syntax", ub);
      goto out;
    }
    bytes = t;
  }
  if (!*format)
    format = "base64";
  if (!*source)
    source = "platform";
  if (strcmp(source, "platform") != 0 && strcmp(source, "seal") != 0 &&
      strcmp(source, "all") != 0) {
    resp_err(r, 400, "unsupported entropy source \"%s\"; must be \"platform\", "
                     "\"seal\", or \"all\"", source);
    goto out;
  }
  if (bytes < 1) {
    resp_err(r, 400, "'bytes' cannot be less than 1");
    goto out;
  }
  if (bytes > 131072) {
    resp_err(r, 400, "'bytes' should be less than 131072");
    goto out;
  }
  if (strcmp(format, "hex") != 0 && strcmp(format, "base64") != 0) {
    resp_err(r, 400, "unsupported encoding format \"%s\"; must be \"hex\" or "
                     "\"base64\"", format);
    goto out;
  }
  unsigned char *buf = xcalloc((size_t)bytes, 1);
  rand_bytes(buf, (size_t)bytes);
  char *enc = strcmp(format, "hex") == 0 ? hex_encode(buf, (size_t)bytes)
                                         : b64_std_encode(buf, (size_t)bytes);
  free(buf);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "random_bytes", json_object_new_string(enc));
  free(enc);
  resp_data(r, 200, d);
out:
  free(src);
  free(ub);
}

void sim_tools_hash(const char *urlalg, struct sim_req *q, struct sim_resp *r)
{
  static const char *const known[] = {"input", "algorithm", "format",
                                      "urlalgorithm", NULL};
  q->known = known;
  if (q->op != SIM_OP_UPDATE && q->op != SIM_OP_CREATE) {
    resp_unsupported_op(r);
    return;
  }
  if (!req_has(q, "input")) {
    resp_err(r, 400, "input missing");
    return;
  }
  const char *in = "", *alg = "", *format = "";
  req_str(q, "input", &in);
  req_str(q, "algorithm", &alg);
  req_str(q, "format", &format);
  if (urlalg && *urlalg)
    alg = urlalg;
  if (!*alg)
    alg = "sha2-256";
  if (!*format)
    format = "hex";
  unsigned char *raw = NULL;
  size_t rl = 0;
  char *err = NULL;
  if (b64_field(in, &raw, &rl, &err, "unable to decode input as base64: ") <
      0) {
    resp_err(r, 400, "%s", err);
    free(err);
    return;
  }
  if (strcmp(format, "hex") != 0 && strcmp(format, "base64") != 0) {
    free(raw);
    resp_err(r, 400, "unsupported encoding format %s; must be \"hex\" or "
                     "\"base64\"", format);
    return;
  }
  int none = 0;
  const EVP_MD *md = hash_md(alg, &none);
  if (!md || strcmp(alg, "sha1") == 0) {
    free(raw);
    resp_err(r, 400, "unsupported algorithm %s", alg);
    return;
  }
  unsigned char dg[EVP_MAX_MD_SIZE];
  unsigned int dl = 0;
  EVP_Digest(raw, rl, dg, &dl, md, NULL);
  free(raw);
  char *sum = strcmp(format, "hex") == 0 ? hex_encode(dg, dl)
                                         : b64_std_encode(dg, dl);
  json_object *d = json_object_new_object();
  json_object_object_add(d, "sum", json_object_new_string(sum));
  free(sum);
  resp_data(r, 200, d);
}

/* ---- path table (builtin/logical/transit/backend.go Paths) ------------ */

static void p_keys(struct sim_call *c)
{
  /* keys_route takes "<name>[/sub]" ("" for the listing). */
  const char *rest = c->rest;
  keys_route(c->state, strlen(rest) > 5 ? rest + 5 : "", c->q, c->r);
}

static void p_random(struct sim_call *c)
{
  sim_tools_random(sim_cap(c, "urlbytes"), c->q, c->r);
}

static void p_hash(struct sim_call *c)
{
  sim_tools_hash(sim_cap(c, "urlalgorithm"), c->q, c->r);
}

static void p_config_keys(struct sim_call *c)
{
  struct transit_state *s = c->state;
  if (c->q->op == SIM_OP_READ) {
    json_object *d = json_object_new_object();
    json_object_object_add(d, "disable_upsert",
                           json_object_new_boolean(s->disable_upsert));
    resp_data(c->r, 200, d);
    return;
  }
  int du = s->disable_upsert;
  if (req_bool(c->q, c->r, "disable_upsert", du, &du) >= 0) {
    s->disable_upsert = du;
    resp_nocontent(c->r);
  }
}

static void p_encrypt(struct sim_call *c)
{
  encrypt(c->state, sim_cap(c, "name"), c->q, c->r);
}

static int encrypt_exists(struct sim_call *c)
{
  struct transit_state *s = c->state;
  return smap_get(s->keys, sim_cap(c, "name")) != NULL;
}

static void p_decrypt(struct sim_call *c)
{
  decrypt_or_rewrap(c->state, sim_cap(c, "name"), 0, c->q, c->r);
}

static void p_rewrap(struct sim_call *c)
{
  decrypt_or_rewrap(c->state, sim_cap(c, "name"), 1, c->q, c->r);
}

static void p_sign(struct sim_call *c)
{
  sign(c->state, sim_cap(c, "name"), sim_cap(c, "urlalgorithm"), c->q,
       c->r);
}

static void p_verify(struct sim_call *c)
{
  verify(c->state, sim_cap(c, "name"), sim_cap(c, "urlalgorithm"), c->q,
         c->r);
}

static void p_hmac(struct sim_call *c)
{
  hmac(c->state, sim_cap(c, "name"), sim_cap(c, "urlalgorithm"), c->q,
       c->r);
}

#define W SIM_OPB_WRITE

/* Key names follow Vault's framework.GenericNameRegex ({name}); any other
** name (e.g. one ending in '.') matches no row: 404 unsupported path. */
static const struct sim_path transit_paths[] = {
    {"keys/?", SIM_OPB_ALL, NULL, 0, p_keys, NULL, NULL, NULL},
    {"keys/{name}", SIM_OPB_ALL, NULL, 0, p_keys, NULL, NULL, NULL},
    {"keys/{name}/rotate", SIM_OPB_ALL, NULL, 0, p_keys, NULL, NULL, NULL},
    {"keys/{name}/config", SIM_OPB_ALL, NULL, 0, p_keys, NULL, NULL, NULL},
    {"random{urlbytes:opt}", SIM_OPB_ALL, NULL, 0, p_random, NULL, NULL,
     NULL},
    {"hash{urlalgorithm:opt}", SIM_OPB_ALL, NULL, 0, p_hash, NULL, NULL,
     NULL},
    {"config/keys", SIM_OPB_READ | W, NULL, 0, p_config_keys, NULL, NULL,
     NULL},
    {"encrypt/{name}", W, k_encrypt, 0, p_encrypt, encrypt_exists, NULL, NULL},
    {"decrypt/{name}", W, k_decrypt, 0, p_decrypt, NULL, NULL, NULL},
    {"rewrap/{name}", W, k_decrypt, 0, p_rewrap, NULL, NULL, NULL},
    {"sign/{name}{urlalgorithm:opt}", W, k_sign, 0, p_sign, NULL, NULL, NULL},
    {"verify/{name}{urlalgorithm:opt}", W, k_verify, 0, p_verify, NULL, NULL,
     NULL},
    {"hmac/{name}{urlalgorithm:opt}", W, k_hmac, 0, p_hmac, NULL, NULL, NULL},
    SIM_PATH_END};

const struct sim_backend sim_backend_transit = {
    .type = "transit",
    .create = tr_create,
    .destroy = tr_destroy,
    .paths = transit_paths,
};
