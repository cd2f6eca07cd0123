/*
** auth_apikey.c - X-API-Key authentication (SPEC section 2).
**
** API_KEYS_JSON maps keys to subjects: {"key":"subject"} or
** {"key":{"subject":"s","scopes":["read"]}}. A key may be given as
** "sha256:<64 hex>" so the configuration need not hold the key itself.
** Every key is kept only as its SHA-256 digest; a presented key is hashed
** and compared with every entry in constant time (no early exit), so the
** timing says nothing about which key or how much of it matched.
** A key given in clear must be at least APIKEY_MIN_LEN bytes (issue 13:
** a short key is guessable online); start-up stops with a message that
** names the entry and its subject, never the key. A sha256: entry cannot
** be measured: whoever wrote the digest owns the key's length.
** The table is built once at start-up and read-only afterwards.
*/
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nspath.h"
#include "scope.h"
#include "util.h"

#define APIKEY_MIN_LEN 32
#define APIKEY_MAX_LEN 512
#define APIKEY_MAX_ENTRIES 4096

struct apikey_entry {
  unsigned char digest[32];
  char subject[VMB_SUBJECT_MAX + 1];
  unsigned scopes;
};

static struct apikey_entry *apikeys;
static size_t n_apikeys;

/* SHA-256 fetched from the provider once (vmb_apikey_init), so a request
   does not pay OpenSSL 3's implicit fetch behind EVP_sha256() (about
   1.5 us of the 2.4 us a digest took, measured for issue 18). NULL
   before init and after cleanup: then the implicit fetch is used. */
static EVP_MD *sha256_md;

static int sha256(const void *d, size_t n, unsigned char out[32])
{
  unsigned int len = 32;
  return EVP_Digest(d, n, out, &len, sha256_md ? sha256_md : EVP_sha256(), NULL) == 1
           ? 0 : -1;
}

static int parse_hex_digest(const char *hex, unsigned char out[32])
{
  size_t i;
  if(strlen(hex) != 64)
    return -1;
  for(i = 0; i < 32; i++) {
    unsigned v = 0;
    int j;
    for(j = 0; j < 2; j++) {
      char c = hex[2 * i + (size_t)j];
      v <<= 4;
      if(c >= '0' && c <= '9') v |= (unsigned)(c - '0');
      else if(c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
      else if(c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
      else return -1;
    }
    out[i] = (unsigned char)v;
  }
  return 0;
}

static int load_keys(const struct vmb_config *cfg, char *err, size_t errlen)
{
  json_object *root;
  size_t i = 0, n;
  vmb_apikey_cleanup();
  root = vmb_json_parse(cfg->api_keys_json, strlen(cfg->api_keys_json), 8);
  if(!root || !json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    snprintf(err, errlen, "invalid configuration: API_KEYS_JSON: expected a JSON object");
    return -1;
  }
  n = (size_t)json_object_object_length(root);
  if(n > APIKEY_MAX_ENTRIES) {
    json_object_put(root);
    snprintf(err, errlen, "invalid configuration: API_KEYS_JSON: more than %d keys", APIKEY_MAX_ENTRIES);
    return -1;
  }
  apikeys = calloc(n ? n : 1, sizeof(*apikeys));
  if(!apikeys) {
    json_object_put(root);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  json_object_object_foreach(root, key, val) {
    struct apikey_entry *e = &apikeys[i];
    const char *subject = NULL;
    unsigned scopes = VMB_SCOPES_DEFAULT;
    if(json_object_is_type(val, json_type_string)) {
      subject = json_object_get_string(val);
    }
    else if(json_object_is_type(val, json_type_object)) {
      json_object *s, *sc;
      if(json_object_object_get_ex(val, "subject", &s) &&
         json_object_is_type(s, json_type_string))
        subject = json_object_get_string(s);
      if(json_object_object_get_ex(val, "scopes", &sc)) {
        if(json_object_is_type(sc, json_type_array))
          scopes = vmb_scopes_parse_json(sc);
        else if(json_object_is_type(sc, json_type_string))
          scopes = vmb_scopes_parse_text(json_object_get_string(sc));
        else
          subject = NULL;
      }
    }
    if(!subject || !vmb_subject_valid(subject)) {
      snprintf(err, errlen, "invalid configuration: API_KEYS_JSON: entry %zu: "
               "subject must be a string of [A-Za-z0-9._-] (1-%d chars)", i + 1,
               VMB_SUBJECT_MAX);
      goto fail;
    }
    if(strncmp(key, "sha256:", 7) == 0) {
      if(parse_hex_digest(key + 7, e->digest)) {
        snprintf(err, errlen, "invalid configuration: API_KEYS_JSON: entry %zu: "
                 "sha256: must be followed by 64 hex digits", i + 1);
        goto fail;
      }
    }
    else {
      size_t klen = strlen(key);
      if(klen < APIKEY_MIN_LEN || klen > APIKEY_MAX_LEN) {
        /* The subject passed vmb_subject_valid above: safe to print. */
        snprintf(err, errlen, "invalid configuration: API_KEYS_JSON: entry %zu "
                 "(subject \"%s\"): the key is %s; API keys must be %d..%d bytes "
                 "(e.g. openssl rand -hex 24) or given as sha256:<64 hex digits>",
                 i + 1, subject, klen < APIKEY_MIN_LEN ? "too short" : "too long",
                 APIKEY_MIN_LEN, APIKEY_MAX_LEN);
        goto fail;
      }
      if(sha256(key, klen, e->digest))
        goto fail;
    }
    snprintf(e->subject, sizeof(e->subject), "%s", subject);
    e->scopes = scopes;
    i++;
  }
  n_apikeys = i;
  json_object_put(root);
  return 0;
fail:
  json_object_put(root);
  vmb_apikey_cleanup();
  return -1;
}

static void drop_keys(void)
{
  if(apikeys)
    OPENSSL_cleanse(apikeys, n_apikeys * sizeof(*apikeys));
  free(apikeys);
  apikeys = NULL;
  n_apikeys = 0;
}

int vmb_apikey_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  if(!sha256_md)
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  return load_keys(cfg, err, errlen);
}

int vmb_apikey_validate(const struct vmb_config *cfg, char *err, size_t errlen)
{
  /* Start-up's own parse, so --check-config refuses exactly what
     start-up refuses (format, subjects, the 32-byte floor); the table it
     builds is wiped and dropped at once. */
  int rc = load_keys(cfg, err, errlen);
  drop_keys();
  return rc;
}

void vmb_apikey_cleanup(void)
{
  drop_keys();
  EVP_MD_free(sha256_md);
  sha256_md = NULL;
}

enum vmb_auth_result vmb_apikey_check(const char *key, struct vmb_identity *id,
                                      const char **reason)
{
  unsigned char digest[32];
  size_t klen = strlen(key), i, match = (size_t)-1;
  if(klen == 0 || klen > APIKEY_MAX_LEN) {
    *reason = klen ? "too_long" : "empty";
    return VMB_AUTH_INVALID;
  }
  if(sha256(key, klen, digest)) {
    *reason = "internal";
    return VMB_AUTH_INVALID;
  }
  for(i = 0; i < n_apikeys; i++) {
    /* CRYPTO_memcmp is constant time; the loop never stops early. */
    size_t hit = (size_t)(CRYPTO_memcmp(digest, apikeys[i].digest, 32) == 0);
    match = hit ? i : match;
  }
  OPENSSL_cleanse(digest, sizeof(digest));
  if(match == (size_t)-1) {
    *reason = "unknown_key";
    return VMB_AUTH_INVALID;
  }
  id->authenticated = true;
  id->mode = "api_key";
  id->scopes = apikeys[match].scopes;
  snprintf(id->subject, sizeof(id->subject), "%s", apikeys[match].subject);
  return VMB_AUTH_OK;
}
