/*
** core.h - the transport-neutral entry points.
**
** Life cycle: vmb_core_init() once per process, after the configuration
** is loaded and before threads start; then each serving thread creates a
** worker and calls vmb_core_handle() per request; vmb_core_shutdown() at
** exit. vmb_core_handle() is thread-safe across workers.
*/
#ifndef VMB_CORE_H
#define VMB_CORE_H

#include <stdbool.h>

#include "vmb/config.h"
#include "vmb/request.h"
#include "vmb/version.h"
#include "vmb/worker.h"

/* Initialise process-wide immutable state (routes, keys, logs, shared
   memory). cfg must outlive every request. 0, or -1 with err filled. */
int vmb_core_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_core_shutdown(void);

/* For --check-config: the checks vmb_core_init makes on the settings'
   content that need no Vault, no files and no shared memory - today the
   API keys (JSON shape, subjects, the 32..512-byte length rule) - with
   start-up's own code and message. Call it only in a process that serves
   nothing (it borrows the process-wide key table for a moment). 0, or
   -1 with err filled. */
int vmb_core_check_config(const struct vmb_config *cfg, char *err, size_t errlen);

/* Ask long-running handlers (SSE streams) to finish soon; called by a
   transport when it starts shutting down. Async-signal-unsafe; thread-safe. */
void vmb_core_stop(void);

/* Per-thread state (vmb_worker_create ...) is declared in vmb/worker.h. */

/* Serve one request: authentication, scopes, rate limit, the operation,
   logs and metrics. Always fills resp (unless it streamed). */
void vmb_core_handle(struct vmb_request *req, struct vmb_response *resp);

/* The limit the transport applies while reading a body. */
size_t vmb_core_max_body(void);

/* The one subject rule (SPEC section 2): true when subject is a safe
   single path segment. Transports that take an identity from elsewhere
   (stdio's SUBJECT) check it with this at start-up; the gate checks every
   identity again before any operation runs. */
bool vmb_core_subject_valid(const char *subject);

/*
** The Vault policy the bridge writes for subject with the grants in
** grants_json ({"transit_keys":[..],...}; NULL or "" = DEFAULT_GRANTS_JSON
** of cfg), for scripts/gen_policy: the policy name goes to name, the HCL
** is returned malloc'ed (caller frees). NULL with err filled when the
** subject or the grants are invalid. No Vault call is made.
*/
char *vmb_core_policy_text(const struct vmb_config *cfg, const char *subject,
                           const char *grants_json, char *name, size_t namelen,
                           char *err, size_t errlen);

#endif
