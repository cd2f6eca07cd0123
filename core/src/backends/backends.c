/*
** backends.c - the list of backends (see backends.h). Adding a backend
** means a file with its handlers, rows in the operation table, and one
** row here when it has settings or a readiness check.
*/
#include "backends.h"

#include <stddef.h>

const struct vmb_backend vmb_backends[] = {
  {"vault", vmb_backend_init, vmb_vault_ready},     /* shared by the engines */
  {"kv", vmb_kv_init, NULL},
  {"transit", vmb_transit_init, NULL},
  {"database", vmb_db_init, NULL},
  {"ssh", vmb_ssh_init, NULL},
  {"kms", vmb_kms_init, vmb_kms_ready},
  {"wrapping", vmb_wrap_init, NULL},
  {NULL, NULL, NULL}
};
