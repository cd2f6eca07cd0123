/*
** sigv4.h - AWS Signature Version 4 (the request signing used by KMS).
**
** A pure function: it reads the request parts, the time and the
** credentials it is given and writes the canonical request, the string
** to sign and the Authorization header value. No clock, no environment,
** no I/O, so AWS's published test suite can check it byte for byte
** (tests/kms/test_sigv4.c).
**
** Exactly the headers passed are signed. A caller using temporary
** credentials passes X-Amz-Security-Token among them (KMS wants it
** signed); the session token in vmb_sigv4_creds is not added implicitly.
*/
#ifndef VMB_SIGV4_H
#define VMB_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "vmb/buf.h"

struct vmb_sigv4_header {
  const char *name;      /* any case; lower-cased when canonicalised */
  const char *value;     /* trimmed and inner space runs collapsed */
};

struct vmb_sigv4_request {
  const char *method;                     /* "POST" */
  const char *path;                       /* raw path, e.g. "/" */
  const char *query;                      /* raw query without '?', or NULL */
  const struct vmb_sigv4_header *headers; /* repeated names allowed */
  size_t n_headers;
  const void *payload;                    /* body bytes (may be NULL if len 0) */
  size_t payload_len;
};

struct vmb_sigv4_creds {
  const char *access_key_id;
  const char *secret_access_key;
};

/* The three products of signing. Each buffer is owned by the struct:
   init with vmb_sigv4_result_init, release with vmb_sigv4_result_free
   (which wipes them). */
struct vmb_sigv4_result {
  struct vmb_buf creq;   /* canonical request */
  struct vmb_buf sts;    /* string to sign */
  struct vmb_buf authz;  /* Authorization header value (no "Authorization: ") */
};

void vmb_sigv4_result_init(struct vmb_sigv4_result *r);
void vmb_sigv4_result_free(struct vmb_sigv4_result *r);

/*
** Sign req for region/service at amz_date ("YYYYMMDDTHHMMSSZ", the same
** text as the X-Amz-Date header). Returns 0, or -1 on bad input (a
** malformed date, too many headers, a header name that is not a token)
** or when a buffer ceiling is hit.
*/
int vmb_sigv4_sign(const struct vmb_sigv4_request *req, const char *region,
                   const char *service, const char *amz_date,
                   const struct vmb_sigv4_creds *creds,
                   struct vmb_sigv4_result *out);

/* Format t as "YYYYMMDDTHHMMSSZ" (UTC) into out[17]. 0 or -1. */
int vmb_sigv4_amz_date(time_t t, char out[17]);

/* Lower-case hex SHA-256 of data into out[65]. 0 or -1. */
int vmb_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
