/*
** metrics.h - counters for /metrics (SPEC section 6). Host-wide in the
** final design (issue 9); the gate reports through these calls only.
*/
#ifndef VMB_METRICS_H
#define VMB_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmb/config.h"

int vmb_metrics_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_metrics_cleanup(void);
/* One HTTP request finished. route is the op id or "unmatched". */
void vmb_metrics_request(const char *method, const char *route, int status,
                         uint64_t duration_us, bool had_correlation);
void vmb_metrics_auth_failure(const char *mode, const char *reason);
void vmb_metrics_rate_limited(void);
void vmb_metrics_tool_call(const char *tool, bool ok);
void vmb_metrics_vault(const char *operation, int status, uint64_t duration_us);
void vmb_metrics_inflight(int delta);

#endif
