/*
** grants.h - per-subject grants checked in the gate (grants.c).
*/
#ifndef VMB_GRANTS_H
#define VMB_GRANTS_H

#include "ops.h"
#include "vmb/config.h"

/* Module start-up: keeps the database mount and the default KMS key. */
int vmb_grants_init(const struct vmb_config *cfg, char *err, size_t errlen);

/* Before the handler: is the resource this call names granted to the
   caller (and, for db.renew/db.revoke, was the lease issued to it)?
   OK, NOT_GRANTED with c->detail, or a Vault error. */
enum vmb_err vmb_grants_check(struct vmb_call *c);

/* After the handler: record the owner of a new database lease (revoking
   it when that fails) and forget a revoked one. Returns err, or the
   error that replaced a success. */
enum vmb_err vmb_grants_after(struct vmb_call *c, enum vmb_err err);

#endif
