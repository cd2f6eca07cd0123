/*
** vault.c - libcurl client for Vault's HTTP API.
**
** Calls go through the outbound client (http_client.c) on the worker's
** own connections, so handles are never shared and keep-alive works per
** thread. The token
** is process-wide and guarded by a rwlock (AppRole renewal swaps it).
*/
#include "vault.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "metrics.h"
#include "trace.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/buf.h"
#include "vmb/log.h"
#include "http_client.h"
#include "worker.h"

/* The settings this module reads, taken at start-up (vmb_vault_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  const char *addr;                 /* VAULT_ADDR */
  const char *namespace_;           /* VAULT_NAMESPACE */
  long timeout_ms;                  /* VAULT_TIMEOUT_MS */
  const char *cacert;               /* VAULT_CACERT */
  const char *capath;               /* VAULT_CAPATH */
  const char *client_cert;          /* VAULT_CLIENT_CERT */
  const char *client_key;           /* VAULT_CLIENT_KEY */
  bool skip_verify;                 /* VAULT_SKIP_VERIFY */
} conf;
/* How the outbound client reaches Vault, set by vmb_vault_init. */
static struct vmb_upstream upstream;
static pthread_rwlock_t token_lock = PTHREAD_RWLOCK_INITIALIZER;
static char vault_token_buf[1024];

/*
** Why a call did not reach Vault, for /readyz and the server log. TLS
** failures are split by what the operator must change: the CA (unknown
** issuer: VAULT_CACERT/VAULT_CAPATH), the address (name mismatch:
** VAULT_ADDR must use a name the certificate carries), the certificate
** itself (expired or not yet valid), or our client certificate. The X.509
** verify result comes from OpenSSL through libcurl. The host name is
** checked by libcurl itself (7.88 with OpenSSL): a mismatch is then a
** verification failure with no specific X.509 result, told apart by
** libcurl's error text ("... target host name ...").
*/
static void classify_failure(const struct vmb_upstream_reply *up,
                             struct vmb_vault_reply *reply)
{
  long vr = X509_V_OK;
  const char *code = "other", *detail = "Vault could not be reached";

  switch((CURLcode)up->curl_code) {
  case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
  case CURLE_SSL_CACERT:
#endif
    vr = up->tls_verify_result;
    if(strstr(up->error_detail, "target host name"))
      vr = X509_V_ERR_HOSTNAME_MISMATCH;
    switch(vr) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      code = "tls_expired";
      detail = "TLS: Vault's certificate has expired";
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      code = "tls_not_yet_valid";
      detail = "TLS: Vault's certificate is not valid yet (check the clocks)";
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_OK:
      code = "tls_name_mismatch";
      detail = "TLS: Vault's certificate does not name the host in VAULT_ADDR";
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      code = "tls_unknown_ca";
      detail = "TLS: Vault's certificate is signed by a CA that is not trusted "
               "(set VAULT_CACERT or VAULT_CAPATH)";
      break;
    default:
      code = "tls_verify_failed";
      detail = "TLS: Vault's certificate failed verification";
      break;
    }
    break;
  case CURLE_SSL_CACERT_BADFILE:
    code = "tls_ca_file";
    detail = "TLS: the CA file or directory (VAULT_CACERT, VAULT_CAPATH) cannot be read";
    break;
  case CURLE_SSL_CERTPROBLEM:
    code = "tls_client_cert";
    detail = "TLS: the client certificate or key (VAULT_CLIENT_CERT, "
             "VAULT_CLIENT_KEY) cannot be used";
    break;
  case CURLE_SSL_CONNECT_ERROR:
    code = "tls_handshake";
    detail = "TLS: the handshake with Vault failed (not TLS on that port, "
             "no common protocol, or a client certificate is required)";
    break;
  case CURLE_COULDNT_RESOLVE_HOST:
    code = "dns";
    detail = "the host name in VAULT_ADDR does not resolve";
    break;
  case CURLE_COULDNT_CONNECT:
    code = "connect_refused";
    detail = "nothing accepts connections at VAULT_ADDR";
    break;
  case CURLE_OPERATION_TIMEDOUT:
    code = "timeout";
    detail = "Vault did not answer within VAULT_TIMEOUT_MS";
    break;
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    code = "connection_dropped";
    detail = "Vault closed the connection without an answer (plain HTTP to a "
             "TLS port?)";
    break;
  default:
    break;
  }
  reply->failure = code;
  reply->failure_detail = detail;
}

int vmb_vault_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  conf.addr = cfg->vault_addr;
  conf.namespace_ = cfg->vault_namespace;
  conf.timeout_ms = cfg->vault_timeout_ms;
  conf.cacert = cfg->vault_cacert;
  conf.capath = cfg->vault_capath;
  conf.client_cert = cfg->vault_client_cert;
  conf.client_key = cfg->vault_client_key;
  conf.skip_verify = cfg->vault_skip_verify;
  upstream.id = VMB_UPSTREAM_VAULT;
  upstream.name = "vault";
  upstream.timeout_ms = conf.timeout_ms;
  upstream.connect_timeout_ms = conf.timeout_ms < 2000 ? conf.timeout_ms : 2000L;
  upstream.reply_max = VMB_VAULT_REPLY_MAX;
  /* Send the path exactly as built (and checked): no dot-segment
     squashing by libcurl. */
  upstream.path_as_is = true;
  upstream.keepalive = true;
  upstream.cacert = conf.cacert;
  upstream.capath = conf.capath;
  upstream.client_cert = conf.client_cert;
  upstream.client_key = conf.client_key;
  upstream.skip_verify = conf.skip_verify;
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "libcurl initialisation failed");
    return -1;
  }
  if(strlen(cfg->vault_token) >= sizeof(vault_token_buf)) {
    snprintf(err, errlen, "invalid configuration: VAULT_TOKEN: too long");
    return -1;
  }
  pthread_rwlock_wrlock(&token_lock);
  snprintf(vault_token_buf, sizeof(vault_token_buf), "%s", cfg->vault_token);
  pthread_rwlock_unlock(&token_lock);
  if(cfg->vault_skip_verify)
    vmb_log_server(VMB_LOG_WARN, "vault",
                   "VAULT_SKIP_VERIFY is on: Vault's certificate is not "
                   "checked (development only)");
  return 0;
}

void vmb_vault_cleanup(void)
{
  pthread_rwlock_wrlock(&token_lock);
  OPENSSL_cleanse(vault_token_buf, sizeof(vault_token_buf));
  pthread_rwlock_unlock(&token_lock);
  curl_global_cleanup();
}

/* Swap in a new bridge token (AppRole login). 0, or -1 when too long. */
int vmb_vault_set_token(const char *token)
{
  if(strlen(token) >= sizeof(vault_token_buf))
    return -1;
  pthread_rwlock_wrlock(&token_lock);
  OPENSSL_cleanse(vault_token_buf, sizeof(vault_token_buf));
  memcpy(vault_token_buf, token, strlen(token) + 1);
  pthread_rwlock_unlock(&token_lock);
  return 0;
}

int vmb_vault_token(char *out, size_t outlen)
{
  int rc;
  pthread_rwlock_rdlock(&token_lock);
  rc = vault_token_buf[0] && strlen(vault_token_buf) < outlen ? 0 : -1;
  if(!rc)
    memcpy(out, vault_token_buf, strlen(vault_token_buf) + 1);
  pthread_rwlock_unlock(&token_lock);
  return rc;
}

const struct vmb_upstream *vmb_vault_upstream(void)
{
  return &upstream;
}

/* Vault paths we build are made of validated segments, but encode
   anything outside the unreserved set anyway (defence in depth). */
static int append_path(struct vmb_buf *url, const char *path)
{
  static const char hex[] = "0123456789ABCDEF";
  const char *p;
  for(p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
       c == '~' || c == '/' || c == '?' || c == '=' || c == '&') {
      if(vmb_buf_append(url, p, 1))
        return -1;
    }
    else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      if(vmb_buf_append(url, e, 3))
        return -1;
    }
  }
  return 0;
}

/* True when the path part (before any '?') of a Vault path holds a "."
   or ".." segment. Such a segment would be normalised away by libcurl
   (without CURLOPT_PATH_AS_IS) or by a proxy or Vault itself, changing
   the target after every check made on the text; none of our paths needs
   one, so the call is refused. */
bool vmb_vault_path_has_dot_segment(const char *path)
{
  const char *p = path, *end = path + strcspn(path, "?");
  while(p < end) {
    size_t n = strcspn(p, "/?");
    if(p + n > end)
      n = (size_t)(end - p);
    if((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return true;
    p += n;
    if(p < end)
      p++;
  }
  return false;
}

/* Token-carrying header lists are wiped before they are freed: libcurl
   copies nothing, the strings are ours until curl_slist_free_all. */
static void json_put(void *p) { json_object_put(p); }

enum vmb_err vmb_vault_reply_read(struct vmb_arena *arena, long status, const char *body,
                                  size_t len, struct vmb_vault_reply *reply)
{
  reply->status = status;
  reply->body = NULL;
  reply->message = NULL;
  if(body && len) {
    reply->body = vmb_json_parse(body, len, 64);
    if(reply->body && vmb_arena_defer(arena, json_put, reply->body)) {
      json_object_put(reply->body);
      reply->body = NULL;
      return VMB_ERR_NOMEM;
    }
  }
  if(reply->body) {
    json_object *errs, *first;
    if(json_object_object_get_ex(reply->body, "errors", &errs) &&
       json_object_is_type(errs, json_type_array) &&
       (first = json_object_array_get_idx(errs, 0)) &&
       json_object_is_type(first, json_type_string))
      reply->message = vmb_arena_strdup(arena, json_object_get_string(first));
  }
  if(status >= 200 && status < 300)
    return VMB_ERR_OK;
  if(status == 400)
    return VMB_ERR_BAD_REQUEST;
  if(status == 403)
    return VMB_ERR_VAULT_DENIED;
  if(status == 404)
    return VMB_ERR_NOT_FOUND;
  if(status == 503)
    return VMB_ERR_VAULT_UNAVAILABLE;
  return VMB_ERR_VAULT_ERROR;
}

enum vmb_err vmb_vault_call(struct vmb_request *req, const char *op,
                            const char *method, const char *path,
                            json_object *body, const char *token,
                            struct vmb_vault_reply *reply)
{
  return vmb_vault_call_wrap(req, op, method, path, body, token, 0, reply);
}

enum vmb_err vmb_vault_call_wrap(struct vmb_request *req, const char *op,
                                 const char *method, const char *path,
                                 json_object *body, const char *token,
                                 long wrap_ttl, struct vmb_vault_reply *reply)
{
  struct vmb_worker *w = req->worker;
  struct vmb_upstream_call call;
  struct vmb_upstream_reply up;
  struct vmb_buf url;
  char own_token[1024], token_hdr[1200], ns_hdr[600], wrap_hdr[48];
  const char *headers[7];
  size_t nh = 0;
  const char *body_text = NULL;
  enum vmb_err result = VMB_ERR_VAULT_ERROR;
  long status = 0;
  uint64_t started = vmb_monotonic_us();

  memset(reply, 0, sizeof(*reply));
  memset(&up, 0, sizeof(up));
  vmb_buf_init(&url, 4096);
  own_token[0] = token_hdr[0] = '\0';
  {
    size_t alen = strlen(conf.addr);
    while(alen && conf.addr[alen - 1] == '/')
      alen--;
    if(vmb_buf_append(&url, conf.addr, alen) ||
       vmb_buf_append_str(&url, "/v1/") || append_path(&url, path)) {
      result = VMB_ERR_INTERNAL;
      goto out;
    }
  }
  if(vmb_vault_path_has_dot_segment(path)) {
    result = VMB_ERR_INVALID_PATH;
    goto out;
  }
  if(!token) {
    if(vmb_vault_token(own_token, sizeof(own_token)) == 0)
      token = own_token;
  }
  if(token && *token) {
    snprintf(token_hdr, sizeof(token_hdr), "X-Vault-Token: %s", token);
    headers[nh++] = token_hdr;
  }
  if(*conf.namespace_) {
    snprintf(ns_hdr, sizeof(ns_hdr), "X-Vault-Namespace: %s", conf.namespace_);
    headers[nh++] = ns_hdr;
  }
  headers[nh++] = "X-Vault-Request: true";
  if(wrap_ttl > 0) {
    /* Seconds, bounded by the caller (WRAP_TTL_MAX): Vault wraps the
       answer in a single-use token instead of returning it. */
    snprintf(wrap_hdr, sizeof(wrap_hdr), "X-Vault-Wrap-TTL: %lds", wrap_ttl);
    headers[nh++] = wrap_hdr;
  }
  if(body) {
    body_text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    if(!body_text) {
      result = VMB_ERR_NOMEM;
      goto out;
    }
    headers[nh++] = strcmp(method, "PATCH") == 0
                      ? "Content-Type: application/merge-patch+json"
                      : "Content-Type: application/json";
  }
  headers[nh] = NULL;

  memset(&call, 0, sizeof(call));
  call.method = method;
  call.url = url.data;
  call.headers = headers;
  call.body = body_text;
  call.body_len = body_text ? strlen(body_text) : 0;
  call.op = op;
  call.trace = &req->trace;
  vmb_upstream_call(&w->conns, &upstream, &call, &up);
  /* The request body may hold secrets (plaintext, KV data). */
  if(body_text)
    OPENSSL_cleanse((void *)body_text, strlen(body_text));
  if(up.failure == VMB_UPSTREAM_NOMEM) {
    result = VMB_ERR_NOMEM;
    goto out;
  }
  if(up.failure != VMB_UPSTREAM_ANSWERED) {
    json_object *f = json_object_new_object();
    json_object_object_add(f, "request_id", json_object_new_string(req->request_id));
    json_object_object_add(f, "operation", json_object_new_string(op));
    json_object_object_add(f, "curl_error", json_object_new_string(up.error ? up.error : ""));
    classify_failure(&up, reply);
    json_object_object_add(f, "reason", json_object_new_string(reply->failure));
    if(up.tls_verify_result)
      json_object_object_add(f, "tls_verify_result",
                             json_object_new_int64(up.tls_verify_result));
    vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "vault", "vault call failed", f);
    json_object_put(f);
    result = up.failure == VMB_UPSTREAM_TOO_LARGE ? VMB_ERR_VAULT_ERROR
                                                  : VMB_ERR_VAULT_UNAVAILABLE;
    goto out;
  }
  status = up.status;
  result = vmb_vault_reply_read(req->arena, status, up.body.data, up.body.len, reply);
out:
  vmb_metrics_vault(op, (int)status, vmb_monotonic_us() - started);
  OPENSSL_cleanse(own_token, sizeof(own_token));
  OPENSSL_cleanse(token_hdr, sizeof(token_hdr));
  /* Vault's reply may hold secrets too (KV data, credentials). */
  if(up.body.data)
    OPENSSL_cleanse(up.body.data, up.body.len);
  vmb_buf_free(&up.body);
  vmb_buf_free(&url);
  return result;
}
