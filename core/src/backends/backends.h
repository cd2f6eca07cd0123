/*
** backends.h - the operation handlers of the backends layer, one group
** per file, and what start-up hands each backend. Only the operation
** table (entry/ops_table.c), start-up and the tests refer to these names.
*/
#ifndef VMB_BACKENDS_H
#define VMB_BACKENDS_H

#include <json-c/json.h>

#include "ops.h"

/* Each backend is handed the configuration (mount names) at start-up. */
struct vmb_config;

/* backend.c (shared helpers) */
void vmb_backend_set_config(const struct vmb_config *cfg);

/* backend_kv.c */
void vmb_kv_set_config(const struct vmb_config *cfg);
enum vmb_err vmb_h_kv_read(struct vmb_call *c);
enum vmb_err vmb_h_kv_write(struct vmb_call *c);
enum vmb_err vmb_h_kv_patch(struct vmb_call *c);
enum vmb_err vmb_h_kv_list(struct vmb_call *c);
enum vmb_err vmb_h_kv_delete(struct vmb_call *c);
enum vmb_err vmb_h_kv_undelete(struct vmb_call *c);
enum vmb_err vmb_h_kv_destroy(struct vmb_call *c);
enum vmb_err vmb_h_kv_metadata(struct vmb_call *c);


/* backend_transit.c */
void vmb_transit_set_config(const struct vmb_config *cfg);
enum vmb_err vmb_h_transit_encrypt(struct vmb_call *c);
enum vmb_err vmb_h_transit_decrypt(struct vmb_call *c);
enum vmb_err vmb_h_transit_rewrap(struct vmb_call *c);
enum vmb_err vmb_h_transit_sign(struct vmb_call *c);
enum vmb_err vmb_h_transit_verify(struct vmb_call *c);
enum vmb_err vmb_h_transit_hmac(struct vmb_call *c);
enum vmb_err vmb_h_transit_random(struct vmb_call *c);

/* backend_db.c */
void vmb_db_set_config(const struct vmb_config *cfg);
enum vmb_err vmb_h_db_issue_creds(struct vmb_call *c);
enum vmb_err vmb_h_db_renew(struct vmb_call *c);
enum vmb_err vmb_h_db_revoke(struct vmb_call *c);

/* backend_ssh.c */
void vmb_ssh_set_config(const struct vmb_config *cfg);
enum vmb_err vmb_h_ssh_otp(struct vmb_call *c);
enum vmb_err vmb_h_ssh_sign(struct vmb_call *c);

/* backend_kms.c: AWS KMS over JSON 1.1, signed with SigV4 (sigv4.c) */
void vmb_kms_set_config(const struct vmb_config *cfg);
enum vmb_err vmb_h_kms_encrypt(struct vmb_call *c);
enum vmb_err vmb_h_kms_decrypt(struct vmb_call *c);
enum vmb_err vmb_h_kms_generate_data_key(struct vmb_call *c);
enum vmb_err vmb_h_kms_sign(struct vmb_call *c);
enum vmb_err vmb_h_kms_verify(struct vmb_call *c);

/* backend_kms.c: adds {"kms":{...}} to out when KMS is enabled; -1 when
   enabled but not usable (no region or no credentials). */
int vmb_kms_ready(json_object *out);

#endif
