/*
** backends.h - the operation handlers of the backends layer, one group
** per file, and what start-up hands each backend. Only the operation
** table (entry/ops_table.c), start-up and the tests refer to these names.
*/
#ifndef VMB_BACKENDS_H
#define VMB_BACKENDS_H

#include <json-c/json.h>

#include "ops.h"

#include "vmb/config.h"
#include "vmb/request.h"

/*
** The backends, in one list walked by start-up and by /readyz (the way
** nginx walks ngx_modules[] in ngx_init_modules). A row is a name, an
** init that takes what the backend needs from the configuration (0, or
** -1 with err filled) and an optional readiness check that adds the
** backend's member to out and returns 0, or -1 with *problem set to a
** client-safe sentence. The operation handlers are not in the row: the
** operation table points at them (docs/architecture.md).
*/
struct vmb_backend {
  const char *name;
  int (*init)(const struct vmb_config *cfg, char *err, size_t errlen);
  int (*ready)(struct vmb_request *req, json_object *out, const char **problem);
};
/* Terminated by a row with name NULL. */
extern const struct vmb_backend vmb_backends[];

/* backend.c: the shared Vault helpers and Vault's own readiness */
int vmb_backend_init(const struct vmb_config *cfg, char *err, size_t errlen);
int vmb_vault_ready(struct vmb_request *req, json_object *out, const char **problem);

/* backend_kv.c */
int vmb_kv_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_kv_read(struct vmb_call *c);
enum vmb_err vmb_h_kv_write(struct vmb_call *c);
enum vmb_err vmb_h_kv_patch(struct vmb_call *c);
enum vmb_err vmb_h_kv_list(struct vmb_call *c);
enum vmb_err vmb_h_kv_delete(struct vmb_call *c);
enum vmb_err vmb_h_kv_undelete(struct vmb_call *c);
enum vmb_err vmb_h_kv_destroy(struct vmb_call *c);
enum vmb_err vmb_h_kv_metadata(struct vmb_call *c);


/* backend_transit.c */
int vmb_transit_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_transit_encrypt(struct vmb_call *c);
enum vmb_err vmb_h_transit_decrypt(struct vmb_call *c);
enum vmb_err vmb_h_transit_rewrap(struct vmb_call *c);
enum vmb_err vmb_h_transit_sign(struct vmb_call *c);
enum vmb_err vmb_h_transit_verify(struct vmb_call *c);
enum vmb_err vmb_h_transit_hmac(struct vmb_call *c);
enum vmb_err vmb_h_transit_random(struct vmb_call *c);

/* backend_db.c */
int vmb_db_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_db_issue_creds(struct vmb_call *c);
enum vmb_err vmb_h_db_renew(struct vmb_call *c);
enum vmb_err vmb_h_db_revoke(struct vmb_call *c);

/* backend_ssh.c */
int vmb_ssh_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_ssh_otp(struct vmb_call *c);
enum vmb_err vmb_h_ssh_sign(struct vmb_call *c);

/* backend_kms.c: AWS KMS over JSON 1.1, signed with SigV4 (sigv4.c) */
/* Response wrapping (backend_wrap.c): the wrap_ttl steps around the
   secret-returning handlers (before: validate and refuse early; after:
   replace the answer with {wrap_info}) and the wrap.* operations. */
int vmb_wrap_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_wrap_before(struct vmb_call *c);
enum vmb_err vmb_wrap_after(struct vmb_call *c);
enum vmb_err vmb_h_wrap_lookup(struct vmb_call *c);
enum vmb_err vmb_h_wrap_unwrap(struct vmb_call *c);

int vmb_kms_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_kms_encrypt(struct vmb_call *c);
enum vmb_err vmb_h_kms_decrypt(struct vmb_call *c);
enum vmb_err vmb_h_kms_generate_data_key(struct vmb_call *c);
enum vmb_err vmb_h_kms_sign(struct vmb_call *c);
enum vmb_err vmb_h_kms_verify(struct vmb_call *c);

/* backend_kms.c: what the bridge makes of one KMS answer, without the
   network (the fuzzers call these with hostile bytes). Zero a
   vmb_kms_reply, set status, feed it each response header line with
   vmb_kms_reply_header, then read the body with vmb_kms_reply_read:
   VMB_ERR_OK with body the reply object (owned by arena), or the
   translated failure with detail (a sentence for the caller) and
   error_name (KMS's bare error name, "" when it gave none; NULL when the
   failure is not KMS's answer). Pointers are into arena or static. */
struct vmb_kms_reply {
  long status;
  char errtype[128];          /* X-Amzn-ErrorType, raw */
  json_object *body;
  const char *error_name;
  const char *detail;
};
void vmb_kms_reply_header(struct vmb_kms_reply *r, const char *line, size_t n);
enum vmb_err vmb_kms_reply_read(struct vmb_arena *a, struct vmb_kms_reply *r,
                                const char *body, size_t len);

/* backend_kms.c: adds {"kms":{...}} to out when KMS is enabled; -1 when
   enabled but not usable (no region or no credentials). */
int vmb_kms_ready(struct vmb_request *req, json_object *out, const char **problem);

#endif
