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

/* backend_kv.c */
enum vmb_err vmb_h_kv_read(struct vmb_call *c);
enum vmb_err vmb_h_kv_write(struct vmb_call *c);
enum vmb_err vmb_h_kv_patch(struct vmb_call *c);
enum vmb_err vmb_h_kv_list(struct vmb_call *c);
enum vmb_err vmb_h_kv_delete(struct vmb_call *c);
enum vmb_err vmb_h_kv_undelete(struct vmb_call *c);
enum vmb_err vmb_h_kv_destroy(struct vmb_call *c);
enum vmb_err vmb_h_kv_metadata(struct vmb_call *c);

/* observability.c */
enum vmb_err vmb_h_metrics(struct vmb_call *c);
enum vmb_err vmb_h_obs_summary(struct vmb_call *c);
enum vmb_err vmb_h_obs_logs(struct vmb_call *c);

#endif
