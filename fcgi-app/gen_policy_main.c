/*
** vmb-gen-policy - print the Vault policy the bridge writes for a subject
** (scripts/gen_policy is the friendly front end).
**
**   vmb-gen-policy --subject S [--grants JSON] [--name-only] [settings]
**
** Settings flags (--kv-mount, --default-prefix, --transit-mount,
** --database-mount, --ssh-mount, --child-token-policy-prefix, ...) and the
** environment are read like the server reads them, so the text printed is
** the text the running bridge writes with the same configuration.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmb/config.h"
#include "vmb/core.h"

int main(int argc, char **argv)
{
  struct vmb_config cfg;
  char err[512], name[300];
  const char *subject = NULL, *grants = NULL;
  int i, name_only = 0;
  char *hcl;
  for(i = 1; i < argc; i++) {
    if(!strcmp(argv[i], "--subject") && i + 1 < argc)
      subject = argv[++i];
    else if(!strcmp(argv[i], "--grants") && i + 1 < argc)
      grants = argv[++i];
    else if(!strcmp(argv[i], "--name-only"))
      name_only = 1;
    else if(!strncmp(argv[i], "--", 2) && vmb_config_is_flag(argv[i] + 2,
                                                            strcspn(argv[i] + 2, "="))) {
      if(!strchr(argv[i], '='))
        i++;
    }
    else {
      fprintf(stderr, "vmb-gen-policy: unknown argument \"%.64s\"\n"
              "usage: vmb-gen-policy --subject S [--grants JSON] [--name-only] "
              "[--kv-mount M] [--default-prefix P] [...]\n", argv[i]);
      return 2;
    }
  }
  if(!subject) {
    fprintf(stderr, "vmb-gen-policy: --subject is required\n");
    return 2;
  }
  if(vmb_config_load(&cfg, argc, argv, err, sizeof(err))) {
    fprintf(stderr, "vmb-gen-policy: %s\n", err);
    return 2;
  }
  hcl = vmb_core_policy_text(&cfg, subject, grants, name, sizeof(name), err, sizeof(err));
  vmb_config_free(&cfg);
  if(!hcl) {
    fprintf(stderr, "vmb-gen-policy: %s\n", err);
    return 2;
  }
  if(name_only)
    printf("%s\n", name);
  else
    fputs(hcl, stdout);
  free(hcl);
  return 0;
}
