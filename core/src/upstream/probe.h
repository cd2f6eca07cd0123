/*
** probe.h - background health probes behind vault_up and kms_up
** (issue 22): "Vault is down" must show on /metrics without any traffic.
**
** Every process of the pool runs one probe thread; the shared metrics file
** elects, per interval, the one process that actually probes (a
** compare-and-swap on the target's claim time), so the host sends one
** probe per interval whatever the pool size. The first probe of a process
** comes one interval after it started.
*/
#ifndef VMB_PROBE_H
#define VMB_PROBE_H

#include <stddef.h>

#include "metrics.h"
#include "vmb/config.h"

/* Start the thread when cfg->health_probe_seconds > 0 (cfg must outlive
   it: strings are borrowed). Needs vmb_vault_init() and vmb_metrics_init() first. 0, or -1
   with err filled. */
int vmb_probe_start(const struct vmb_config *cfg, char *err, size_t errlen);
/* Stop and join the thread (a probe in flight finishes first: at most
   its timeout). Safe when it never started. */
void vmb_probe_stop(void);

/* What a reply to GET /v1/sys/health (status, body of len bytes; body
   may be NULL when len is 0) says about Vault: OK, SEALED,
   UNINITIALIZED, or HTTP_ERROR for anything that is not Vault's health
   document. Pure, so the fuzzers call it directly with hostile bytes. */
enum vmb_probe_reason vmb_probe_vault_health(long status, const char *body, size_t len);

#endif
