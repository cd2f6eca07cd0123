/*
** util.h - small internal helpers shared by core modules.
*/
#ifndef VMB_UTIL_H
#define VMB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct vmb_arena;

/* Percent-decode s[0..n) into the arena. plus_is_space for query strings.
   Returns NULL on a malformed escape, an embedded NUL (%00) or OOM. */
char *vmb_pct_decode(struct vmb_arena *a, const char *s, size_t n,
                     bool plus_is_space);

/* Fill out with 2*n lowercase hex characters + NUL from n random bytes
   (OpenSSL RAND_bytes). Returns 0 or -1. */
int vmb_random_hex(char *out, size_t n);

/* A fresh 128-bit request id as 32 hex characters + NUL, from a
   per-thread random pool (not for secrets: use vmb_random_hex). */
int vmb_request_id_hex(char out[33]);

/* Strict decimal parse of the whole string into [min,max]. */
int vmb_parse_long(const char *s, long min, long max, long *out);

/* Seconds since the epoch, with fraction, for log timestamps. */
double vmb_now(void);
/* Monotonic microseconds, for durations. */
uint64_t vmb_monotonic_us(void);
/* RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void vmb_format_ts(char *out, size_t outlen, double t);

/* Parse untrusted JSON text of exactly len bytes: strict mode, bounded
   depth, the whole input consumed, no embedded NUL. Returns a NEW
   reference or NULL. text may be NULL when len is 0 (an empty buffer):
   empty text is not a document, so that is NULL too. */
json_object *vmb_json_parse(const char *text, size_t len, int max_depth);

/* Constant-time equality of two byte strings (lengths may differ; the
   time depends only on len_b). */
bool vmb_consttime_eq(const void *a, size_t len_a, const void *b, size_t len_b);

/* True when a Content-Type header names application/json (parameters
   such as charset allowed). NULL is false. */
bool vmb_content_type_is_json(const char *ct);

/* True when s is a "sane token": 1..max chars of [A-Za-z0-9._:-]. */
bool vmb_is_token(const char *s, size_t max);

/* Base64 (standard alphabet, padded) strict decode/encode. decode returns
   a malloc'ed buffer (caller frees) or NULL for invalid input. */
unsigned char *vmb_b64_decode(const char *s, size_t n, size_t *outlen);
char *vmb_b64_encode(const unsigned char *d, size_t n);
/* base64url without padding, strict (RFC 7515 section 2). */
unsigned char *vmb_b64url_decode(const char *s, size_t n, size_t *outlen);
char *vmb_b64url_encode(const unsigned char *d, size_t n);

#endif
