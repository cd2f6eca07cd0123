/*
** metrics.c - placeholder counters until host-wide metrics land
** (issue 9). Accepts every observation and keeps nothing.
*/
#include "metrics.h"

int vmb_metrics_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  (void)cfg; (void)err; (void)errlen;
  return 0;
}
void vmb_metrics_cleanup(void) {}
void vmb_metrics_request(const char *method, const char *route, int status,
                         uint64_t duration_us, bool had_correlation)
{
  (void)method; (void)route; (void)status; (void)duration_us; (void)had_correlation;
}
void vmb_metrics_auth_failure(const char *mode, const char *reason) { (void)mode; (void)reason; }
void vmb_metrics_rate_limited(void) {}
void vmb_metrics_tool_call(const char *tool, bool ok) { (void)tool; (void)ok; }
void vmb_metrics_vault(const char *operation, int status, uint64_t duration_us)
{
  (void)operation; (void)status; (void)duration_us;
}
void vmb_metrics_inflight(int delta) { (void)delta; }
