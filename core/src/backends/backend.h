/*
** backend.h - helpers shared by the Vault-backed operation handlers.
*/
#ifndef VMB_BACKEND_H
#define VMB_BACKEND_H

#include "ops.h"
#include "vault.h"
#include "vault_auth.h"

/*
** Call Vault on behalf of the caller: under the subject's child token when
** CHILD_TOKEN_ENABLED, else under the bridge's own token. Same contract as
** vmb_vault_call.
*/
enum vmb_err vmb_backend_vault(struct vmb_call *c, const char *op,
                               const char *method, const char *path,
                               json_object *body, struct vmb_vault_reply *reply);

/*
** The same for a call that creates a lease which must outlive the request
** (db.issue_creds): with child tokens it runs under a lease token of its
** own (vault_auth.c), whose TTL goes to *token_ttl (0 when the bridge's
** token was used). Vault ends the lease at the latest with that token.
*/
enum vmb_err vmb_backend_vault_lease(struct vmb_call *c, const char *op,
                                     const char *method, const char *path,
                                     json_object *body, struct vmb_vault_reply *reply,
                                     long *token_ttl);

/* Turn a failed Vault reply into the client-facing error and detail
   (Vault's own message for 400s, a plain sentence otherwise). */
enum vmb_err vmb_backend_fail(struct vmb_call *c, enum vmb_err err,
                              const struct vmb_vault_reply *reply);

/* Borrowed member of Vault's "data" object, or NULL. */
json_object *vmb_reply_data(const struct vmb_vault_reply *reply);

/* Copy member key of src into dst (NEW reference taken); no-op if absent. */
void vmb_json_copy(json_object *dst, json_object *src, const char *key);

/* The last n characters of s (for lease ids in logs), in the arena. */
const char *vmb_suffix(struct vmb_call *c, const char *s, size_t n);

/* Borrowed string argument, or NULL when absent. */
const char *vmb_arg_str(struct vmb_call *c, const char *name);
/* Integer argument, or def when absent. */
int64_t vmb_arg_int(struct vmb_call *c, const char *name, int64_t def);
/* Borrowed argument of any type, or NULL. */
json_object *vmb_arg(struct vmb_call *c, const char *name);

/* True when s[0..n) may be one segment of a Vault path naming a key or
   a role: [A-Za-z0-9_.-], 1..128 characters, never "..". Vault accepts
   more; being stricter costs nothing and rules out path injection. */
bool vmb_name_ok(const char *s, size_t n);
/* The argument field checked with vmb_name_ok and logged as a
   descriptor; NULL with c->detail naming the field when it is not. */
const char *vmb_checked_name(struct vmb_call *c, const char *field);

#endif
