/*
** startup.c - process start-up and shutdown: configuration passed down.
**
** Every module of the core has an init that takes the configuration and
** keeps only the settings it reads (no module holds a pointer to the
** whole configuration), and a cleanup. They are listed once, below, in
** the order they are started; shutdown walks the same list backwards, so
** a module is always cleaned up before the ones it relies on. The
** backends have their own list (backends/backends.c), walked here in one
** loop and again by /readyz. This is nginx's ngx_init_modules in spirit:
** one loop over one table instead of a chain of hand-written calls.
*/
#include "vmb/core.h"

#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "auth.h"
#include "backends.h"
#include "gate.h"
#include "mcp.h"
#include "metrics.h"
#include "ops_table.h"
#include "otlp.h"
#include "probe.h"
#include "grants.h"
#include "policy.h"
#include "ratelimit.h"
#include "registry.h"
#include "redis.h"
#include "trace.h"
#include "vault.h"
#include "vault_auth.h"
#include "vmb/log.h"

static int log_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  return vmb_log_open(*cfg->log_dir ? cfg->log_dir : NULL, cfg->log_level, err, errlen);
}

/* The metric label sets come from the operation table. */
static int metrics_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  struct vmb_metrics_op *rows = calloc(vmb_n_ops ? vmb_n_ops : 1, sizeof(*rows));
  size_t i;
  int rc;
  if(!rows) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for(i = 0; i < vmb_n_ops; i++) {
    rows[i].id = vmb_ops[i].id;
    rows[i].method = vmb_ops[i].method;
    rows[i].path = vmb_ops[i].path;
  }
  rc = vmb_metrics_init(cfg, rows, vmb_n_ops, err, errlen);
  free(rows);
  return rc;
}

/* Spans leave through the outbound client: the trace layer below it is
   handed the sender. */
static int trace_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  return vmb_trace_init(cfg, vmb_otlp_send, err, errlen);
}

static int backends_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  const struct vmb_backend *b;
  for(b = vmb_backends; b->name; b++)
    if(b->init && b->init(cfg, err, errlen))
      return -1;
  return 0;
}

struct module {
  const char *name;
  int (*init)(const struct vmb_config *cfg, char *err, size_t errlen);
  void (*cleanup)(void);                  /* NULL: nothing to release */
};

/* Start order: logs first (everything may log), then the outbound side,
   authentication, limits and observability, the backends and MCP, and
   the gate (the HTTP steps) last. */
static const struct module modules[] = {
  {"log", log_init, vmb_log_close},
  {"vault", vmb_vault_init, vmb_vault_cleanup},
  {"vault_auth", vmb_vault_auth_init, vmb_vault_auth_cleanup},
  {"policy", vmb_policy_init, NULL},
  {"auth", vmb_auth_init, vmb_auth_cleanup},
  {"registry", vmb_registry_init, vmb_registry_cleanup},   /* RUN_DIR, grants */
  {"redis", vmb_redis_init, vmb_redis_cleanup},   /* no-op without REDIS_URL */
  {"ratelimit", vmb_ratelimit_init, vmb_ratelimit_cleanup},
  {"grants", vmb_grants_init, NULL},
  {"admin", vmb_admin_init, NULL},
  {"metrics", metrics_init, vmb_metrics_cleanup},
  {"otlp", vmb_otlp_init, vmb_otlp_cleanup},
  {"trace", trace_init, vmb_trace_cleanup},       /* after otlp, its sender */
  {"backends", backends_init, NULL},
  {"mcp", vmb_mcp_init, vmb_mcp_cleanup},
  /* Background threads that call Vault record metrics and spans: they
     start after, and are joined before, metrics, otlp and trace. */
  {"vault_renewal", vmb_vault_auth_start_renewal, vmb_vault_auth_stop_renewal},
  {"probe", vmb_probe_start, vmb_probe_stop},     /* after vault, metrics */
  {"gate", vmb_gate_init, NULL},
};
#define N_MODULES (sizeof(modules) / sizeof(modules[0]))

/* How many modules of the list are up; shutdown releases only those. */
static size_t n_started;

int vmb_core_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  if(vmb_ops_install(vmb_ops, vmb_n_ops)) {
    snprintf(err, errlen, "the operation table has an MCP tool that is RAW, "
             "returns a document or reads the body itself");
    return -1;
  }
  for(n_started = 0; n_started < N_MODULES; n_started++)
    if(modules[n_started].init(cfg, err, errlen)) {
      vmb_core_shutdown();       /* release what did start */
      return -1;
    }
  return 0;
}

void vmb_core_stop(void)
{
  vmb_mcp_stop_streams();
}

void vmb_core_shutdown(void)
{
  while(n_started > 0) {
    const struct module *m = &modules[--n_started];
    if(m->cleanup)
      m->cleanup();
  }
}

int vmb_core_check_config(const struct vmb_config *cfg, char *err, size_t errlen)
{
  /* Only checks that need no Vault, no files and no shared memory, and
     that start-up makes the same way (one function each, so the two
     cannot drift apart). */
  return vmb_apikey_validate(cfg, err, errlen);
}
