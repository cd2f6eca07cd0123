/*
** Interoperability: tokens minted by an independent JWT implementation
** (Debian's libjwt 1.10, the project's JWT dependency) must verify with
** our verifier, with the right subject and scopes; and the classic
** algorithm-confusion token that libjwt's own jwt_decode() would accept
** (HS256 keyed with the RSA public key's PEM) must be refused.
**
**   test_jwt_libjwt KEYDIR     (keys from the auth__genkeys fixture)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth.h"
#include "vmb/config.h"

#define HS_SECRET "interop-secret-0123456789abcdef0123456789"

static int failures;

#define EXPECT(cond, ...)                                              \
  do {                                                                 \
    if(!(cond)) {                                                      \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
      fprintf(stderr, __VA_ARGS__);                                    \
      fputc('\n', stderr);                                             \
      failures++;                                                      \
    }                                                                  \
  } while(0)

static char *read_file(const char *dir, const char *name, size_t *len)
{
  char path[512];
  FILE *f;
  char *buf;
  long n;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "rb");
  if(!f) {
    fprintf(stderr, "missing %s (run the auth__genkeys fixture)\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  if(!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
    exit(1);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* The public half of a private PEM, as SubjectPublicKeyInfo PEM. */
static char *public_pem(const char *priv, size_t *len)
{
  BIO *in = BIO_new_mem_buf(priv, -1), *out = BIO_new(BIO_s_mem());
  EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
  char *data, *copy;
  long n;
  if(!k || !PEM_write_bio_PUBKEY(out, k))
    exit(1);
  n = BIO_get_mem_data(out, &data);
  copy = malloc((size_t)n + 1);
  memcpy(copy, data, (size_t)n);
  copy[n] = '\0';
  *len = (size_t)n;
  EVP_PKEY_free(k);
  BIO_free(in);
  BIO_free(out);
  return copy;
}

/* Mint a token with libjwt. key/len select the algorithm's key. */
static char *mint(jwt_alg_t alg, const unsigned char *key, int len, const char *kid,
                  const char *sub, const char *scope, long exp)
{
  jwt_t *jwt = NULL;
  char *tok;
  if(jwt_new(&jwt) || jwt_set_alg(jwt, alg, key, len))
    exit(1);
  if(kid)
    jwt_add_header(jwt, "kid", kid);
  jwt_add_grant(jwt, "sub", sub);
  jwt_add_grant(jwt, "iss", "mcp-auth");
  jwt_add_grant(jwt, "aud", "mcp-agents");
  jwt_add_grant_int(jwt, "iat", (long)time(NULL));
  jwt_add_grant_int(jwt, "exp", exp);
  jwt_add_grant(jwt, "scope", scope);
  tok = jwt_encode_str(jwt);
  jwt_free(jwt);
  if(!tok)
    exit(1);
  return tok;
}

static void expect_ok(const char *what, char *tok, const char *sub, unsigned scopes)
{
  struct vmb_identity id;
  const char *reason = NULL;
  memset(&id, 0, sizeof(id));
  EXPECT(vmb_jwt_check(tok, &id, &reason) == VMB_AUTH_OK, "%s refused (%s)", what,
         reason ? reason : "?");
  EXPECT(!strcmp(id.subject, sub), "%s: subject %s", what, id.subject);
  EXPECT(id.scopes == scopes, "%s: scopes %#x", what, id.scopes);
  free(tok);
}

static void expect_refused(const char *what, char *tok)
{
  struct vmb_identity id;
  const char *reason = NULL;
  memset(&id, 0, sizeof(id));
  EXPECT(vmb_jwt_check(tok, &id, &reason) == VMB_AUTH_INVALID, "%s accepted", what);
  free(tok);
}

int main(int argc, char **argv)
{
  struct vmb_config cfg;
  char err[256], jwks[512];
  char *argv0[] = {"test", NULL};
  size_t rsa_len, ec_len, rsa_pub_len;
  char *rsa, *ec, *rsa_pub;
  long exp = (long)time(NULL) + 600;

  if(argc != 2) {
    fprintf(stderr, "usage: %s KEYDIR\n", argv[0]);
    return 2;
  }
  snprintf(jwks, sizeof(jwks), "%s/jwks.json", argv[1]);
  setenv("JWT_JWKS_FILE", jwks, 1);
  setenv("JWT_HS256_SECRET", HS_SECRET, 1);
  unsetenv("APP_CONFIG_FILE");
  if(vmb_config_load(&cfg, 1, argv0, err, sizeof(err)) || vmb_jwt_init(&cfg, err, sizeof(err))) {
    fprintf(stderr, "setup: %s\n", err);
    return 1;
  }
  rsa = read_file(argv[1], "rsa1.pem", &rsa_len);
  ec = read_file(argv[1], "ec1.pem", &ec_len);
  rsa_pub = public_pem(rsa, &rsa_pub_len);

  expect_ok("libjwt HS256", mint(JWT_ALG_HS256, (const unsigned char *)HS_SECRET,
                                 (int)strlen(HS_SECRET), NULL, "agent_hs", "read list", exp),
            "agent_hs", VMB_SCOPE_READ | VMB_SCOPE_LIST);
  expect_ok("libjwt RS256", mint(JWT_ALG_RS256, (const unsigned char *)rsa, (int)rsa_len,
                                 "rsa1", "agent_rs", "read write", exp),
            "agent_rs", VMB_SCOPE_READ | VMB_SCOPE_WRITE);
  expect_ok("libjwt ES256", mint(JWT_ALG_ES256, (const unsigned char *)ec, (int)ec_len,
                                 "ec1", "agent_es", "delete", exp),
            "agent_es", VMB_SCOPE_DELETE);
  /* What libjwt's jwt_decode() would take: HS256 keyed with the RSA
     public key's PEM, naming the RSA key's kid. */
  expect_refused("HS256 keyed with the RSA public PEM",
                 mint(JWT_ALG_HS256, (const unsigned char *)rsa_pub, (int)rsa_pub_len,
                      "rsa1", "agent_rs", "read", exp));
  expect_refused("libjwt RS256 signed by the right key but expired",
                 mint(JWT_ALG_RS256, (const unsigned char *)rsa, (int)rsa_len, "rsa1",
                      "agent_rs", "read", (long)time(NULL) - 3600));
  expect_refused("libjwt HS256 with another secret",
                 mint(JWT_ALG_HS256, (const unsigned char *)"another-secret-0123456789abcdef012", 34,
                      NULL, "agent_hs", "read", exp));
  {
    /* alg none, as libjwt writes it */
    jwt_t *jwt = NULL;
    char *tok;
    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "agent_none");
    jwt_add_grant(jwt, "iss", "mcp-auth");
    jwt_add_grant(jwt, "aud", "mcp-agents");
    jwt_add_grant_int(jwt, "exp", exp);
    tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    expect_refused("libjwt alg none", tok);
  }
  free(rsa);
  free(ec);
  free(rsa_pub);
  vmb_jwt_cleanup();
  vmb_config_free(&cfg);
  if(failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("libjwt interop: 3 accepted, 4 refused as expected\n");
  return 0;
}
