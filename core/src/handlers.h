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

#endif
