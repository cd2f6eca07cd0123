/*
** backend_kms.c - AWS KMS operations (SPEC section 4): encrypt, decrypt,
** generate_data_key, sign and verify, over the AWS JSON 1.1 protocol
** (POST / with X-Amz-Target: TrentService.<Operation>), signed with
** SigV4 (sigv4.c).
**
** The routes always exist; with AWS_KMS_ENABLED=false each one answers
** 503 not_enabled. Credentials come from the AWS_* settings, else from
** the shared credentials file; they are read per call into stack buffers
** and wiped afterwards, so a rotated file is picked up without a restart
** and no long-lived copy of the secret sits in memory.
**
** responses.log gets descriptors only (key id, algorithm, byte counts,
** KMS's error name): never plaintext, ciphertext, data keys, signatures
** or credentials. The request body holds such values and is wiped once
** sent; KMS's reply is wiped when the request's arena is reset.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backend.h"
#include "backends.h"
#include "http_client.h"
#include "sigv4.h"
#include "util.h"
#include "vmb/arena.h"
#include "vmb/buf.h"
#include "vmb/config.h"
#include "vmb/log.h"
#include "worker.h"

/* A KMS reply carries at most a few KiB of base64 (4096-byte plaintexts,
   6144-byte ciphertext blobs); anything far larger is not KMS. */
#define KMS_REPLY_MAX (256u * 1024u)
/* The shared credentials file is small; refuse anything that is not. */
#define KMS_CREDFILE_MAX (64 * 1024)

/* The settings this backend reads, taken at start-up (vmb_kms_init).
   Strings are BORROWED from the configuration, which outlives requests;
   the credentials among them are never logged. */
static struct {
  bool enabled;                     /* AWS_KMS_ENABLED */
  const char *region;               /* AWS_REGION */
  const char *default_key_id;       /* AWS_KMS_DEFAULT_KEY_ID */
  const char *endpoint;             /* AWS_KMS_ENDPOINT ("" = regional) */
  const char *access_key_id;        /* AWS_ACCESS_KEY_ID */
  const char *secret_access_key;    /* AWS_SECRET_ACCESS_KEY */
  const char *session_token;        /* AWS_SESSION_TOKEN */
  const char *profile;              /* AWS_PROFILE */
  const char *credentials_file;     /* AWS_SHARED_CREDENTIALS_FILE */
  bool allow_caller_creds;          /* KMS_ALLOW_CALLER_CREDENTIALS */
  long timeout_ms;                  /* VAULT_TIMEOUT_MS, shared */
} conf;

/* How the outbound client reaches KMS, set by vmb_kms_init. */
static struct vmb_upstream upstream;

int vmb_kms_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  upstream.id = VMB_UPSTREAM_KMS;
  upstream.name = "kms";
  upstream.timeout_ms = cfg->vault_timeout_ms;
  upstream.connect_timeout_ms = cfg->vault_timeout_ms < 2000 ? cfg->vault_timeout_ms : 2000L;
  upstream.reply_max = KMS_REPLY_MAX;
  conf.enabled = cfg->aws_kms_enabled;
  conf.region = cfg->aws_region;
  conf.default_key_id = cfg->aws_kms_default_key_id;
  conf.endpoint = cfg->aws_kms_endpoint;
  conf.access_key_id = cfg->aws_access_key_id;
  conf.secret_access_key = cfg->aws_secret_access_key;
  conf.session_token = cfg->aws_session_token;
  conf.profile = cfg->aws_profile;
  conf.credentials_file = cfg->aws_shared_credentials_file;
  conf.allow_caller_creds = cfg->kms_allow_caller_credentials;
  conf.timeout_ms = cfg->vault_timeout_ms;
  return 0;
}

/* ---- credentials ---------------------------------------------------- */

struct kms_creds {
  char access_key_id[256];
  char secret_access_key[256];
  char session_token[4096];
};

static void creds_wipe(struct kms_creds *k)
{
  OPENSSL_cleanse(k, sizeof(*k));
}

static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
  if(n >= cap)
    return -1;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return 0;
}

/* Trim blanks (and a CR from CRLF files) from both ends of s[0..*n). */
static const char *trim(const char *s, size_t *n)
{
  while(*n && (*s == ' ' || *s == '\t')) {
    s++;
    (*n)--;
  }
  while(*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
    (*n)--;
  return s;
}

/*
** Parse the INI text of the shared credentials file and fill k from the
** section named profile. Strict on the part we use: inside that section
** every line must be blank, a comment or "key = value", and the key id
** and secret must both be present. Other sections are skipped unread.
** Returns 0, or -1 with why (a static string, never file content).
*/
static int parse_credfile(const char *text, size_t len, const char *profile,
                          struct kms_creds *k, const char **why)
{
  const char *p = text, *end = text + len;
  int in_section = 0, found = 0;
  while(p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    const char *line = trim(p, &n);
    p = nl ? nl + 1 : end;
    if(n == 0 || line[0] == '#' || line[0] == ';')
      continue;
    if(line[0] == '[') {
      size_t sn;
      const char *sec;
      if(line[n - 1] != ']') {
        *why = "a section header is malformed";
        return -1;
      }
      sn = n - 2;
      sec = trim(line + 1, &sn);
      in_section = sn == strlen(profile) && memcmp(sec, profile, sn) == 0;
      if(in_section)
        found = 1;
      continue;
    }
    if(!in_section)
      continue;
    {
      const char *eq = memchr(line, '=', n);
      size_t kn, vn;
      const char *key, *val;
      int rc = 0;
      if(!eq) {
        *why = "a line in the profile is not key = value";
        return -1;
      }
      kn = (size_t)(eq - line);
      key = trim(line, &kn);
      vn = n - (size_t)(eq - line) - 1;
      val = trim(eq + 1, &vn);
      if(kn == 17 && memcmp(key, "aws_access_key_id", 17) == 0)
        rc = copy_field(k->access_key_id, sizeof(k->access_key_id), val, vn);
      else if(kn == 21 && memcmp(key, "aws_secret_access_key", 21) == 0)
        rc = copy_field(k->secret_access_key, sizeof(k->secret_access_key), val, vn);
      else if(kn == 17 && memcmp(key, "aws_session_token", 17) == 0)
        rc = copy_field(k->session_token, sizeof(k->session_token), val, vn);
      if(rc) {
        *why = "a credential in the profile is too long";
        return -1;
      }
    }
  }
  if(!found) {
    *why = "the profile is not in the file";
    return -1;
  }
  if(!k->access_key_id[0] || !k->secret_access_key[0]) {
    *why = "the profile lacks aws_access_key_id or aws_secret_access_key";
    return -1;
  }
  return 0;
}

/* Read the shared credentials file into k. The file must be a regular
   file of at most KMS_CREDFILE_MAX bytes. */
static int creds_from_file(struct kms_creds *k, const char **why)
{
  char path[4096];
  struct stat st;
  char *text;
  ssize_t got;
  size_t total = 0;
  int fd, rc, n;
  const char *home;

  if(*conf.credentials_file)
    n = snprintf(path, sizeof(path), "%s", conf.credentials_file);
  else if((home = getenv("HOME")) && *home)
    n = snprintf(path, sizeof(path), "%s/.aws/credentials", home);
  else {
    *why = "no credentials: AWS_ACCESS_KEY_ID is unset and HOME is unknown";
    return -1;
  }
  if(n < 0 || (size_t)n >= sizeof(path)) {
    *why = "the credentials file path is too long";
    return -1;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if(fd < 0) {
    *why = "no credentials: AWS_ACCESS_KEY_ID is unset and the shared "
           "credentials file cannot be opened";
    return -1;
  }
  if(fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > KMS_CREDFILE_MAX) {
    close(fd);
    *why = "the shared credentials file is not a regular file of at most 64 KiB";
    return -1;
  }
  text = malloc((size_t)st.st_size + 1);
  if(!text) {
    close(fd);
    *why = "out of memory";
    return -1;
  }
  while(total < (size_t)st.st_size) {
    got = read(fd, text + total, (size_t)st.st_size - total);
    if(got < 0 && errno == EINTR)
      continue;
    if(got <= 0)
      break;
    total += (size_t)got;
  }
  close(fd);
  rc = parse_credfile(text, total, *conf.profile ? conf.profile : "default",
                      k, why);
  OPENSSL_cleanse(text, (size_t)st.st_size + 1);
  free(text);
  return rc;
}

/* The credential chain as far as it goes offline: the AWS_* settings
   (environment or config file), then the shared credentials file. */
static int creds_load(struct kms_creds *k, const char **why)
{
  memset(k, 0, sizeof(*k));
  if(*conf.access_key_id || *conf.secret_access_key) {
    if(!*conf.access_key_id || !*conf.secret_access_key) {
      *why = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together";
      return -1;
    }
    if(copy_field(k->access_key_id, sizeof(k->access_key_id), conf.access_key_id,
                  strlen(conf.access_key_id)) ||
       copy_field(k->secret_access_key, sizeof(k->secret_access_key),
                  conf.secret_access_key, strlen(conf.secret_access_key)) ||
       copy_field(k->session_token, sizeof(k->session_token), conf.session_token,
                  strlen(conf.session_token))) {
      *why = "an AWS credential setting is too long";
      return -1;
    }
    return 0;
  }
  return creds_from_file(k, why);
}

/*
** Caller credentials (issue 14): an admin-scope caller may send temporary
** AWS credentials for one call when KMS_ALLOW_CALLER_CREDENTIALS=true.
** They live in the request's arguments (arena) and in k for the signing
** only; kms_call wipes both. Refusals never echo a value.
*/
static const char *const caller_cred_args[] = {
  "aws_access_key_id", "aws_secret_access_key", "aws_session_token", NULL};

static int caller_creds_present(struct vmb_call *c)
{
  for(size_t i = 0; caller_cred_args[i]; i++)
    if(vmb_arg_str(c, caller_cred_args[i]))
      return 1;
  return 0;
}

static enum vmb_err caller_creds_check(struct vmb_call *c)
{
  const char *id, *secret;
  if(!caller_creds_present(c))
    return VMB_ERR_OK;
  if(!conf.allow_caller_creds) {
    c->detail = "caller AWS credentials are not accepted on this bridge "
                "(KMS_ALLOW_CALLER_CREDENTIALS=false)";
    return VMB_ERR_FORBIDDEN;
  }
  if(!(c->req->identity.scopes & VMB_SCOPE_ADMIN)) {
    c->detail = "caller AWS credentials require the 'admin' scope";
    return VMB_ERR_FORBIDDEN;
  }
  id = vmb_arg_str(c, "aws_access_key_id");
  secret = vmb_arg_str(c, "aws_secret_access_key");
  if(!id || !secret || !*secret) {
    c->detail = "aws_access_key_id and aws_secret_access_key must be sent together";
    return VMB_ERR_BAD_REQUEST;
  }
  /* The gate bounded the length (16..128); the charset is checked here. */
  for(const char *p = id; *p; p++)
    if(!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
      c->detail = "field 'aws_access_key_id' must match [A-Z0-9]{16,128}";
      return VMB_ERR_BAD_REQUEST;
    }
  return VMB_ERR_OK;
}

/* Copy the checked caller credentials into k (bounded by the table well
   below k's buffers). */
static int caller_creds_load(struct vmb_call *c, struct kms_creds *k)
{
  const char *tok = vmb_arg_str(c, "aws_session_token");
  const char *id = vmb_arg_str(c, "aws_access_key_id");
  const char *secret = vmb_arg_str(c, "aws_secret_access_key");
  memset(k, 0, sizeof(*k));
  if(!id || !secret)
    return -1;
  if(!tok)
    tok = "";
  return copy_field(k->access_key_id, sizeof(k->access_key_id), id, strlen(id)) ||
         copy_field(k->secret_access_key, sizeof(k->secret_access_key), secret,
                    strlen(secret)) ||
         copy_field(k->session_token, sizeof(k->session_token), tok, strlen(tok))
           ? -1 : 0;
}

/* Overwrite the caller's credential strings inside the arguments; the
   arguments object is freed with the arena at the end of the request. */
static void caller_creds_wipe(struct vmb_call *c)
{
  json_object *v;
  for(size_t i = 0; caller_cred_args[i]; i++)
    if(c->args && json_object_object_get_ex(c->args, caller_cred_args[i], &v) &&
       json_object_is_type(v, json_type_string))
      OPENSSL_cleanse((void *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/*
** Readiness (SPEC section 6: /readyz reports KMS when enabled). Checked
** offline: a region and loadable credentials. A network probe would cost
** a KMS request per health check and prove little more, since a wrong key
** policy only shows on the real operation.
*/
int vmb_kms_ready(struct vmb_request *req, json_object *out, const char **problem)
{
  struct kms_creds k;
  const char *why = NULL;
  json_object *kms;
  int ok;
  (void)req;
  *problem = NULL;
  if(!conf.enabled)
    return 0;
  memset(&k, 0, sizeof(k));
  kms = json_object_new_object();
  json_object_object_add(kms, "enabled", json_object_new_boolean(1));
  json_object_object_add(kms, "region", json_object_new_string(conf.region));
  ok = *conf.region != '\0';
  if(!ok)
    why = "AWS_REGION is not set";
  else if(creds_load(&k, &why) != 0)
    ok = 0;
  creds_wipe(&k);
  json_object_object_add(kms, "credentials", json_object_new_boolean(ok));
  if(!ok)
    json_object_object_add(kms, "error", json_object_new_string(why ? why : "no credentials"));
  json_object_object_add(out, "kms", kms);
  if(!ok)
    *problem = "AWS KMS is enabled but has no region or credentials";
  return ok ? 0 : -1;
}

/* ---- one KMS call ---------------------------------------------------- */

/* KMS's X-Amzn-ErrorType header, when this line is it (see backends.h). */
void vmb_kms_reply_header(struct vmb_kms_reply *r, const char *ptr, size_t n)
{
  static const char name[] = "x-amzn-errortype:";
  if(n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
    size_t vn = n - (sizeof(name) - 1);
    const char *v = trim(ptr + sizeof(name) - 1, &vn);
    while(vn && (v[vn - 1] == '\n' || v[vn - 1] == '\r'))
      vn--;
    if(vn < sizeof(r->errtype)) {
      memcpy(r->errtype, v, vn);
      r->errtype[vn] = '\0';
    }
  }
}

static void on_header(const char *ptr, size_t n, void *ud)
{
  vmb_kms_reply_header(ud, ptr, n);
}

static void json_put(void *p) { json_object_put(p); }

/* Split the endpoint URL into host[:port] (for the Host header, signed)
   and the path (normally "/"), both in the arena. */
static int endpoint_parts(struct vmb_call *c, const char *url, const char **host,
                          const char **path)
{
  const char *h = strstr(url, "://"), *slash;
  if(!h)
    return -1;
  h += 3;
  slash = strchr(h, '/');
  *host = slash ? vmb_arena_strndup(c->req->arena, h, (size_t)(slash - h))
                : vmb_arena_strdup(c->req->arena, h);
  *path = slash ? vmb_arena_strdup(c->req->arena, slash) : "/";
  if(!*host || !**host || !*path || strchr(*host, '@') || strchr(*path, '?'))
    return -1;
  return 0;
}

/* The bare error name: the part before any ':' and after the last '#'
   (awsJson1_1 lets a name carry a namespace and a URI suffix). */
static const char *error_name(struct vmb_arena *a, const char *raw)
{
  const char *s = raw, *hash, *colon;
  size_t n;
  colon = strchr(s, ':');
  n = colon ? (size_t)(colon - s) : strlen(s);
  hash = NULL;
  for(size_t i = 0; i < n; i++)
    if(s[i] == '#')
      hash = s + i;
  if(hash) {
    n -= (size_t)(hash + 1 - s);
    s = hash + 1;
  }
  return vmb_arena_strndup(a, s, n);
}

/* KMS's error name from the header, then "code", then top-level "__type". */
static const char *reply_error_name(struct vmb_arena *a, const struct vmb_kms_reply *r)
{
  json_object *v;
  if(r->errtype[0])
    return error_name(a, r->errtype);
  if(r->body && json_object_is_type(r->body, json_type_object)) {
    if(json_object_object_get_ex(r->body, "code", &v) && json_object_is_type(v, json_type_string))
      return error_name(a, json_object_get_string(v));
    if(json_object_object_get_ex(r->body, "__type", &v) &&
       json_object_is_type(v, json_type_string))
      return error_name(a, json_object_get_string(v));
  }
  return "";
}

static const char *reply_message(const struct vmb_kms_reply *r)
{
  json_object *v;
  if(!r->body || !json_object_is_type(r->body, json_type_object))
    return NULL;
  if((json_object_object_get_ex(r->body, "message", &v) ||
      json_object_object_get_ex(r->body, "Message", &v)) &&
     json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  return NULL;
}

static int name_in(const char *name, const char *const *list)
{
  for(; *list; list++)
    if(strcmp(name, *list) == 0)
      return 1;
  return 0;
}

/* Translate a KMS failure. Decided by the error name, never the text. */
static enum vmb_err kms_fail(struct vmb_arena *a, struct vmb_kms_reply *r)
{
  static const char *const client[] = {
    "ValidationException", "InvalidCiphertextException", "IncorrectKeyException",
    "InvalidKeyUsageException", "InvalidGrantTokenException", "DisabledException",
    "KMSInvalidStateException", "KMSInvalidSignatureException", "SerializationException",
    "InvalidParameterValueException", "InvalidParameterCombinationException",
    "MissingParameterException", NULL};
  static const char *const throttled[] = {
    "ThrottlingException", "ThrottledException", "LimitExceededException",
    "RequestLimitExceeded", "TooManyRequestsException", NULL};
  const char *name = reply_error_name(a, r);
  const char *msg = reply_message(r);

  if(!name) {
    r->detail = "out of memory";
    return VMB_ERR_NOMEM;
  }
  r->error_name = name;
  if(strcmp(name, "AccessDeniedException") == 0) {
    r->detail = "AWS KMS denied the operation (AccessDeniedException)";
    return VMB_ERR_VAULT_DENIED;
  }
  if(strcmp(name, "NotFoundException") == 0) {
    r->detail = "the KMS key was not found (NotFoundException)";
    return VMB_ERR_NOT_FOUND;
  }
  if(name_in(name, client)) {
    /* KMS's text for a client error explains what to fix; it names keys
       and fields, not the data. Cut it short all the same. */
    r->detail = msg ? vmb_arena_printf(a, "AWS KMS refused the request (%s): %.200s", name,
                                       msg)
                    : vmb_arena_printf(a, "AWS KMS refused the request (%s)", name);
    return VMB_ERR_BAD_REQUEST;
  }
  if(name_in(name, throttled)) {
    r->detail = "AWS KMS is throttling requests; retry later";
    return VMB_ERR_RATE_LIMITED;
  }
  r->detail = *name ? vmb_arena_printf(a, "AWS KMS failed (%s, HTTP %ld)", name, r->status)
                    : vmb_arena_printf(a, "AWS KMS answered with HTTP %ld", r->status);
  return VMB_ERR_UPSTREAM_ERROR;
}

enum vmb_err vmb_kms_reply_read(struct vmb_arena *a, struct vmb_kms_reply *r,
                                const char *body, size_t len)
{
  r->body = NULL;
  r->error_name = NULL;
  r->detail = NULL;
  if(body && len) {
    r->body = vmb_json_parse(body, len, 16);
    if(r->body && vmb_arena_defer(a, json_put, r->body)) {
      json_object_put(r->body);
      r->body = NULL;
      r->detail = "out of memory";
      return VMB_ERR_NOMEM;
    }
  }
  if(r->status == 200 && r->body && json_object_is_type(r->body, json_type_object))
    return VMB_ERR_OK;
  if(r->status == 200) {
    r->detail = "AWS KMS sent a reply that is not a JSON object";
    return VMB_ERR_UPSTREAM_ERROR;
  }
  return kms_fail(a, r);
}

/* Header lines of one call, built here and wiped after the call: the
   Authorization and X-Amz-Security-Token lines are credentials. */
#define KMS_HEADER_LINES 7
#define KMS_HEADER_LINE_MAX 4400
struct kms_headers {
  char line[KMS_HEADER_LINES][KMS_HEADER_LINE_MAX];
  const char *list[KMS_HEADER_LINES + 1];
  size_t n;
};

static int add_header(struct kms_headers *hd, const char *name, const char *value)
{
  int w;
  if(hd->n >= KMS_HEADER_LINES)
    return -1;
  w = snprintf(hd->line[hd->n], KMS_HEADER_LINE_MAX, "%s: %s", name, value);
  if(w < 0 || (size_t)w >= KMS_HEADER_LINE_MAX)
    return -1;
  hd->list[hd->n] = hd->line[hd->n];
  hd->n++;
  hd->list[hd->n] = NULL;
  return 0;
}

/*
** POST one KMS operation. body is BORROWED. On VMB_ERR_OK *out is KMS's
** reply object (owned by the arena, wiped at reset). Failures come back
** translated with c->detail set.
*/
static enum vmb_err kms_call(struct vmb_call *c, const char *operation, json_object *body,
                             json_object **out)
{
  struct kms_creds k;
  struct vmb_kms_reply r;
  struct vmb_sigv4_result sig;
  struct vmb_sigv4_header h[5];
  struct vmb_sigv4_request sreq;
  struct vmb_sigv4_creds sc;
  struct vmb_upstream_call call;
  struct vmb_upstream_reply up;
  struct kms_headers *hd = NULL;
  const char *why = NULL, *host = NULL, *path = NULL, *url, *body_text;
  char amz_date[17], target[64];
  enum vmb_err e = VMB_ERR_INTERNAL;
  size_t nh = 0;
  int failed = 0;

  memset(&r, 0, sizeof(r));
  memset(&up, 0, sizeof(up));
  vmb_sigv4_result_init(&sig);
  if(caller_creds_present(c)) {
    /* kms_begin checked setting, scope and shape already. */
    if(caller_creds_load(c, &k)) {
      c->detail = "the caller's AWS credentials are too long";
      e = VMB_ERR_BAD_REQUEST;
      goto out;
    }
    json_object_object_add(c->log_fields, "credentials", json_object_new_string("caller"));
  }
  else if(creds_load(&k, &why)) {
    vmb_log_server(VMB_LOG_WARN, "kms", why);
    c->detail = "the bridge has no usable AWS credentials";
    e = VMB_ERR_NOT_ENABLED;
    goto out;
  }
  url = *conf.endpoint
          ? conf.endpoint
          : vmb_arena_printf(c->req->arena, "https://kms.%s.amazonaws.com/",
                             conf.region);
  if(!url || endpoint_parts(c, url, &host, &path)) {
    c->detail = "AWS_KMS_ENDPOINT is not a usable URL";
    goto out;
  }
  if(vmb_sigv4_amz_date(time(NULL), amz_date) ||
     snprintf(target, sizeof(target), "TrentService.%s", operation) >= (int)sizeof(target))
    goto out;
  body_text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE);
  if(!body_text) {
    e = VMB_ERR_NOMEM;
    goto out;
  }

  h[nh++] = (struct vmb_sigv4_header){"Content-Type", "application/x-amz-json-1.1"};
  h[nh++] = (struct vmb_sigv4_header){"Host", host};
  h[nh++] = (struct vmb_sigv4_header){"X-Amz-Date", amz_date};
  h[nh++] = (struct vmb_sigv4_header){"X-Amz-Target", target};
  if(k.session_token[0])
    h[nh++] = (struct vmb_sigv4_header){"X-Amz-Security-Token", k.session_token};
  memset(&sreq, 0, sizeof(sreq));
  sreq.method = "POST";
  sreq.path = path;
  sreq.headers = h;
  sreq.n_headers = nh;
  sreq.payload = body_text;
  sreq.payload_len = strlen(body_text);
  sc.access_key_id = k.access_key_id;
  sc.secret_access_key = k.secret_access_key;
  if(vmb_sigv4_sign(&sreq, conf.region, "kms", amz_date, &sc, &sig)) {
    c->detail = "could not sign the KMS request (check AWS_REGION and the credentials)";
    goto out;
  }
  hd = calloc(1, sizeof(*hd));
  if(!hd) {
    e = VMB_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < nh; i++)
    failed |= add_header(hd, h[i].name, h[i].value);
  failed |= add_header(hd, "Authorization", sig.authz.data);
  if(failed) {
    e = VMB_ERR_NOMEM;
    goto out;
  }

  memset(&call, 0, sizeof(call));
  call.method = "POST";
  call.url = url;
  call.headers = hd->list;
  call.body = body_text;
  call.body_len = strlen(body_text);
  call.op = operation;
  call.trace = &c->req->trace;
  call.on_header = on_header;
  call.header_ud = &r;
  vmb_upstream_call(&c->req->worker->conns, &upstream, &call, &up);
  /* The body held plaintext, ciphertext or a message to sign. */
  OPENSSL_cleanse((void *)body_text, strlen(body_text));
  if(up.failure == VMB_UPSTREAM_NOMEM) {
    e = VMB_ERR_NOMEM;
    goto out;
  }
  if(up.failure != VMB_UPSTREAM_ANSWERED) {
    json_object *f = json_object_new_object();
    json_object_object_add(f, "request_id", json_object_new_string(c->req->request_id));
    json_object_object_add(f, "operation", json_object_new_string(c->op->id));
    json_object_object_add(f, "curl_error", json_object_new_string(up.error ? up.error : ""));
    vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "kms", "KMS call failed", f);
    json_object_put(f);
    if(up.failure == VMB_UPSTREAM_TOO_LARGE) {
      c->detail = "AWS KMS sent an oversized reply";
      e = VMB_ERR_UPSTREAM_ERROR;
    }
    else {
      c->detail = "AWS KMS is unreachable or timed out";
      e = VMB_ERR_UPSTREAM_UNAVAILABLE;
    }
    goto out;
  }
  r.status = up.status;
  e = vmb_kms_reply_read(c->req->arena, &r, up.body.data, up.body.len);
  if(e == VMB_ERR_OK) {
    *out = r.body;
  }
  else {
    c->detail = r.detail;
    if(r.error_name) {
      /* A failure KMS named: its status and error name go to the log
         (vmb_h_kms_verify reads kms_error back). */
      json_object_object_add(c->log_fields, "kms_status", json_object_new_int64(r.status));
      if(*r.error_name)
        json_object_object_add(c->log_fields, "kms_error",
                               json_object_new_string(r.error_name));
    }
  }
out:
  creds_wipe(&k);
  caller_creds_wipe(c);
  vmb_sigv4_result_free(&sig);
  if(hd) {
    OPENSSL_cleanse(hd, sizeof(*hd));
    free(hd);
  }
  /* The reply held plaintext, a data key or ciphertext. */
  if(up.body.data)
    OPENSSL_cleanse(up.body.data, up.body.len);
  vmb_buf_free(&up.body);
  return e;
}

/* ---- arguments and results ------------------------------------------- */

/* The gate has checked the shape; this is the part the table cannot say:
   KMS is enabled, and which key to use. */
static enum vmb_err kms_begin(struct vmb_call *c, json_object **body, int with_key,
                              int key_required)
{
  const char *key;
  enum vmb_err e;
  *body = NULL;
  if((e = caller_creds_check(c)) != VMB_ERR_OK) {
    caller_creds_wipe(c);
    return e;
  }
  if(!conf.enabled) {
    c->detail = "AWS KMS is not enabled on this bridge (AWS_KMS_ENABLED=false)";
    return VMB_ERR_NOT_ENABLED;
  }
  if(!*conf.region && !*conf.endpoint) {
    c->detail = "AWS KMS is enabled but AWS_REGION is not set";
    return VMB_ERR_NOT_ENABLED;
  }
  *body = json_object_new_object();
  if(!*body)
    return VMB_ERR_NOMEM;
  if(vmb_arena_defer(c->req->arena, json_put, *body)) {
    *body = NULL;
    return VMB_ERR_NOMEM;
  }
  if(!with_key)
    return VMB_ERR_OK;
  key = vmb_arg_str(c, "key_id");
  if(!key || !*key)
    key = *conf.default_key_id ? conf.default_key_id : NULL;
  if(!key) {
    if(!key_required)
      return VMB_ERR_OK;
    c->detail = "field 'key_id' is required (no AWS_KMS_DEFAULT_KEY_ID is configured)";
    return VMB_ERR_BAD_REQUEST;
  }
  json_object_object_add(*body, "KeyId", json_object_new_string(key));
  json_object_object_add(c->log_fields, "key_id", json_object_new_string(key));
  return VMB_ERR_OK;
}

/* Decoded size of a base64 argument (already checked strict by the gate),
   which must be within [min, max] bytes. Copies the text into the body
   under member. */
static enum vmb_err blob_arg(struct vmb_call *c, json_object *body, const char *arg,
                             const char *member, size_t min, size_t max, size_t *nbytes)
{
  const char *s = vmb_arg_str(c, arg);
  size_t n = 0;
  unsigned char *d;
  if(!s) {
    c->detail = vmb_arena_printf(c->req->arena, "missing required field '%s'", arg);
    return VMB_ERR_BAD_REQUEST;
  }
  d = vmb_b64_decode(s, strlen(s), &n);
  if(!d) {
    c->detail = vmb_arena_printf(c->req->arena, "field '%s' must be standard base64", arg);
    return VMB_ERR_BAD_REQUEST;
  }
  OPENSSL_cleanse(d, n);
  free(d);
  if(n < min || n > max) {
    c->detail = vmb_arena_printf(c->req->arena, "field '%s' must decode to %zu to %zu bytes",
                                 arg, min, max);
    return VMB_ERR_BAD_REQUEST;
  }
  json_object_object_add(body, member, json_object_new_string(s));
  if(nbytes)
    *nbytes = n;
  return VMB_ERR_OK;
}

/* encryption_context must map strings to strings; grant_tokens is already
   an array of strings (the gate checked it). */
static enum vmb_err context_and_grants(struct vmb_call *c, json_object *body)
{
  json_object *ctx = vmb_arg(c, "encryption_context");
  json_object *grants = vmb_arg(c, "grant_tokens");
  if(ctx) {
    json_object_object_foreach(ctx, key, val) {
      (void)key;
      if(!json_object_is_type(val, json_type_string)) {
        c->detail = "field 'encryption_context' must map strings to strings";
        return VMB_ERR_BAD_REQUEST;
      }
    }
    if(json_object_object_length(ctx) > 0)
      json_object_object_add(body, "EncryptionContext", json_object_get(ctx));
    json_object_object_add(c->log_fields, "encryption_context_keys",
                           json_object_new_int((int)json_object_object_length(ctx)));
  }
  if(grants && json_object_array_length(grants) > 0)
    json_object_object_add(body, "GrantTokens", json_object_get(grants));
  return VMB_ERR_OK;
}

/* Copy a blob member of KMS's reply into result as name, after checking
   it is standard base64; its decoded size goes to the log as log_name. */
static enum vmb_err result_blob(struct vmb_call *c, json_object *reply, const char *member,
                                json_object *result, const char *name, const char *log_name)
{
  json_object *v;
  const char *s;
  unsigned char *d;
  size_t n = 0;
  if(!json_object_object_get_ex(reply, member, &v) || !json_object_is_type(v, json_type_string))
    goto bad;
  s = json_object_get_string(v);
  d = vmb_b64_decode(s, strlen(s), &n);
  if(!d)
    goto bad;
  OPENSSL_cleanse(d, n);
  free(d);
  json_object_object_add(result, name, json_object_get(v));
  if(log_name)
    json_object_object_add(c->log_fields, log_name, json_object_new_int64((int64_t)n));
  return VMB_ERR_OK;
bad:
  c->detail = vmb_arena_printf(c->req->arena, "AWS KMS's answer lacks a valid '%s'", member);
  return VMB_ERR_UPSTREAM_ERROR;
}

/* Copy an optional string member of KMS's reply into result. */
static void result_string(json_object *reply, const char *member, json_object *result,
                          const char *name)
{
  json_object *v;
  if(json_object_object_get_ex(reply, member, &v) && json_object_is_type(v, json_type_string))
    json_object_object_add(result, name, json_object_get(v));
}

/* A NEW result object whose ownership passes to c->result on success. */
static json_object *new_result(struct vmb_call *c)
{
  return json_object_new_object();
}

static enum vmb_err finish(struct vmb_call *c, json_object *res, enum vmb_err e)
{
  if(e == VMB_ERR_OK)
    c->result = res;
  else
    json_object_put(res);
  return e;
}

/* ---- handlers --------------------------------------------------------- */

enum vmb_err vmb_h_kms_encrypt(struct vmb_call *c)
{
  json_object *body, *reply = NULL, *res;
  size_t n = 0;
  enum vmb_err e = kms_begin(c, &body, 1, 1);
  if(e == VMB_ERR_OK)
    e = blob_arg(c, body, "plaintext", "Plaintext", 1, 4096, &n);
  if(e == VMB_ERR_OK)
    e = context_and_grants(c, body);
  if(e != VMB_ERR_OK)
    return e;
  json_object_object_add(c->log_fields, "plaintext_bytes", json_object_new_int64((int64_t)n));
  e = kms_call(c, "Encrypt", body, &reply);
  if(e != VMB_ERR_OK)
    return e;
  if(!(res = new_result(c)))
    return VMB_ERR_NOMEM;
  e = result_blob(c, reply, "CiphertextBlob", res, "ciphertext", "ciphertext_bytes");
  result_string(reply, "KeyId", res, "key_id");
  result_string(reply, "EncryptionAlgorithm", res, "encryption_algorithm");
  return finish(c, res, e);
}

enum vmb_err vmb_h_kms_decrypt(struct vmb_call *c)
{
  json_object *body, *reply = NULL, *res;
  size_t n = 0;
  /* KeyId is optional for symmetric keys (KMS reads it from the blob);
     the configured default is sent when there is one. */
  enum vmb_err e = kms_begin(c, &body, 1, 0);
  if(e == VMB_ERR_OK)
    e = blob_arg(c, body, "ciphertext", "CiphertextBlob", 1, 6144, &n);
  if(e == VMB_ERR_OK)
    e = context_and_grants(c, body);
  if(e != VMB_ERR_OK)
    return e;
  json_object_object_add(c->log_fields, "ciphertext_bytes", json_object_new_int64((int64_t)n));
  e = kms_call(c, "Decrypt", body, &reply);
  if(e != VMB_ERR_OK)
    return e;
  if(!(res = new_result(c)))
    return VMB_ERR_NOMEM;
  e = result_blob(c, reply, "Plaintext", res, "plaintext", "plaintext_bytes");
  result_string(reply, "KeyId", res, "key_id");
  result_string(reply, "EncryptionAlgorithm", res, "encryption_algorithm");
  return finish(c, res, e);
}

enum vmb_err vmb_h_kms_generate_data_key(struct vmb_call *c)
{
  json_object *body, *reply = NULL, *res, *spec, *nb;
  enum vmb_err e = kms_begin(c, &body, 1, 1);
  if(e == VMB_ERR_OK)
    e = context_and_grants(c, body);
  if(e != VMB_ERR_OK)
    return e;
  spec = vmb_arg(c, "key_spec");
  nb = vmb_arg(c, "number_of_bytes");
  if(spec && nb) {
    c->detail = "give either 'key_spec' or 'number_of_bytes', not both";
    return VMB_ERR_BAD_REQUEST;
  }
  if(nb) {
    json_object_object_add(body, "NumberOfBytes", json_object_get(nb));
    json_object_object_add(c->log_fields, "number_of_bytes", json_object_get(nb));
  }
  else {
    const char *s = spec ? json_object_get_string(spec) : "AES_256";
    json_object_object_add(body, "KeySpec", json_object_new_string(s));
    json_object_object_add(c->log_fields, "key_spec", json_object_new_string(s));
  }
  e = kms_call(c, "GenerateDataKey", body, &reply);
  if(e != VMB_ERR_OK)
    return e;
  if(!(res = new_result(c)))
    return VMB_ERR_NOMEM;
  /* The data key goes to the caller (that is the point of the call) but
     only its size reaches the log. */
  e = result_blob(c, reply, "Plaintext", res, "plaintext", "data_key_bytes");
  if(e == VMB_ERR_OK)
    e = result_blob(c, reply, "CiphertextBlob", res, "ciphertext", "ciphertext_bytes");
  result_string(reply, "KeyId", res, "key_id");
  return finish(c, res, e);
}

/* Sign and Verify share their input: exactly one of message and
   message_digest, the algorithm, and the message type. */
static enum vmb_err sign_input(struct vmb_call *c, json_object *body)
{
  const char *msg = vmb_arg_str(c, "message");
  const char *digest = vmb_arg_str(c, "message_digest");
  const char *type = vmb_arg_str(c, "message_type");
  const char *alg = vmb_arg_str(c, "signing_algorithm");
  size_t n = 0;
  enum vmb_err e;
  if((msg && digest) || (!msg && !digest)) {
    c->detail = "give exactly one of 'message' and 'message_digest'";
    return VMB_ERR_BAD_REQUEST;
  }
  if(digest && type && strcmp(type, "DIGEST") != 0) {
    c->detail = "'message_digest' goes with message_type DIGEST";
    return VMB_ERR_BAD_REQUEST;
  }
  e = msg ? blob_arg(c, body, "message", "Message", 1, 4096, &n)
          : blob_arg(c, body, "message_digest", "Message", 1, 4096, &n);
  if(e != VMB_ERR_OK)
    return e;
  if(!type)
    type = digest ? "DIGEST" : "RAW";
  json_object_object_add(body, "MessageType", json_object_new_string(type));
  json_object_object_add(body, "SigningAlgorithm", json_object_new_string(alg));
  json_object_object_add(c->log_fields, "signing_algorithm", json_object_new_string(alg));
  json_object_object_add(c->log_fields, "message_type", json_object_new_string(type));
  json_object_object_add(c->log_fields, "message_bytes", json_object_new_int64((int64_t)n));
  return context_and_grants(c, body);
}

enum vmb_err vmb_h_kms_sign(struct vmb_call *c)
{
  json_object *body, *reply = NULL, *res;
  enum vmb_err e = kms_begin(c, &body, 1, 1);
  if(e == VMB_ERR_OK)
    e = sign_input(c, body);
  if(e != VMB_ERR_OK)
    return e;
  e = kms_call(c, "Sign", body, &reply);
  if(e != VMB_ERR_OK)
    return e;
  if(!(res = new_result(c)))
    return VMB_ERR_NOMEM;
  e = result_blob(c, reply, "Signature", res, "signature", "signature_bytes");
  result_string(reply, "KeyId", res, "key_id");
  result_string(reply, "SigningAlgorithm", res, "signing_algorithm");
  return finish(c, res, e);
}

enum vmb_err vmb_h_kms_verify(struct vmb_call *c)
{
  json_object *body, *reply = NULL, *res, *v;
  size_t n = 0;
  enum vmb_err e = kms_begin(c, &body, 1, 1);
  if(e == VMB_ERR_OK)
    e = sign_input(c, body);
  if(e == VMB_ERR_OK)
    e = blob_arg(c, body, "signature", "Signature", 1, 6144, &n);
  if(e != VMB_ERR_OK)
    return e;
  json_object_object_add(c->log_fields, "signature_bytes", json_object_new_int64((int64_t)n));
  e = kms_call(c, "Verify", body, &reply);
  /* KMS reports a signature that does not verify as an error
     (KMSInvalidSignatureException), not as SignatureValid:false. For the
     caller that is an answer, not a failure: {valid:false}, like
     transit.verify. */
  if(e == VMB_ERR_BAD_REQUEST) {
    json_object *name;
    if(json_object_object_get_ex(c->log_fields, "kms_error", &name) &&
       strcmp(json_object_get_string(name), "KMSInvalidSignatureException") == 0) {
      if(!(res = new_result(c)))
        return VMB_ERR_NOMEM;
      c->detail = NULL;
      json_object_object_add(res, "valid", json_object_new_boolean(0));
      json_object_object_add(c->log_fields, "valid", json_object_new_boolean(0));
      return finish(c, res, VMB_ERR_OK);
    }
  }
  if(e != VMB_ERR_OK)
    return e;
  if(!json_object_object_get_ex(reply, "SignatureValid", &v) ||
     !json_object_is_type(v, json_type_boolean)) {
    c->detail = "AWS KMS's answer lacks 'SignatureValid'";
    return VMB_ERR_UPSTREAM_ERROR;
  }
  if(!(res = new_result(c)))
    return VMB_ERR_NOMEM;
  json_object_object_add(res, "valid", json_object_new_boolean(json_object_get_boolean(v)));
  json_object_object_add(c->log_fields, "valid",
                         json_object_new_boolean(json_object_get_boolean(v)));
  result_string(reply, "KeyId", res, "key_id");
  result_string(reply, "SigningAlgorithm", res, "signing_algorithm");
  return finish(c, res, VMB_ERR_OK);
}
