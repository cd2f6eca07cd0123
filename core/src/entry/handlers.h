/*
** handlers.h - operation handlers, one group per backend file. Only
** ops.c (the table) and the tests refer to these names.
*/
#ifndef VMB_HANDLERS_H
#define VMB_HANDLERS_H

#include "ops.h"

/* health.c */
enum vmb_err vmb_h_healthz(struct vmb_call *c);
enum vmb_err vmb_h_readyz(struct vmb_call *c);
enum vmb_err vmb_h_whoami(struct vmb_call *c);
enum vmb_err vmb_h_echo_headers(struct vmb_call *c);

/* openapi.c */
enum vmb_err vmb_h_openapi(struct vmb_call *c);

/* backend_kv.c */
enum vmb_err vmb_h_kv_read(struct vmb_call *c);
enum vmb_err vmb_h_kv_write(struct vmb_call *c);
enum vmb_err vmb_h_kv_patch(struct vmb_call *c);
enum vmb_err vmb_h_kv_list(struct vmb_call *c);
enum vmb_err vmb_h_kv_delete(struct vmb_call *c);
enum vmb_err vmb_h_kv_undelete(struct vmb_call *c);
enum vmb_err vmb_h_kv_destroy(struct vmb_call *c);
enum vmb_err vmb_h_kv_metadata(struct vmb_call *c);

/* backend_transit.c, backend_db.c, backend_ssh.c: core.c hands them the
   configuration (mount names) at start-up. */
struct vmb_config;

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

/* mcp_http.c, mcp_bus.c: the MCP transport endpoints */
enum vmb_err vmb_h_mcp_rpc(struct vmb_call *c);
enum vmb_err vmb_h_mcp_rpc_delete(struct vmb_call *c);
enum vmb_err vmb_h_mcp_sse(struct vmb_call *c);
enum vmb_err vmb_h_oauth_resource_metadata(struct vmb_call *c);

/* backend_kms.c: adds {"kms":{...}} to out when KMS is enabled; -1 when
   enabled but not usable (no region or no credentials). */
int vmb_kms_ready(json_object *out);

/* observability.c */
enum vmb_err vmb_h_metrics(struct vmb_call *c);
enum vmb_err vmb_h_obs_summary(struct vmb_call *c);
enum vmb_err vmb_h_obs_logs(struct vmb_call *c);

#endif
