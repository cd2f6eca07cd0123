/*
** auth_mtls.c - identity from the web server's verified client
** certificate (SPEC section 2).
**
** The web server verifies the certificate and passes its verdict as
** FastCGI params (HTTPS, SSL_CLIENT_VERIFY, SSL_CLIENT_S_DN), which the
** transport puts in req->tls and never takes from HTTP_* headers. Only
** "HTTPS on + SUCCESS + a non-empty DN" counts. The header form
** (MTLS_IDENTITY_HEADER / MTLS_VERIFY_HEADER) is read only when the
** operator sets MTLS_TRUST_PROXY_HEADERS=true, stating that a reverse
** proxy strips any client copy and sets its own; by default a client that
** sends X-SSL-Client-S-DN gains nothing.
**
** Servers spell the DN differently, so three forms are parsed:
**   RFC 2253      CN=agent,OU=Agents,O=Example\, Inc.,C=US   (Apache 2.4,
**                 nginx $ssl_client_s_dn, Caddy)
**   OpenSSL slash /C=US/O=Example, Inc./CN=agent             (legacy)
**   spaced line   C = US, O = "Example, Inc.", CN = agent    (lighttpd)
** with backslash escapes (\, \+ \" \\ and \XX hex) and quoted values. The
** subject is the value of the MTLS_SUBJECT_CN_PREFIX attribute ("CN="):
** it must occur exactly once (a second CN, perhaps smuggled inside another
** attribute of the slash form, makes the DN ambiguous and it is refused)
** and must be a valid subject. A value whose escapes decode to NUL or a
** control byte makes the whole DN invalid, and in the slash form the
** subject attribute must come last (a '/' inside it would otherwise
** shorten it). mTLS identities get the default scopes.
*/
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nspath.h"

#define DN_MAX 4096

/* The settings this module reads, taken at start-up (vmb_mtls_init).
   Strings are BORROWED from the configuration, which outlives requests. */
static struct {
  bool configured;                  /* vmb_mtls_init succeeded */
  bool trust_proxy_headers;         /* MTLS_TRUST_PROXY_HEADERS */
  const char *identity_header;      /* MTLS_IDENTITY_HEADER */
  const char *verify_header;        /* MTLS_VERIFY_HEADER */
  const char *subject_cn_prefix;    /* MTLS_SUBJECT_CN_PREFIX */
} conf;

int vmb_mtls_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  const char *p = cfg->mtls_subject_cn_prefix;
  size_t n = p ? strlen(p) : 0;
  /* The prefix names an attribute type: "CN=" or "CN" (or "UID="). */
  if(n && p[n - 1] == '=')
    n--;
  if(cfg->auth_mtls_enabled && (n == 0 || n > 64)) {
    snprintf(err, errlen, "invalid configuration: MTLS_SUBJECT_CN_PREFIX: "
             "must name an attribute such as CN=");
    return -1;
  }
  conf.trust_proxy_headers = cfg->mtls_trust_proxy_headers;
  conf.identity_header = cfg->mtls_identity_header;
  conf.verify_header = cfg->mtls_verify_header;
  conf.subject_cn_prefix = cfg->mtls_subject_cn_prefix;
  conf.configured = true;
  return 0;
}

static int hexval(char c)
{
  if(c >= '0' && c <= '9') return c - '0';
  if(c >= 'a' && c <= 'f') return c - 'a' + 10;
  if(c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Does the attribute type t[0..tl) name the wanted one (w[0..wl))? Types
   compare case-insensitively; CN also answers to its long name and OID. */
static bool type_matches(const char *t, size_t tl, const char *w, size_t wl)
{
  if(tl == wl && !strncasecmp(t, w, wl))
    return true;
  if(wl == 2 && !strncasecmp(w, "CN", 2))
    return (tl == 10 && !strncasecmp(t, "commonName", 10)) ||
           (tl == 7 && !strncmp(t, "2.5.4.3", 7));
  return false;
}

struct dn_state {
  const char *want;
  size_t want_len;
  char *out;
  size_t outlen;
  int found;
  bool last_was_want;    /* the attribute parsed last was the wanted one */
};

/* Record one decoded attribute. */
static const char *dn_attr(struct dn_state *st, const char *type, size_t tl,
                           const char *val, size_t vl)
{
  size_t i;
  if(tl == 0)
    return "bad_dn";
  /* An escape (\00, \x0a, ...) may decode to NUL or another control
     byte. No legitimate DN value holds one, and a NUL would cut the
     subject short once it becomes a C string: the identity is invalid,
     whichever attribute carries it. */
  for(i = 0; i < vl; i++)
    if((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
      return "bad_dn";
  st->last_was_want = type_matches(type, tl, st->want, st->want_len);
  if(!st->last_was_want)
    return NULL;
  if(++st->found > 1)
    return "ambiguous_cn";
  if(vl == 0)
    return "no_cn";
  if(vl >= st->outlen)
    return "bad_subject";
  memcpy(st->out, val, vl);
  st->out[vl] = '\0';
  return NULL;
}

/* RFC 2253 and the spaced one-line form: separators ',', ';' or '+',
   optional spaces around '=' and after separators, quoted or escaped
   values. The value is decoded into val (at most DN_MAX bytes). */
static const char *parse_2253(const char *dn, struct dn_state *st)
{
  char val[DN_MAX + 1];
  const char *p = dn;
  while(*p) {
    const char *type;
    size_t tl, vl = 0, keep = 0;   /* keep: length up to the last escaped
                                      or quoted byte, so unescaped trailing
                                      spaces are dropped */
    const char *why;
    while(*p == ' ')
      p++;
    type = p;
    while(*p && *p != '=' && *p != ',' && *p != '+' && *p != ';')
      p++;
    if(*p != '=')
      return "bad_dn";
    tl = (size_t)(p - type);
    while(tl && type[tl - 1] == ' ')
      tl--;
    p++;
    while(*p == ' ')
      p++;
    if(*p == '#')
      return "bad_dn";             /* BER-encoded value: not supported */
    if(*p == '"') {
      p++;
      while(*p && *p != '"') {
        if(*p == '\\') {
          p++;
          if(!*p)
            return "bad_dn";
        }
        if(vl >= DN_MAX)
          return "bad_dn";
        val[vl++] = *p++;
      }
      if(*p != '"')
        return "bad_dn";
      p++;
      keep = vl;
      while(*p == ' ')
        p++;
    }
    else {
      while(*p && *p != ',' && *p != '+' && *p != ';') {
        char c = *p;
        if(c == '"')
          return "bad_dn";          /* a quote inside an unquoted value */
        if(c == '\\') {
          int h1 = hexval(p[1]), h2 = h1 >= 0 ? hexval(p[2]) : -1;
          if(h1 >= 0 && h2 >= 0) {
            c = (char)(h1 * 16 + h2);
            p += 3;
          }
          else if(p[1]) {
            c = p[1];
            p += 2;
          }
          else {
            return "bad_dn";
          }
          if(vl >= DN_MAX)
            return "bad_dn";
          val[vl++] = c;
          keep = vl;
          continue;
        }
        if(vl >= DN_MAX)
          return "bad_dn";
        val[vl++] = c;
        if(c != ' ')
          keep = vl;
        p++;
      }
    }
    if(*p && *p != ',' && *p != '+' && *p != ';')
      return "bad_dn";
    why = dn_attr(st, type, tl, val, keep);
    if(why)
      return why;
    if(*p) {
      p++;
      if(!*p)
        return "bad_dn";            /* trailing separator */
    }
  }
  return NULL;
}

/* Is p the start of "type=" (an attribute type then '=')? */
static bool at_type(const char *p)
{
  const char *q = p;
  while((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
        (*q >= '0' && *q <= '9') || *q == '.' || *q == '-')
    q++;
  return q > p && *q == '=';
}

/* OpenSSL's X509_NAME_oneline form: "/type=value" repeated. It does not
   escape '/', so a separator is a '/' followed by "type="; a value that
   contains such a sequence yields an extra attribute, and a second CN
   from it is refused as ambiguous by dn_attr. \xHH escapes are decoded. */
static const char *parse_slash(const char *dn, struct dn_state *st)
{
  char val[DN_MAX + 1];
  const char *p = dn;
  while(*p == '/') {
    const char *type = ++p, *why;
    size_t tl, vl = 0;
    if(!at_type(p))
      return "bad_dn";
    while(*p != '=')
      p++;
    tl = (size_t)(p - type);
    p++;
    while(*p && !(*p == '/' && at_type(p + 1))) {
      char c = *p;
      if(c == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
        c = (char)(hexval(p[2]) * 16 + hexval(p[3]));
        p += 4;
      }
      else if(c == '\\' && p[1]) {
        c = p[1];
        p += 2;
      }
      else {
        p++;
      }
      if(vl >= DN_MAX)
        return "bad_dn";
      val[vl++] = c;
    }
    why = dn_attr(st, type, tl, val, vl);
    if(why)
      return why;
  }
  if(*p)
    return "bad_dn";
  /* The slash form cannot escape '/', so a CN value "agent/OU=x" reads as
     CN=agent followed by OU=x. Only a wanted attribute that is the last
     one runs to the end of the string and cannot have been cut short by
     a separator inside its own value: anything after it is refused. */
  if(st->found && !st->last_was_want)
    return "ambiguous_cn";
  return NULL;
}

const char *vmb_mtls_dn_subject(const char *dn, const char *cn_prefix,
                                char *out, size_t outlen)
{
  struct dn_state st;
  const char *why;
  size_t n = cn_prefix ? strlen(cn_prefix) : 0;
  if(n && cn_prefix[n - 1] == '=')
    n--;
  if(!dn || !*dn)
    return "no_certificate";
  if(n == 0 || outlen == 0 || strnlen(dn, DN_MAX + 1) > DN_MAX)
    return "bad_dn";
  memset(&st, 0, sizeof(st));
  st.want = cn_prefix;
  st.want_len = n;
  st.out = out;
  st.outlen = outlen;
  out[0] = '\0';
  why = dn[0] == '/' ? parse_slash(dn, &st) : parse_2253(dn, &st);
  if(!why && st.found == 0)
    why = "no_cn";
  if(why)
    out[0] = '\0';
  return why;
}

/* How many times header name arrived (case-insensitive). */
static size_t header_count(const struct vmb_request *req, const char *name)
{
  size_t i, n = 0;
  if(!name || !*name)
    return 0;
  for(i = 0; i < req->n_headers; i++)
    if(req->headers[i].name && !strcasecmp(req->headers[i].name, name))
      n++;
  return n;
}

enum vmb_auth_result vmb_mtls_check(const struct vmb_request *req,
                                    struct vmb_identity *id,
                                    const char **reason)
{
  const char *dn = req->tls.client_s_dn, *verify = req->tls.client_verify;
  const char *why;
  char subject[VMB_SUBJECT_MAX + 1];

  if(!conf.configured) {
    *reason = "mtls_not_configured";
    return VMB_AUTH_NONE;
  }
  if(dn && *dn) {
    /* The web server's own params: they count only over HTTPS. */
    if(!req->tls.https) {
      *reason = "not_https";
      return VMB_AUTH_INVALID;
    }
  }
  else if(conf.trust_proxy_headers && req->tls.proxy_s_dn) {
    /* The web server copied the proxy's header into a param of its own
       (docs/security.md): no client can write it. */
    dn = req->tls.proxy_s_dn;
    verify = req->tls.proxy_verify;
  }
  else if(conf.trust_proxy_headers) {
    /* Operator-declared trusted proxy: it stripped client copies. A client
       may still send the same name spelled with underscores
       (X_SSL_Client_S_DN), which some web servers pass as a second param
       of the same name: a header that arrives twice is refused. */
    if(header_count(req, conf.identity_header) > 1 ||
       header_count(req, conf.verify_header) > 1) {
      *reason = "duplicate_identity_header";
      return VMB_AUTH_INVALID;
    }
    dn = *conf.identity_header ?
         vmb_request_header(req, conf.identity_header) : NULL;
    verify = *conf.verify_header ?
             vmb_request_header(req, conf.verify_header) : NULL;
  }
  else {
    dn = NULL;                      /* headers are never looked at */
  }
  if(!dn || !*dn) {
    *reason = "no_certificate";
    return VMB_AUTH_NONE;
  }
  if(!verify || strcmp(verify, "SUCCESS") != 0) {
    *reason = "cert_not_verified";
    return VMB_AUTH_INVALID;
  }
  why = vmb_mtls_dn_subject(dn, conf.subject_cn_prefix, subject,
                            sizeof(subject));
  if(!why && !vmb_subject_valid(subject))
    why = "bad_subject";
  if(why) {
    *reason = why;
    return VMB_AUTH_INVALID;
  }
  id->authenticated = true;
  id->mode = "mtls";
  id->scopes = VMB_SCOPES_DEFAULT;
  memcpy(id->subject, subject, sizeof(id->subject));
  return VMB_AUTH_OK;
}
