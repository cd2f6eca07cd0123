/*
** health.c - health, readiness, whoami and echo-headers (SPEC section 6).
*/
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api.h"
#include "backends.h"
#include "ratelimit.h"
#include "redis.h"
#include "vmb/arena.h"

enum vmb_err vmb_h_healthz(struct vmb_call *c)
{
  c->result = json_object_new_object();
  json_object_object_add(c->result, "ok", json_object_new_boolean(1));
  return VMB_ERR_OK;
}

/*
** Ready means every backend of the list (backends/backends.c) says so:
** Vault answers sys/health as initialised and unsealed and accepts our
** token; KMS, when enabled, has a region and credentials. Each adds its
** own member to the body; the first problem found is reported, and any
** problem is a 503 whose body says which check failed (never a secret).
*/
enum vmb_err vmb_h_readyz(struct vmb_call *c)
{
  const struct vmb_backend *b;
  const char *problem = NULL;

  c->result = json_object_new_object();
  if(!c->result)
    return VMB_ERR_NOMEM;
  for(b = vmb_backends; b->name; b++) {
    const char *p = NULL;
    if(b->ready && b->ready(c->req, c->result, &p) != 0 && !problem)
      problem = p ? p : b->name;
  }
  if(vmb_redis_enabled()) {
    /* A fresh PING within REDIS_TIMEOUT_MS. Redis down makes the host
       unready only when requests are refused without it (deny); with
       allow the host still serves, and the member says what is wrong. */
    const char *why = NULL;
    int rc = vmb_redis_ping(&why);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "ok", json_object_new_boolean(rc == 0));
    if(rc)
      json_object_object_add(r, "error", json_object_new_string(why ? why : "unreachable"));
    json_object_object_add(c->result, "redis", r);
    if(rc && !problem && vmb_ratelimit_needs_redis())
      problem = vmb_arena_printf(c->req->arena, "redis unavailable: %s",
                                 why ? why : "unreachable");
  }
  json_object_object_add(c->result, "ok", json_object_new_boolean(problem == NULL));
  if(problem) {
    json_object_object_add(c->result, "error", json_object_new_string(problem));
    c->failed_with = VMB_ERR_UPSTREAM_UNAVAILABLE;     /* 503 over REST */
  }
  return VMB_ERR_OK;
}

enum vmb_err vmb_h_whoami(struct vmb_call *c)
{
  const struct vmb_identity *id = &c->req->identity;
  c->result = json_object_new_object();
  json_object_object_add(c->result, "subject", json_object_new_string(id->subject));
  json_object_object_add(c->result, "auth_mode", json_object_new_string(id->mode));
  json_object_object_add(c->result, "scopes", vmb_scopes_to_json(id->scopes));
  return VMB_ERR_OK;
}

static bool contains_nocase(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for(; *hay; hay++)
    if(strncasecmp(hay, needle, n) == 0)
      return true;
  return false;
}

/* Header names that may carry a credential: redacted whatever the value. */
static bool header_is_secret(const char *name)
{
  static const char *const words[] = {
    "authorization", "cookie", "token", "secret", "password", "passwd",
    "api-key", "apikey", "credential", "session", "signature", "private",
    "x-vault", "jwt", "auth",
    /* identity a proxy or the web server vouches for: client certificate
       (PEM or DN), its verdict (X-Forwarded-Client-Cert, X-SSL-Client-*,
       X-Client-Cert, Ssl-Client-Cert, ...) */
    "client-cert", "client-s-dn", "client-i-dn", "ssl-client", "client-verify",
    "client-dn", "forwarded-client"
  };
  size_t i;
  for(i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if(contains_nocase(name, words[i]))
      return true;
  return false;
}

enum vmb_err vmb_h_echo_headers(struct vmb_call *c)
{
  json_object *headers = json_object_new_object(), *doc;
  unsigned char md[32];
  char hex[65];
  unsigned int mdlen = sizeof(md);
  size_t i;
  for(i = 0; i < c->req->n_headers; i++) {
    const struct vmb_header *h = &c->req->headers[i];
    json_object_object_add(headers, h->name, json_object_new_string(
                             header_is_secret(h->name) ? "[redacted]" : h->value));
  }
  EVP_Digest(c->req->body, c->req->body_len, md, &mdlen, EVP_sha256(), NULL);
  for(i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  doc = json_object_new_object();
  json_object_object_add(doc, "method", json_object_new_string(c->req->method));
  json_object_object_add(doc, "path", json_object_new_string(c->req->path));
  json_object_object_add(doc, "query", json_object_new_string(c->req->query));
  json_object_object_add(doc, "headers", headers);
  json_object_object_add(doc, "body_bytes", json_object_new_int64((int64_t)c->req->body_len));
  json_object_object_add(doc, "body_sha256", json_object_new_string(hex));
  c->result = doc;
  return VMB_ERR_OK;
}
