/*
** common.h - shared set-up for the libFuzzer harnesses (tests/fuzz).
**
** The harnesses drive the core through its public entry points
** (vmb_config_load, vmb_core_init, vmb_core_handle) wherever they can,
** so they keep working when modules move between folders. Pure parsers
** (paths, DNs, base64, SigV4, config text) are called directly.
**
** Upstream answers (Vault, KMS) come from memory by default: the
** fuzzing build's in-process transport (vmb_upstream_set_canned in
** http_client.h) hands the answer the harness sets to the real client
** code, so reply handling runs at parser speed and deterministically.
** fuzz_reply_loopback alone uses a fake upstream on loopback (a thread
** of the fuzzer process) to exercise libcurl and the socket path.
**
** No background thread of the core may consume an upstream answer: the
** health probe (HEALTH_PROBE_SECONDS) is off in every harness. A probe
** reading whatever reply the current input had set once made a UBSan
** abort in the probe thread that libFuzzer saved as the empty input and
** that no replay could reproduce (tests/fuzz/regressions/README.md).
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

/* What every upstream call answers from now on: HTTP status (0: the
   call fails as unreachable), extra header lines (each ending "\r\n",
   may be ""), body bytes (copied). 'mode' 0 sends it whole; 1 cuts it
   halfway through the body (the loopback upstream closes the
   connection; in memory the call fails as a dropped connection). */
void fz_upstream_set(int status, const char *extra_headers,
                     const uint8_t *body, size_t len, int mode);
/* Use the loopback upstream instead of memory: call before
   fz_core_start. Returns its port. */
int fz_upstream_loopback(void);

/* Configure from the environment (defaults set here unless already set)
   and initialise the core once. Aborts on failure: a harness that
   cannot start must not report success. */
void fz_core_start(void);

/* fz_core_start for the reply harnesses: without the subject registry,
   whose loads would read the harness's answers at moments that depend
   on time (every subject gets DEFAULT_GRANTS_JSON instead), so each
   input's upstream answer is read by the one call the input makes. */
void fz_reply_harness_start(void);

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
