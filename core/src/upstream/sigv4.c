/*
** sigv4.c - AWS Signature Version 4, written from AWS's description of
** the algorithm (canonical request -> string to sign -> HMAC chain).
**
** Everything is built in bounded vmb_bufs; the derived keys and the
** "AWS4"+secret seed live on the stack and are wiped before returning.
** Canonicalisation follows the rules for every service except S3: dot
** segments are removed and empty segments collapsed in the path, and
** each path segment and query component is percent-encoded with only
** the RFC 3986 unreserved set left alone.
*/
#include "sigv4.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Limits on what is canonicalised. KMS sends five headers and no query;
   these only keep hostile or broken input from growing without bound. */
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_PARAMS 256
#define SIGV4_MAX_SEGMENTS 256
#define SIGV4_TEXT_MAX (1024u * 1024u)

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

void vmb_sigv4_result_init(struct vmb_sigv4_result *r)
{
  vmb_buf_init(&r->creq, SIGV4_TEXT_MAX);
  vmb_buf_init(&r->sts, 4096);
  vmb_buf_init(&r->authz, 8192);
}

void vmb_sigv4_result_free(struct vmb_sigv4_result *r)
{
  vmb_buf_free(&r->creq);
  vmb_buf_free(&r->sts);
  vmb_buf_free(&r->authz);
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
  size_t i;
  for(i = 0; i < n; i++) {
    out[2 * i] = hexdig_lower[d[i] >> 4];
    out[2 * i + 1] = hexdig_lower[d[i] & 15];
  }
  out[2 * n] = '\0';
}

int vmb_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if(!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
    return -1;
  to_hex(md, 32, out);
  return 0;
}

int vmb_sigv4_amz_date(time_t t, char out[17])
{
  struct tm tm;
  if(!gmtime_r(&t, &tm))
    return -1;
  return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16 ? 0 : -1;
}

static bool unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encode s[0..n) onto b: unreserved bytes stay, everything else
   (including '/', '%' and raw UTF-8) becomes %XX with upper-case hex. */
static int encode_onto(struct vmb_buf *b, const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(unreserved(c)) {
      if(vmb_buf_append(b, &s[i], 1))
        return -1;
    }
    else {
      char e[3] = {'%', hexdig_upper[c >> 4], hexdig_upper[c & 15]};
      if(vmb_buf_append(b, e, 3))
        return -1;
    }
  }
  return 0;
}

static int hexval(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A query component may arrive already percent-encoded (what goes on the
   wire) or raw. Decoding valid %XX escapes first and encoding afterwards
   gives the same canonical text for both; a '%' that does not start a
   valid escape is kept as a literal byte and so becomes %25. */
static int encode_query_part(struct vmb_buf *b, const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++) {
    char ch = s[i];
    if(ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    }
    if(encode_onto(b, &ch, 1))
      return -1;
  }
  return 0;
}

/* The canonical URI: dot segments resolved, empty segments dropped, each
   remaining segment encoded, a trailing '/' kept when the path ends in a
   directory ("/", "/." or "/.."). An empty path is "/". */
static int canonical_uri(struct vmb_buf *b, const char *path)
{
  const char *seg[SIGV4_MAX_SEGMENTS];
  size_t seglen[SIGV4_MAX_SEGMENTS];
  size_t nseg = 0, i, plen;
  const char *p = path ? path : "";
  bool dir_end;

  plen = strlen(p);
  dir_end = plen > 0 && (p[plen - 1] == '/' ||
                         (plen >= 2 && strcmp(p + plen - 2, "/.") == 0) ||
                         (plen >= 3 && strcmp(p + plen - 3, "/..") == 0));
  while(*p) {
    const char *s;
    size_t n;
    while(*p == '/')
      p++;
    s = p;
    while(*p && *p != '/')
      p++;
    n = (size_t)(p - s);
    if(n == 0 || (n == 1 && s[0] == '.'))
      continue;
    if(n == 2 && s[0] == '.' && s[1] == '.') {
      if(nseg)
        nseg--;
      continue;
    }
    if(nseg == SIGV4_MAX_SEGMENTS)
      return -1;
    seg[nseg] = s;
    seglen[nseg] = n;
    nseg++;
  }
  if(vmb_buf_append(b, "/", 1))
    return -1;
  for(i = 0; i < nseg; i++) {
    if(encode_onto(b, seg[i], seglen[i]))
      return -1;
    if((i + 1 < nseg || dir_end) && vmb_buf_append(b, "/", 1))
      return -1;
  }
  return 0;
}

struct qparam {
  char *name;      /* encoded, malloc'ed */
  char *value;     /* encoded, malloc'ed */
};

static int qparam_cmp(const void *a, const void *b)
{
  const struct qparam *x = a, *y = b;
  int r = strcmp(x->name, y->name);
  return r ? r : strcmp(x->value, y->value);
}

/* Encode one component into a fresh malloc'ed string (NULL on failure). */
static char *encoded_copy(const char *s, size_t n)
{
  struct vmb_buf t;
  vmb_buf_init(&t, SIGV4_TEXT_MAX);
  if(encode_query_part(&t, s, n)) {
    vmb_buf_free(&t);
    return NULL;
  }
  return vmb_buf_steal(&t);
}

/* The canonical query string: name=value pairs, each side encoded, sorted
   by name and then by value (byte order), joined with '&'. A name with no
   '=' has an empty value. */
static int canonical_query(struct vmb_buf *b, const char *query)
{
  struct qparam *params;
  size_t n = 0, i;
  const char *p = query;
  int rc = -1;
  if(!query || !*query)
    return 0;
  params = calloc(SIGV4_MAX_PARAMS, sizeof(*params));
  if(!params)
    return -1;
  while(*p) {
    const char *s = p, *eq;
    size_t len;
    while(*p && *p != '&')
      p++;
    len = (size_t)(p - s);
    if(*p == '&')
      p++;
    if(len == 0)
      continue;
    if(n == SIGV4_MAX_PARAMS)
      goto out;
    eq = memchr(s, '=', len);
    params[n].name = encoded_copy(s, eq ? (size_t)(eq - s) : len);
    params[n].value = eq ? encoded_copy(eq + 1, len - (size_t)(eq - s) - 1)
                         : encoded_copy("", 0);
    n++;
    if(!params[n - 1].name || !params[n - 1].value)
      goto out;
  }
  qsort(params, n, sizeof(*params), qparam_cmp);
  for(i = 0; i < n; i++) {
    if((i && vmb_buf_append(b, "&", 1)) || vmb_buf_append_str(b, params[i].name) ||
       vmb_buf_append(b, "=", 1) || vmb_buf_append_str(b, params[i].value))
      goto out;
  }
  rc = 0;
out:
  for(i = 0; i < n; i++) {
    free(params[i].name);
    free(params[i].value);
  }
  free(params);
  return rc;
}

struct hdr_ref {
  char name[128];      /* lower-cased */
  const char *value;
  size_t order;        /* position in the input: keeps repeated values in order */
};

static int hdr_cmp(const void *a, const void *b)
{
  const struct hdr_ref *x = a, *y = b;
  int r = strcmp(x->name, y->name);
  if(r)
    return r;
  return x->order < y->order ? -1 : x->order > y->order;
}

static bool header_name_ok(const char *s)
{
  size_t n = strlen(s), i;
  if(n == 0 || n >= sizeof(((struct hdr_ref *)0)->name))
    return false;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c <= ' ' || c >= 127 || c == ':')
      return false;
  }
  return true;
}

/* A header value in canonical form: surrounding blanks dropped and each
   run of blanks inside reduced to one space. */
static int append_value(struct vmb_buf *b, const char *v)
{
  bool pending_space = false, started = false;
  for(; v && *v; v++) {
    if(*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
      pending_space = started;
      continue;
    }
    if(pending_space && vmb_buf_append(b, " ", 1))
      return -1;
    pending_space = false;
    started = true;
    if(vmb_buf_append(b, v, 1))
      return -1;
  }
  return 0;
}

/* Canonical headers onto creq (one "name:values\n" line per distinct
   name, sorted) and the signed-headers list onto signed_list. */
static int canonical_headers(struct vmb_buf *creq, struct vmb_buf *signed_list,
                             const struct vmb_sigv4_request *req)
{
  struct hdr_ref h[SIGV4_MAX_HEADERS];
  size_t i, j;
  if(req->n_headers > SIGV4_MAX_HEADERS)
    return -1;
  for(i = 0; i < req->n_headers; i++) {
    const char *nm = req->headers[i].name;
    if(!nm || !header_name_ok(nm))
      return -1;
    for(j = 0; nm[j]; j++)
      h[i].name[j] = (nm[j] >= 'A' && nm[j] <= 'Z') ? (char)(nm[j] - 'A' + 'a') : nm[j];
    h[i].name[j] = '\0';
    h[i].value = req->headers[i].value;
    h[i].order = i;
  }
  qsort(h, req->n_headers, sizeof(h[0]), hdr_cmp);
  for(i = 0; i < req->n_headers; i++) {
    bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
    bool last = i + 1 == req->n_headers || strcmp(h[i].name, h[i + 1].name) != 0;
    if(first) {
      if(vmb_buf_append_str(creq, h[i].name) || vmb_buf_append(creq, ":", 1))
        return -1;
      if(signed_list->len && vmb_buf_append(signed_list, ";", 1))
        return -1;
      if(vmb_buf_append_str(signed_list, h[i].name))
        return -1;
    }
    else if(vmb_buf_append(creq, ",", 1))
      return -1;
    if(append_value(creq, h[i].value))
      return -1;
    if(last && vmb_buf_append(creq, "\n", 1))
      return -1;
  }
  return 0;
}

static bool amz_date_ok(const char *d)
{
  size_t i;
  if(!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
    return false;
  for(i = 0; i < 15; i++)
    if(i != 8 && (d[i] < '0' || d[i] > '9'))
      return false;
  return true;
}

/* A scope element (region, service) must not break the "/"-separated
   credential scope. */
static bool scope_part_ok(const char *s)
{
  return s && *s && !strchr(s, '/') && strlen(s) < 64;
}

static int hmac256(const void *key, size_t keylen, const void *data, size_t len,
                   unsigned char out[32])
{
  unsigned int outlen = 0;
  if(!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
    return -1;
  return 0;
}

int vmb_sigv4_sign(const struct vmb_sigv4_request *req, const char *region,
                   const char *service, const char *amz_date,
                   const struct vmb_sigv4_creds *creds,
                   struct vmb_sigv4_result *out)
{
  struct vmb_buf signed_list;
  char payload_hex[65], creq_hex[65], sig_hex[65], date[9];
  unsigned char k[32], sig[32];
  char seed[256];
  int rc = -1, n;

  vmb_buf_init(&signed_list, 8192);
  if(!req || !req->method || !amz_date_ok(amz_date) || !scope_part_ok(region) ||
     !scope_part_ok(service) || !creds || !creds->access_key_id ||
     !creds->secret_access_key || !*creds->access_key_id ||
     strchr(creds->access_key_id, '/'))
    goto out;
  memcpy(date, amz_date, 8);
  date[8] = '\0';
  if(vmb_sigv4_sha256_hex(req->payload, req->payload_len, payload_hex))
    goto out;

  /* 1. Canonical request. */
  if(vmb_buf_append_str(&out->creq, req->method) || vmb_buf_append(&out->creq, "\n", 1) ||
     canonical_uri(&out->creq, req->path) || vmb_buf_append(&out->creq, "\n", 1) ||
     canonical_query(&out->creq, req->query) || vmb_buf_append(&out->creq, "\n", 1) ||
     canonical_headers(&out->creq, &signed_list, req) ||
     vmb_buf_append(&out->creq, "\n", 1) ||
     vmb_buf_append(&out->creq, signed_list.data ? signed_list.data : "", signed_list.len) ||
     vmb_buf_append(&out->creq, "\n", 1) || vmb_buf_append_str(&out->creq, payload_hex))
    goto out;

  /* 2. String to sign: algorithm, time, scope, hash of the request. */
  if(vmb_sigv4_sha256_hex(out->creq.data, out->creq.len, creq_hex) ||
     vmb_buf_printf(&out->sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                    amz_date, date, region, service, creq_hex))
    goto out;

  /* 3. Signing key: each step keys an HMAC with the previous result, so
     the secret itself is only ever used in the first step. */
  n = snprintf(seed, sizeof(seed), "AWS4%s", creds->secret_access_key);
  if(n < 0 || (size_t)n >= sizeof(seed))
    goto out;
  if(hmac256(seed, (size_t)n, date, strlen(date), k) ||
     hmac256(k, 32, region, strlen(region), k) ||
     hmac256(k, 32, service, strlen(service), k) ||
     hmac256(k, 32, "aws4_request", 12, k) ||
     hmac256(k, 32, out->sts.data, out->sts.len, sig))
    goto out;
  to_hex(sig, 32, sig_hex);

  /* 4. The Authorization header value. */
  if(vmb_buf_printf(&out->authz, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                    "SignedHeaders=%s, Signature=%s", creds->access_key_id, date, region,
                    service, signed_list.data ? signed_list.data : "", sig_hex))
    goto out;
  rc = 0;
out:
  OPENSSL_cleanse(seed, sizeof(seed));
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(sig, sizeof(sig));
  vmb_buf_free(&signed_list);
  return rc;
}
