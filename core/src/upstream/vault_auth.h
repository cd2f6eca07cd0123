/*
** vault_auth.h - the bridge's own Vault token (static or AppRole, renewed
** by a background thread) and the per-subject child tokens.
*/
#ifndef VMB_VAULT_AUTH_H
#define VMB_VAULT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"
#include "vmb/error.h"
#include "vmb/request.h"

int vmb_vault_auth_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_vault_auth_cleanup(void);
/* The AppRole token's renewal thread, started and stopped apart from
   init/cleanup: its calls record metrics and trace spans, so it must start
   after those modules and be joined before they are released. */
int vmb_vault_auth_start_renewal(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_vault_auth_stop_renewal(void);
/* The token to use for subject's calls into out; OK, or an error.
   *from_cache tells whether it was reused rather than minted just now. */
enum vmb_err vmb_vault_subject_token(struct vmb_request *req, const char *subject,
                                     char *out, size_t outlen, const char **detail,
                                     bool *from_cache);
/* Drop subject's cached child token (it was refused). */
void vmb_vault_forget_subject_token(const char *subject);
/* A fresh token for one database lease (see vault_auth.c): the subject's
   policy only, DB_LEASE_TOKEN_TTL, orphan unless DB_LEASE_TOKEN_ORPHAN is
   false. Never cached; the caller wipes it. *ttl gets Vault's TTL. */
enum vmb_err vmb_vault_lease_token(struct vmb_request *req, const char *subject,
                                   char *out, size_t outlen, long *ttl,
                                   const char **detail);
/* Revoke a lease token that ended up holding no lease (the call under it
   failed), with the bridge's own token; best effort. */
void vmb_vault_drop_lease_token(struct vmb_request *req, const char *token);

#endif
