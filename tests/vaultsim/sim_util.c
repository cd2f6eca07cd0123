/*
** vault-sim utilities: byte buffers, string lists, Go-compatible
** base64, durations and timestamps, randomness.
**
** Allocation failures abort: the simulator is a test tool and a half
** answered request would only hide the real problem.
*/
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
  fputs("vault-sim: out of memory\n", stderr);
  abort();
}

void *xcalloc(size_t n, size_t sz)
{
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p)
    oom();
  return p;
}

char *xstrdup(const char *s)
{
  char *p = strdup(s ? s : "");
  if (!p)
    oom();
  return p;
}

char *xstrndup(const char *s, size_t n)
{
  char *p = strndup(s, n);
  if (!p)
    oom();
  return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    oom();
  char *p = malloc((size_t)n + 1);
  if (!p)
    oom();
  int m = vsnprintf(p, (size_t)n + 1, fmt, ap);
  if (m != n)
    oom();
  return p;
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *p = xvasprintf(fmt, ap);
  va_end(ap);
  return p;
}

int str_has_prefix(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_has_suffix(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* ---- sbuf ------------------------------------------------------------ */

int sbuf_put(struct sbuf *b, const void *p, size_t n)
{
  if (n > SIZE_MAX / 2 - b->len)
    return -1;
  if (b->len + n > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + n)
      nc *= 2;
    unsigned char *np = realloc(b->p, nc);
    if (!np)
      oom();
    b->p = np;
    b->cap = nc;
  }
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

int sbuf_u32(struct sbuf *b, uint32_t v)
{
  unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  return sbuf_put(b, x, 4);
}

int sbuf_u64(struct sbuf *b, uint64_t v)
{
  if (sbuf_u32(b, (uint32_t)(v >> 32)) < 0)
    return -1;
  return sbuf_u32(b, (uint32_t)v);
}

int sbuf_str(struct sbuf *b, const void *p, size_t n)
{
  if (n > UINT32_MAX || sbuf_u32(b, (uint32_t)n) < 0)
    return -1;
  return sbuf_put(b, p, n);
}

/* SSH mpint (RFC 4251 §5): big-endian, minimal, a leading zero byte when
** the top bit is set so the value stays positive. */
int sbuf_mpint(struct sbuf *b, const unsigned char *p, size_t n)
{
  while (n > 0 && p[0] == 0) {
    p++;
    n--;
  }
  int pad = n > 0 && (p[0] & 0x80);
  if (sbuf_u32(b, (uint32_t)(n + (size_t)pad)) < 0)
    return -1;
  if (pad && sbuf_put(b, "", 1) < 0)
    return -1;
  return sbuf_put(b, p, n);
}

void sbuf_free(struct sbuf *b)
{
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- strlist ----------------------------------------------------------- */

int strlist_add(struct strlist *l, const char *s)
{
  char **nv = realloc(l->v, (l->n + 1) * sizeof(char *));
  if (!nv)
    oom();
  l->v = nv;
  l->v[l->n++] = xstrdup(s);
  return 0;
}

int strlist_has(const struct strlist *l, const char *s)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0)
      return 1;
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort_uniq(struct strlist *l)
{
  if (l->n < 2)
    return;
  qsort(l->v, l->n, sizeof(char *), cmp_str);
  size_t w = 1;
  for (size_t i = 1; i < l->n; i++) {
    if (strcmp(l->v[i], l->v[w - 1]) == 0)
      free(l->v[i]);
    else
      l->v[w++] = l->v[i];
  }
  l->n = w;
}

void strlist_free(struct strlist *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

int strlist_split(struct strlist *l, const char *s)
{
  const char *p = s;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *a = p, *z = p + n;
    while (a < z && isspace((unsigned char)*a))
      a++;
    while (z > a && isspace((unsigned char)z[-1]))
      z--;
    if (z > a) {
      char *item = xstrndup(a, (size_t)(z - a));
      strlist_add(l, item);
      free(item);
    }
    if (!e)
      break;
    p = e + 1;
  }
  return 0;
}

char *strlist_join(const struct strlist *l, const char *sep)
{
  struct sbuf b = {0};
  for (size_t i = 0; i < l->n; i++) {
    if (i)
      sbuf_put(&b, sep, strlen(sep));
    sbuf_put(&b, l->v[i], strlen(l->v[i]));
  }
  sbuf_put(&b, "", 1);
  return (char *)b.p;
}

json_object *strlist_json(const struct strlist *l)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < l->n; i++)
    json_object_array_add(a, json_object_new_string(l->v[i]));
  return a;
}

/* ---- base64 ------------------------------------------------------------ */

static const char B64STD[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_val(const char *alpha, unsigned char c)
{
  const char *p = c ? strchr(alpha, c) : NULL;
  return p ? (int)(p - alpha) : -1;
}

/*
** One 4-character quantum, mirroring Go's decodeQuantum so that the
** reported error offsets are the ones Go (and so Vault) reports.
** Returns the number of bytes produced or -1 with *bad set.
*/
static int b64_quantum(const char *alpha, int padded, const unsigned char *s,
                       size_t len, size_t *si, unsigned char dst[3],
                       size_t *bad, int *done)
{
  int dbuf[4] = {0, 0, 0, 0};
  int dlen = 4;
  for (int j = 0; j < 4; j++) {
    if (*si == len) {
      if (j == 0) {
        *done = 1;
        return 0;
      }
      if (j == 1 || padded) {
        *bad = *si - (size_t)j;
        return -1;
      }
      dlen = j;
      break;
    }
    unsigned char in = s[(*si)++];
    int v = b64_val(alpha, in);
    if (v >= 0) {
      dbuf[j] = v;
      continue;
    }
    if (in == '\n' || in == '\r') {
      j--;
      continue;
    }
    if (!padded || in != '=') {
      *bad = *si - 1;
      return -1;
    }
    /* Padding reached. */
    if (j == 0 || j == 1) {
      *bad = *si - 1;
      return -1;
    }
    if (j == 2) {
      while (*si < len && (s[*si] == '\n' || s[*si] == '\r'))
        (*si)++;
      if (*si == len) {
        *bad = len;
        return -1;
      }
      if (s[*si] != '=') {
        *bad = *si - 1;
        return -1;
      }
      (*si)++;
    }
    while (*si < len && (s[*si] == '\n' || s[*si] == '\r'))
      (*si)++;
    if (*si < len) {
      *bad = *si;
      return -1;
    }
    dlen = j;
    break;
  }
  unsigned val = (unsigned)dbuf[0] << 18 | (unsigned)dbuf[1] << 12 |
                 (unsigned)dbuf[2] << 6 | (unsigned)dbuf[3];
  dst[0] = (unsigned char)(val >> 16);
  dst[1] = (unsigned char)(val >> 8);
  dst[2] = (unsigned char)val;
  return dlen - 1;
}

static int b64_decode(const char *alpha, int padded, const char *in,
                      size_t inlen, unsigned char **out, size_t *outlen,
                      size_t *bad)
{
  unsigned char *o = xcalloc(inlen / 4 * 3 + 4, 1);
  size_t n = 0, si = 0, dummy = 0;
  if (!bad)
    bad = &dummy;
  while (si < inlen) {
    unsigned char d[3];
    int done = 0;
    int k = b64_quantum(alpha, padded, (const unsigned char *)in, inlen, &si,
                        d, bad, &done);
    if (k < 0) {
      free(o);
      return -1;
    }
    if (done)
      break;
    memcpy(o + n, d, (size_t)k);
    n += (size_t)k;
  }
  o[n] = 0;
  *out = o;
  *outlen = n;
  return 0;
}

int b64_std_decode(const char *in, size_t inlen, unsigned char **out,
                   size_t *outlen, size_t *bad)
{
  return b64_decode(B64STD, 1, in, inlen, out, outlen, bad);
}

int b64_rawurl_decode(const char *in, size_t inlen, unsigned char **out,
                      size_t *outlen)
{
  return b64_decode(B64URL, 0, in, inlen, out, outlen, NULL);
}

static char *b64_encode(const char *alpha, int pad, const unsigned char *p,
                        size_t n)
{
  char *o = xcalloc((n + 2) / 3 * 4 + 1, 1);
  size_t w = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    size_t rem = n - i;
    if (rem > 1)
      v |= (unsigned)p[i + 1] << 8;
    if (rem > 2)
      v |= p[i + 2];
    o[w++] = alpha[(v >> 18) & 63];
    o[w++] = alpha[(v >> 12) & 63];
    if (rem > 1)
      o[w++] = alpha[(v >> 6) & 63];
    else if (pad)
      o[w++] = '=';
    if (rem > 2)
      o[w++] = alpha[v & 63];
    else if (pad)
      o[w++] = '=';
  }
  o[w] = 0;
  return o;
}

char *b64_std_encode(const unsigned char *p, size_t n)
{
  return b64_encode(B64STD, 1, p, n);
}

char *b64_rawurl_encode(const unsigned char *p, size_t n)
{
  return b64_encode(B64URL, 0, p, n);
}

char *hex_encode(const unsigned char *p, size_t n)
{
  static const char hx[] = "0123456789abcdef";
  char *o = xcalloc(n * 2 + 1, 1);
  for (size_t i = 0; i < n; i++) {
    o[2 * i] = hx[p[i] >> 4];
    o[2 * i + 1] = hx[p[i] & 15];
  }
  return o;
}

/* ---- randomness --------------------------------------------------------- */

void rand_bytes(unsigned char *p, size_t n)
{
  if (n > INT_MAX || RAND_bytes(p, (int)n) != 1) {
    fputs("vault-sim: RAND_bytes failed\n", stderr);
    abort();
  }
}

void rand_base62(char *out, size_t n)
{
  static const char a[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  size_t w = 0;
  while (w < n) {
    unsigned char buf[64];
    rand_bytes(buf, sizeof buf);
    /* Rejection sampling keeps the alphabet uniform. */
    for (size_t i = 0; i < sizeof buf && w < n; i++)
      if (buf[i] < 248)
        out[w++] = a[buf[i] % 62];
  }
  out[n] = 0;
}

void make_uuid(char out[37])
{
  unsigned char b[16];
  rand_bytes(b, sizeof b);
  char *h = hex_encode(b, sizeof b);
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
           h + 20);
  free(h);
}

/* ---- time --------------------------------------------------------------- */

struct timespec now_ts(void)
{
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

int64_t ts_sec(struct timespec t)
{
  return (int64_t)t.tv_sec;
}

int ts_zero(struct timespec t)
{
  return t.tv_sec == 0 && t.tv_nsec == 0;
}

int ts_before(struct timespec a, struct timespec b)
{
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Durations come from requests (TTLs, delete_version_after, wrap TTLs)
** and may be absurd; the sum saturates at year 9999 instead of
** overflowing (undefined behaviour, and a UBSan abort). */
#define TS_LIMIT 253402300799LL
struct timespec ts_add(struct timespec t, int64_t secs)
{
  int64_t s = (int64_t)t.tv_sec;
  if (secs > 0 && s > TS_LIMIT - secs)
    s = TS_LIMIT;
  else if (secs < 0 && s < -TS_LIMIT - secs)
    s = -TS_LIMIT;
  else
    s += secs;
  t.tv_sec = (time_t)s;
  return t;
}

void fmt_rfc3339(struct timespec t, char out[40])
{
  struct tm tm;
  time_t s = t.tv_sec;
  if (!gmtime_r(&s, &tm)) {
    snprintf(out, 40, "1970-01-01T00:00:00Z");
    return;
  }
  char base[32];
  if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    base[0] = 0;
  if (t.tv_nsec == 0) {
    snprintf(out, 40, "%sZ", base);
    return;
  }
  char frac[16];
  snprintf(frac, sizeof frac, "%09ld", (long)t.tv_nsec);
  /* Go's RFC3339Nano drops trailing zeros of the fraction. */
  size_t fl = strlen(frac);
  while (fl > 0 && frac[fl - 1] == '0')
    frac[--fl] = 0;
  /* base is 19 characters and frac at most 9: 30 bytes fit in 40, but
     the compiler cannot prove it, so bound both explicitly. */
  snprintf(out, 40, "%.20s.%.9sZ", base, frac);
}

void fmt_go_duration(int64_t secs, char out[40])
{
  if (secs == 0) {
    snprintf(out, 40, "0s");
    return;
  }
  const char *sign = secs < 0 ? "-" : "";
  uint64_t u = secs < 0 ? (uint64_t)(-(secs + 1)) + 1 : (uint64_t)secs;
  uint64_t h = u / 3600, m = (u % 3600) / 60, s = u % 60;
  if (h)
    snprintf(out, 40, "%s%lluh%llum%llus", sign, (unsigned long long)h,
             (unsigned long long)m, (unsigned long long)s);
  else if (m)
    snprintf(out, 40, "%s%llum%llus", sign, (unsigned long long)m,
             (unsigned long long)s);
  else
    snprintf(out, 40, "%s%llus", sign, (unsigned long long)s);
}

int parse_int64(const char *s, int64_t *out)
{
  if (!s || !*s)
    return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || !end || *end)
    return -1;
  *out = (int64_t)v;
  return 0;
}

/*
** Go's time.ParseDuration plus parseutil's extras: a bare number is
** seconds and a "d" unit means 24h. Fractions are accepted and truncated
** to whole seconds, since Vault stores TTLs in seconds.
*/
int parse_duration_str(const char *s, int64_t *secs)
{
  int64_t v;
  while (*s == ' ')
    s++;
  if (*s == 0) {
    *secs = 0;
    return 0;
  }
  if (parse_int64(s, &v) == 0) {
    *secs = v;
    return 0;
  }
  const char *p = s;
  int neg = 0;
  if (*p == '-' || *p == '+') {
    neg = *p == '-';
    p++;
  }
  if (strcmp(p, "0") == 0) {
    *secs = 0;
    return 0;
  }
  double total = 0;
  if (!*p)
    return -1;
  while (*p) {
    if (!isdigit((unsigned char)*p) && *p != '.')
      return -1;
    char *end = NULL;
    errno = 0;
    double n = strtod(p, &end);
    if (errno || end == p)
      return -1;
    p = end;
    double mult;
    if (str_has_prefix(p, "ns")) {
      mult = 1e-9;
      p += 2;
    } else if (str_has_prefix(p, "us") || str_has_prefix(p, "\xc2\xb5s")) {
      mult = 1e-6;
      p += (*p == 'u') ? 2 : 3;
    } else if (str_has_prefix(p, "ms")) {
      mult = 1e-3;
      p += 2;
    } else if (*p == 's') {
      mult = 1;
      p++;
    } else if (*p == 'm') {
      mult = 60;
      p++;
    } else if (*p == 'h') {
      mult = 3600;
      p++;
    } else if (*p == 'd') {
      mult = 86400;
      p++;
    } else {
      return -1; /* missing unit */
    }
    total += n * mult;
    if (total > 9.2e12)
      return -1;
  }
  *secs = (int64_t)total * (neg ? -1 : 1);
  return 0;
}

int parse_duration_json(json_object *v, int64_t *secs)
{
  if (!v || json_object_is_type(v, json_type_null)) {
    *secs = 0;
    return 0;
  }
  if (json_object_is_type(v, json_type_int)) {
    *secs = json_object_get_int64(v);
    return 0;
  }
  if (json_object_is_type(v, json_type_double)) {
    double d = json_object_get_double(v);
    if (!(d > -9.2e18 && d < 9.2e18)) /* NaN too: no undefined cast */
      return -1;
    *secs = (int64_t)d;
    return 0;
  }
  if (json_object_is_type(v, json_type_string))
    return parse_duration_str(json_object_get_string(v), secs);
  return -1;
}

int parse_go_bool(const char *s)
{
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; i < 6; i++) {
    if (strcmp(s, t[i]) == 0)
      return 1;
    if (strcmp(s, f[i]) == 0)
      return 0;
  }
  return -1;
}
