/*
** policy.h - the Vault ACL policy of one subject (SPEC sections 3 and 9).
**
** One generator: the registry writes this text when a record changes,
** child tokens are minted with its name, and scripts/gen_policy prints
** it through vmb-gen-policy. The policy grants the subject's KV area and
** exactly the Transit keys, database roles and SSH roles of its grants
** (KMS is not Vault and is checked by the bridge alone).
**
** Names: Vault lowercases policy names, so "Alice" and "alice" would share
** one policy. The name is therefore {prefix}{folded subject}-{12 hex of
** SHA-256 of the exact subject}: readable, and distinct for distinct
** subjects whatever Vault folds.
*/
#ifndef VMB_POLICY_H
#define VMB_POLICY_H

#include <stddef.h>

#include "grantset.h"
#include "vmb/config.h"
#include "vmb/error.h"
#include "vmb/request.h"

#define VMB_POLICY_NAME_MAX 256

/* The settings the policy text depends on (strings BORROWED from the
   configuration, which outlives every caller). */
struct vmb_policy_conf {
  const char *kv_mount, *default_prefix;
  const char *transit_mount, *database_mount, *ssh_mount;
  const char *policy_prefix;          /* CHILD_TOKEN_POLICY_PREFIX */
};
void vmb_policy_conf_from(const struct vmb_config *cfg, struct vmb_policy_conf *pc);

/* Module start-up: keeps the settings above for the writers below. */
int vmb_policy_init(const struct vmb_config *cfg, char *err, size_t errlen);

/* The policy name of subject into out. 0, or -1 when it does not fit. */
int vmb_policy_name(const char *prefix, const char *subject, char *out, size_t outlen);

/* The HCL text for subject with grants g (NULL = none), with pc's
   mounts and prefix. malloc'ed (caller frees), NULL on OOM. */
char *vmb_policy_hcl(const struct vmb_policy_conf *pc, const char *subject,
                     const struct vmb_grant_set *g);
/* The name of subject's policy with the configured prefix. 0 or -1. */
int vmb_policy_name_of(const char *subject, char *out, size_t outlen);

/* Write the policy into Vault (sys/policies/acl/<name>) with the
   bridge's token, and remember it for vmb_policy_ensure. */
enum vmb_err vmb_policy_write(struct vmb_request *req, const char *subject,
                              const struct vmb_grant_set *g);
/* Write it unless this process already wrote the same text. Failures
   are logged once and reported (the caller may still mint: an operator
   may have loaded the policy with scripts/gen_policy). */
enum vmb_err vmb_policy_ensure(struct vmb_request *req, const char *subject,
                               const struct vmb_grant_set *g);
/* Forget that this process wrote the subject's policy, so the next mint
   writes it again (Vault answered 403 under a fresh token). */
void vmb_policy_forget(const char *subject);
/* Remove the subject's policy (a deleted subject). */
enum vmb_err vmb_policy_delete(struct vmb_request *req, const char *subject);

#endif
