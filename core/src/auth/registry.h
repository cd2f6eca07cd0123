/*
** registry.h - the subject registry (SPEC section 9; docs/registry.md).
**
** One KV v2 document per subject under
** {KV_MOUNT}/data/{ADMIN_PREFIX}/subjects/{subject}: enabled, expiry,
** scopes, grants (Transit keys, DB roles, SSH roles, KMS keys), hashed API
** keys, JWT issuance metadata and free-form profile fields. Agents' KV
** paths live under {DEFAULT_PREFIX}/{subject}/ and ADMIN_PREFIX must be a
** different single segment, so no agent path can reach a record.
**
** Every worker process keeps an immutable snapshot of all records. A
** 64-bit generation counter in RUN_DIR/registry.v1 (shared memory) is
** bumped by every admin write; a request compares it with its snapshot's
** with one atomic load (no system call) and reloads only when it moved or
** when REGISTRY_REFRESH_SECONDS passed (changes made by other hosts).
** Thread-safety: the snapshot is swapped under a rwlock; requests copy
** what they need into their arena, so no json-c object is shared.
*/
#ifndef VMB_REGISTRY_H
#define VMB_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vmb/config.h"
#include "vmb/error.h"
#include "grantset.h"
#include "vmb/request.h"

struct vmb_arena;

/* Start-up: settings, DEFAULT_GRANTS_JSON, the shared generation file.
   0, or -1 with err filled. */
int vmb_registry_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_registry_cleanup(void);

/*
** Apply the registry to an authenticated caller, once per request: a
** record for the subject decides enabled/expiry, scopes (JWT: the token's
** scopes narrowed to the record's) and grants; without a record the
** grants are DEFAULT_GRANTS_JSON. Fills req->identity.grants (arena).
** Returns OK or SUBJECT_DISABLED (*detail set). When no snapshot could
** ever be loaded (Vault unreachable) the caller gets no grants at all.
*/
enum vmb_err vmb_registry_resolve(struct vmb_request *req, const char **detail);

/* Why the caller's grants are unknown (the registry could not be
   loaded): the error to answer with and a client-safe *detail. */
enum vmb_err vmb_registry_unavailable(struct vmb_arena *a, const char **detail);

/* Look a presented API key up among the registry's hashed keys (constant
   time over all keys). 1 with id filled, 0 when unknown, -1 when the
   registry cannot be read. */
int vmb_registry_apikey(struct vmb_request *req, const char *key,
                        struct vmb_identity *id);

/* For holders of long-lived requests (parked event streams): the SHA-256
   of a presented key as the registry stores it (0 or -1), and whether a
   key with that digest is still in the registry (1), revoked or never
   there (0), or unknown because the registry cannot be read (-1). */
int vmb_registry_apikey_digest(const char *key, unsigned char digest[32]);
int vmb_registry_apikey_live(struct vmb_request *req, const unsigned char digest[32]);

/* ---- storage, for the admin API (bridge's own token) --------------- */

/* Read one record: *record is a NEW reference (the stored document),
   *version its KV version. NOT_FOUND when absent. */
enum vmb_err vmb_registry_read(struct vmb_request *req, const char *subject,
                               json_object **record, long *version);
/* The subjects, as a NEW array of strings (sorted by Vault). */
enum vmb_err vmb_registry_list(struct vmb_request *req, json_object **subjects);
/* Check-and-set write: cas 0 creates only, N replaces version N.
   CONFLICT when the version moved. record is BORROWED. */
enum vmb_err vmb_registry_write(struct vmb_request *req, const char *subject,
                                json_object *record, long cas, long *version);
/* Remove every version and the metadata. */
enum vmb_err vmb_registry_delete(struct vmb_request *req, const char *subject);
/* Tell every worker of the host that the registry changed. */
void vmb_registry_changed(void);
/* Current shared generation (tests and docs). */
uint64_t vmb_registry_generation(void);

/* The {KV_MOUNT}/data/{ADMIN_PREFIX}/... path for a relative name, in the
   arena ("data" or "metadata" as kind). */
const char *vmb_registry_path(struct vmb_arena *a, const char *kind,
                              const char *rel);

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.frac]Z" -> epoch seconds; -1 bad. */
long long vmb_rfc3339_parse(const char *s);
/* Epoch seconds -> "YYYY-MM-DDTHH:MM:SSZ" (out >= 21 bytes). */
void vmb_rfc3339_format(long long t, char *out, size_t outlen);

#endif
