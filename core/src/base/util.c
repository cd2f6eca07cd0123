/*
** util.c - small helpers: decoding, randomness, time, strict JSON.
*/
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "vmb/arena.h"

static int hexval(int c)
{
  if(c >= '0' && c <= '9') return c - '0';
  if(c >= 'a' && c <= 'f') return c - 'a' + 10;
  if(c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *vmb_pct_decode(struct vmb_arena *a, const char *s, size_t n,
                     bool plus_is_space)
{
  char *out = vmb_arena_alloc(a, n + 1);
  size_t i, o = 0;
  if(!out)
    return NULL;
  for(i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if(c == '%') {
      int hi, lo;
      if(n - i < 3)
        return NULL;
      hi = hexval((unsigned char)s[i + 1]);
      lo = hexval((unsigned char)s[i + 2]);
      if(hi < 0 || lo < 0)
        return NULL;
      c = hi * 16 + lo;
      if(c == 0)
        return NULL;
      i += 2;
    }
    else if(c == '+' && plus_is_space) {
      c = ' ';
    }
    else if(c == 0) {
      return NULL;
    }
    out[o++] = (char)c;
  }
  out[o] = '\0';
  return out;
}

int vmb_random_hex(char *out, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char raw[64];
  size_t i;
  if(n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
    return -1;
  for(i = 0; i < n; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[2 * n] = '\0';
  return 0;
}

/* Request ids need to be unique and unguessable enough for correlation,
   not secret. Drawing them from a per-thread pool refilled with 1 KiB of
   RAND_bytes at a time keeps OpenSSL's per-call overhead (locking, its
   fork check) off the hot path. The responder never forks after start,
   so a pool is never shared by two processes. */
int vmb_request_id_hex(char out[33])
{
  static _Thread_local unsigned char pool[1024];
  static _Thread_local size_t left;
  static const char hex[] = "0123456789abcdef";
  size_t i;
  if(left < 16) {
    if(RAND_bytes(pool, (int)sizeof(pool)) != 1)
      return -1;
    left = sizeof(pool);
  }
  for(i = 0; i < 16; i++) {
    unsigned char b = pool[sizeof(pool) - left + i];
    out[2 * i] = hex[b >> 4];
    out[2 * i + 1] = hex[b & 15];
  }
  left -= 16;
  out[32] = '\0';
  return 0;
}

int vmb_parse_long(const char *s, long min, long max, long *out)
{
  char *end = NULL;
  long v;
  if(!s || !*s)
    return -1;
  if(!((*s >= '0' && *s <= '9') || *s == '-'))
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if(errno || !end || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

double vmb_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t vmb_monotonic_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void vmb_format_ts(char *out, size_t outlen, double t)
{
  time_t secs = (time_t)t;
  struct tm tm;
  int ms = (int)((t - (double)secs) * 1000.0);
  if(ms < 0) ms = 0;
  if(ms > 999) ms = 999;
  if(!gmtime_r(&secs, &tm)) {
    snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
    return;
  }
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, ms);
}

/* json-c's strict mode still takes 'single-quoted' strings; RFC 8259
   does not, so a quote character outside a string is refused here. */
static bool has_single_quote_outside_strings(const char *text, size_t len)
{
  bool in_str = false;
  size_t i;
  for(i = 0; i < len; i++) {
    char c = text[i];
    if(in_str) {
      if(c == '\\')
        i++;
      else if(c == '"')
        in_str = false;
    }
    else if(c == '"') {
      in_str = true;
    }
    else if(c == '\'') {
      return true;
    }
  }
  return false;
}

json_object *vmb_json_parse(const char *text, size_t len, int max_depth)
{
  json_tokener *tok;
  json_object *obj;
  size_t end;
  /* An empty reply is no document. It also arrives as (NULL, 0) from a
     buffer that never received a byte, and memchr(NULL, ..., 0) is
     undefined behaviour (UBSan aborts on it). */
  if(!text || !len)
    return NULL;
  if(len > (size_t)INT32_MAX - 1 || memchr(text, '\0', len) ||
     has_single_quote_outside_strings(text, len))
    return NULL;
  tok = json_tokener_new_ex(max_depth);
  if(!tok)
    return NULL;
  /* Strict grammar, and strings must be valid UTF-8: otherwise invalid
     bytes would pass through into Vault and back into our answers. */
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  obj = json_tokener_parse_ex(tok, text, (int)len);
  if(!obj && json_tokener_get_error(tok) == json_tokener_continue) {
    /* A bare number ("42") is complete only once the tokener sees a
       delimiter; one space settles it without changing the meaning. */
    obj = json_tokener_parse_ex(tok, " ", 1);
    end = len;
  }
  else {
    end = json_tokener_get_parse_end(tok);
  }
  if(obj && json_tokener_get_error(tok) == json_tokener_success) {
    /* Only white space may follow the value. */
    for(; end < len; end++)
      if(!strchr(" \t\r\n", text[end]))
        break;
  }
  if(!obj || json_tokener_get_error(tok) != json_tokener_success || end < len) {
    json_object_put(obj);
    obj = NULL;
  }
  json_tokener_free(tok);
  return obj;
}

bool vmb_consttime_eq(const void *a, size_t len_a, const void *b, size_t len_b)
{
  /* Compare len_b bytes whatever happens, reading a cyclically, so the
     time leaks neither where the first difference is nor len_a. */
  const unsigned char *pa = a, *pb = b;
  unsigned diff = (unsigned)(len_a ^ len_b);
  size_t i;
  if(len_a == 0)
    return len_b == 0;
  for(i = 0; i < len_b; i++)
    diff |= (unsigned)(pa[i % len_a] ^ pb[i]);
  return diff == 0;
}

bool vmb_content_type_is_json(const char *ct)
{
  size_t n;
  if(!ct)
    return false;
  while(*ct == ' ')
    ct++;
  n = strcspn(ct, "; ");
  return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

bool vmb_is_token(const char *s, size_t max)
{
  size_t n = 0;
  if(!s || !*s)
    return false;
  for(; s[n]; n++) {
    char c = s[n];
    if(n >= max)
      return false;
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
         c == '-'))
      return false;
  }
  return true;
}

/* ---- base64 ---------------------------------------------------------- */

static const char b64std[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Symbol value of c in alpha, or -1. A direct range test rather than a
   table or strchr: it costs a few compares per byte on large bodies and
   needs no shared mutable state. */
static int b64_index(const char *alpha, char c)
{
  if(c >= 'A' && c <= 'Z') return c - 'A';
  if(c >= 'a' && c <= 'z') return c - 'a' + 26;
  if(c >= '0' && c <= '9') return c - '0' + 52;
  if(c == alpha[62]) return 62;
  if(c == alpha[63]) return 63;
  return -1;
}

/* Decode groups of the given alphabet. padded: input length must be a
   multiple of 4 with '=' padding; else no padding allowed. Unused low
   bits of the last symbol must be zero (canonical form only). */
static unsigned char *b64_decode_any(const char *alpha, bool padded,
                                     const char *s, size_t n, size_t *outlen)
{
  size_t pad = 0, i, o = 0, full;
  unsigned char *out;
  unsigned acc = 0;
  int bits = 0;
  if(padded) {
    if(n % 4)
      return NULL;
    while(pad < 2 && n > pad && s[n - 1 - pad] == '=')
      pad++;
  }
  else if(n % 4 == 1) {
    return NULL;
  }
  full = n - pad;
  out = malloc(full * 3 / 4 + 1);
  if(!out)
    return NULL;
  for(i = 0; i < full; i++) {
    int v = b64_index(alpha, s[i]);
    if(v < 0) {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if(acc != 0 || (padded && full % 4 == 1)) {
    OPENSSL_cleanse(out, o);
    free(out);
    return NULL;
  }
  *outlen = o;
  return out;
}

static char *b64_encode_any(const char *alpha, bool padded,
                            const unsigned char *d, size_t n)
{
  size_t olen = (n + 2) / 3 * 4, i, o = 0;
  char *out = malloc(olen + 1);
  if(!out)
    return NULL;
  for(i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
    out[o++] = alpha[v >> 18];
    out[o++] = alpha[(v >> 12) & 63];
    out[o++] = alpha[(v >> 6) & 63];
    out[o++] = alpha[v & 63];
  }
  if(i < n) {
    unsigned v = (unsigned)d[i] << 16;
    if(i + 1 < n)
      v |= (unsigned)d[i + 1] << 8;
    out[o++] = alpha[v >> 18];
    out[o++] = alpha[(v >> 12) & 63];
    if(i + 1 < n)
      out[o++] = alpha[(v >> 6) & 63];
    else if(padded)
      out[o++] = '=';
    if(padded)
      out[o++] = '=';
  }
  out[o] = '\0';
  return out;
}

unsigned char *vmb_b64_decode(const char *s, size_t n, size_t *outlen)
{
  return b64_decode_any(b64std, true, s, n, outlen);
}

char *vmb_b64_encode(const unsigned char *d, size_t n)
{
  return b64_encode_any(b64std, true, d, n);
}

unsigned char *vmb_b64url_decode(const char *s, size_t n, size_t *outlen)
{
  return b64_decode_any(b64url, false, s, n, outlen);
}

char *vmb_b64url_encode(const unsigned char *d, size_t n)
{
  return b64_encode_any(b64url, false, d, n);
}
