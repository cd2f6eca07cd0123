/*
** auth.h - authentication modes (SPEC section 2).
**
** vmb_authenticate() looks at what the request carries and asks the one
** mode that matches: X-API-Key -> API keys, Authorization: Bearer -> JWT,
** otherwise the web server's verified client certificate -> mTLS. The
** reason a credential failed is a short code for the log and the
** WWW-Authenticate header; the credential itself is never logged.
*/
#ifndef VMB_AUTH_H
#define VMB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"
#include "vmb/request.h"

enum vmb_auth_result {
  VMB_AUTH_OK,            /* identity filled */
  VMB_AUTH_NONE,          /* no credential presented */
  VMB_AUTH_INVALID        /* a credential was presented and refused */
};

/* Set up every enabled mode from cfg. 0, or -1 with err filled. */
int vmb_auth_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_auth_cleanup(void);

/* Authenticate req into req->identity. On INVALID, *mode and *reason are
   static strings ("jwt", "expired") for logs and metrics. */
enum vmb_auth_result vmb_authenticate(struct vmb_request *req,
                                      const char **mode, const char **reason);

/* Mode entry points, used by vmb_authenticate and by tests. */
int vmb_apikey_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_apikey_cleanup(void);
/* The checks of vmb_apikey_init, keeping nothing (for --check-config).
   The key table is process-wide: call it only in a process that serves
   no request. 0, or -1 with err filled as start-up would. */
int vmb_apikey_validate(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_auth_result vmb_apikey_check(const char *key, struct vmb_identity *id,
                                      const char **reason);

int vmb_jwt_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_jwt_cleanup(void);
enum vmb_auth_result vmb_jwt_check(const char *token, struct vmb_identity *id,
                                   const char **reason);
/* As vmb_jwt_check, for a request: a JWKS fetch the check has to make
   (the set is stale, or the token names an unknown kid) is recorded as a
   client span of trace (the request's context; NULL: no span). */
enum vmb_auth_result vmb_jwt_check_traced(const char *token, const struct vmb_trace_ctx *trace,
                                          struct vmb_identity *id, const char **reason);

/* Test and bench hooks of the JWT verifier (auth_jwt.c). */
/* Pretend the wall clock reads now (seconds since the epoch) for exp,
   nbf and iat; 0 restores the real clock. */
void vmb_jwt_set_time(long long now);
/* Move the clock that paces JWKS fetches forward by seconds. */
void vmb_jwt_skew_fetch_clock(long long seconds);
/* Turn the verified-token cache on or off (off also empties it). */
void vmb_jwt_set_cache(bool on);
struct vmb_jwt_stats {
  unsigned long fetches;          /* JWKS fetch attempts */
  unsigned long fetch_failures;
  unsigned long cache_hits;
  size_t keys;                    /* usable keys in the published set */
};
void vmb_jwt_stats(struct vmb_jwt_stats *st);
/* Number of usable verification keys in a JWKS (or one JWK when
   single_jwk), -1 when the document is invalid. */
long vmb_jwt_jwks_usable(const char *json, size_t len, bool single_jwk);
/* Check only shape, header and signature of token against one JWK (JSON
   text; an "oct" JWK is accepted here, never in a JWKS). NULL when the
   signature holds, with the payload bytes copied to payload; else a
   reason code. For the published JOSE vectors. */
const char *vmb_jwt_verify_jwk(const char *token, const char *jwk_json,
                               unsigned char *payload, size_t payload_cap,
                               size_t *payload_len);

/* mTLS needs MTLS_* settings; cfg must outlive the module. 0 or -1. */
int vmb_mtls_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_auth_result vmb_mtls_check(const struct vmb_request *req,
                                    struct vmb_identity *id,
                                    const char **reason);
/* Pick the subject attribute (cn_prefix, e.g. "CN=") out of a DN in RFC
   2253, OpenSSL slash or spaced one-line form. Writes a NUL-terminated
   value into out. NULL on success, else a reason code. */
const char *vmb_mtls_dn_subject(const char *dn, const char *cn_prefix,
                                char *out, size_t outlen);

#endif
