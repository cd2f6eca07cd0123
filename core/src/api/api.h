/*
** api.h - the bridge's own endpoints (health, OpenAPI, observability):
** handlers for the operation table (entry/ops_table.c).
*/
#ifndef VMB_API_H
#define VMB_API_H

#include "ops.h"

/* health.c */
enum vmb_err vmb_h_healthz(struct vmb_call *c);
enum vmb_err vmb_h_readyz(struct vmb_call *c);
enum vmb_err vmb_h_whoami(struct vmb_call *c);
enum vmb_err vmb_h_echo_headers(struct vmb_call *c);

/* openapi.c */
enum vmb_err vmb_h_openapi(struct vmb_call *c);

/* admin.c: the subject registry's admin API (scope admin, REST only) */
struct vmb_config;
int vmb_admin_init(const struct vmb_config *cfg, char *err, size_t errlen);
enum vmb_err vmb_h_admin_list(struct vmb_call *c);
enum vmb_err vmb_h_admin_create(struct vmb_call *c);
enum vmb_err vmb_h_admin_get(struct vmb_call *c);
enum vmb_err vmb_h_admin_patch(struct vmb_call *c);
enum vmb_err vmb_h_admin_delete(struct vmb_call *c);
enum vmb_err vmb_h_admin_add_key(struct vmb_call *c);
enum vmb_err vmb_h_admin_revoke_key(struct vmb_call *c);
enum vmb_err vmb_h_admin_issue_jwt(struct vmb_call *c);
enum vmb_err vmb_h_admin_csv(struct vmb_call *c);

/* observability.c */
enum vmb_err vmb_h_metrics(struct vmb_call *c);
enum vmb_err vmb_h_obs_summary(struct vmb_call *c);
enum vmb_err vmb_h_obs_logs(struct vmb_call *c);

#endif
