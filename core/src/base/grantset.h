/*
** grantset.h - what a subject may use beyond its KV area: Transit keys,
** database roles, SSH roles and KMS keys (SPEC section 9). Pure data and
** checks; the registry (auth/registry.c) fills it, the gate
** (gate/grants.c) checks it, the policy writer (upstream/policy.c) turns
** it into a Vault policy.
*/
#ifndef VMB_GRANTSET_H
#define VMB_GRANTSET_H

#include <stdbool.h>

#include <json-c/json.h>

struct vmb_arena;

enum vmb_grant_kind {
  VMB_GRANT_TRANSIT = 0,
  VMB_GRANT_DB,
  VMB_GRANT_SSH,
  VMB_GRANT_KMS,
  VMB_GRANT__N
};

/* What a subject may use beyond its KV area. Each list is a run of
   names separated by '\n' ("*" = any); "" grants nothing. Strings are
   owned by whoever built the set (arena, snapshot or static). */
struct vmb_grant_set {
  bool from_registry;
  bool unknown;               /* the registry could not be read: refuse 503 */
  const char *names[VMB_GRANT__N];
  /* The record's response-wrapping policy (docs/wrapping.md); subjects
     without a record or without the field are OPTIONAL (0). */
  enum vmb_wrap_policy {
    VMB_WRAP_OPTIONAL = 0,
    VMB_WRAP_NEVER,
    VMB_WRAP_ALWAYS
  } wrap;
};

/* "transit_keys", "db_roles", "ssh_roles", "kms_keys". */
const char *vmb_grant_field(enum vmb_grant_kind k);
/* "Transit key", "database role", "SSH role", "KMS key". */
const char *vmb_grant_noun(enum vmb_grant_kind k);
/* True when g grants name of kind k (exactly or through "*"). name NULL
   asks whether any grant of that kind exists. g NULL grants nothing. */
bool vmb_grant_allows(const struct vmb_grant_set *g, enum vmb_grant_kind k,
                      const char *name);
/* Check and convert a grants object {"transit_keys":[..],...} into a set
   in the arena. NULL with *why (static or arena text) when invalid. */
const struct vmb_grant_set *vmb_grants_from_json(struct vmb_arena *a,
                                                 json_object *grants,
                                                 const char **why);
/* The grants as a NEW json object with all four lists. */
json_object *vmb_grants_to_json(const struct vmb_grant_set *g);

#endif
