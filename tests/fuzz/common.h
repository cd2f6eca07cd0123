/*
** common.h - shared set-up for the libFuzzer harnesses (tests/fuzz).
**
** The harnesses drive the core through its public entry points
** (vmb_config_load, vmb_core_init, vmb_core_handle) wherever they can,
** so they keep working when modules move between folders. Pure parsers
** (paths, DNs, base64, SigV4, config text) are called directly.
**
** A fake upstream on loopback (a thread of the fuzzer process) answers
** every HTTP request with a reply the harness sets, so Vault and KMS
** reply parsing is exercised through the real libcurl client.
*/
#ifndef VMB_FUZZ_COMMON_H
#define VMB_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "vmb/request.h"

/* The API key the harnesses authenticate with (subject "fuzzer",
   every scope including admin). */
#define FZ_API_KEY "fuzz-api-key-0123456789abcdef-0123456789"
/* HS256 secret for JWT harnesses (32+ bytes). */
#define FZ_HS256_SECRET "fuzz-hs256-secret-0123456789abcdef"

/* Start the fake upstream once (idempotent); returns its port. */
int fz_upstream_start(void);
/* What the fake upstream answers from now on: status line code, extra
   header lines (each ending "\r\n", may be ""), body bytes. 'mode' 0
   sends it whole; 1 closes the connection halfway through the body. */
void fz_upstream_set(int status, const char *extra_headers,
                     const uint8_t *body, size_t len, int mode);

/* Configure from the environment (defaults set here unless already set)
   and initialise the core once. Aborts on failure: a harness that
   cannot start must not report success. */
void fz_core_start(void);

/* Serve one request through vmb_core_handle; returns the HTTP status. */
int fz_handle(const char *method, const char *path, const char *query,
              const struct vmb_header *headers, size_t n_headers,
              const char *body, size_t body_len);

/* The arena of the harness's worker (reset after every fz_handle and by
   fz_reset). */
struct vmb_arena *fz_arena(void);
struct vmb_worker *fz_worker(void);
void fz_reset(void);

/* Split data at the first byte equal to sep: a and alen get what comes
   before it, b and blen what follows. Without sep, all goes to a. */
void fz_split(const uint8_t *data, size_t size, uint8_t sep,
              const uint8_t **a, size_t *alen, const uint8_t **b, size_t *blen);

/* A malloc'ed NUL-terminated copy (abort on OOM). */
char *fz_strndup(const uint8_t *d, size_t n);

#endif
