/*
** policy_print.c - the policy text for scripts/gen_policy (vmb/core.h):
** the same generator (upstream/policy.c) the registry uses when it writes
** a subject's policy, reached from outside the core through one public
** function so the tool needs no private header.
*/
#include "vmb/core.h"

#include <stdio.h>
#include <string.h>

#include "grantset.h"
#include "nspath.h"
#include "policy.h"
#include "util.h"
#include "vmb/arena.h"

char *vmb_core_policy_text(const struct vmb_config *cfg, const char *subject,
                           const char *grants_json, char *name, size_t namelen,
                           char *err, size_t errlen)
{
  struct vmb_arena *a;
  json_object *doc;
  const struct vmb_grant_set *g;
  const char *why = NULL, *text = grants_json && *grants_json ? grants_json
                                                              : cfg->default_grants_json;
  char *hcl = NULL;
  if(!subject || !vmb_subject_valid(subject)) {
    snprintf(err, errlen, "invalid subject (1 to 128 characters of A-Z a-z 0-9 . _ - @)");
    return NULL;
  }
  if(vmb_policy_name(cfg->child_token_policy_prefix, subject, name, namelen)) {
    snprintf(err, errlen, "the policy name does not fit (empty or long prefix)");
    return NULL;
  }
  if(!(a = vmb_arena_create())) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  doc = vmb_json_parse(text, strlen(text), 8);
  g = doc ? vmb_grants_from_json(a, doc, &why) : NULL;
  if(!g)
    snprintf(err, errlen, "invalid grants: %s", why ? why : "expected a JSON object");
  else {
    struct vmb_policy_conf pc;
    vmb_policy_conf_from(cfg, &pc);
    if(!(hcl = vmb_policy_hcl(&pc, subject, g)))
      snprintf(err, errlen, "out of memory");
  }
  json_object_put(doc);
  vmb_arena_destroy(a);
  return hcl;
}
