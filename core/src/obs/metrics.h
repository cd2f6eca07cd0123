/*
** metrics.h - host-wide counters for /metrics (SPEC section 6, issue 9).
**
** Every worker thread and every worker process of the host's pool adds
** to one fixed-layout file under RUN_DIR, mapped MAP_SHARED and updated
** with C11 atomics: a scrape served by any worker reports the whole pool,
** and a worker that dies loses nothing it had counted. Labels only take
** bounded values (fixed method list, the op table's route templates,
** HTTP status codes, fixed auth mode/reason lists, op ids).
**
** All recording calls are thread-safe, lock-free and never block; before
** vmb_metrics_init() (or when it failed) they do nothing.
*/
#ifndef VMB_METRICS_H
#define VMB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmb/buf.h"
#include "vmb/config.h"

/* The label values an operation contributes: its id (tool label) and,
   for a REST route, method and path template (route label). The strings
   are BORROWED and must live for the process (the op table's literals). */
struct vmb_metrics_op {
  const char *id;
  const char *method;         /* NULL when the op has no REST route */
  const char *path;
};

/* Map (or create) RUN_DIR/metrics.shm and register this process in it.
   ops[0..n_ops) fix the bounded label sets; the array itself may be
   freed after the call. Safe when many processes start at once. 0, or
   -1 with err filled. */
int vmb_metrics_init(const struct vmb_config *cfg, const struct vmb_metrics_op *ops,
                     size_t n_ops, char *err, size_t errlen);
/* Unregister this process and unmap. */
void vmb_metrics_cleanup(void);
/* One HTTP request finished. route is the op's path template (as in the
   op table) or "unmatched"; anything else counts as "unmatched". */
void vmb_metrics_request(const char *method, const char *route, int status,
                         uint64_t duration_us, bool had_correlation);
void vmb_metrics_auth_failure(const char *mode, const char *reason);
void vmb_metrics_rate_limited(void);
/* tool is an op id from the table; unknown ids are ignored. */
void vmb_metrics_tool_call(const char *tool, bool ok);
/* status 0 means Vault was not reached. */
void vmb_metrics_vault(const char *operation, int status, uint64_t duration_us);
void vmb_metrics_inflight(int delta);
/* Parked event streams of this process (mcp_park.c): +1 / -1. */
void vmb_metrics_streams(int delta);
/* One outbound call (upstream/http_client.c). upstream is "vault", "kms",
   "jwks" or "otlp" (else counted as "other"); ok is false when it was
   not reached, cut off, or answered 5xx. */
void vmb_metrics_upstream(const char *upstream, bool ok, uint64_t duration_us);

/* Span exporter accounting (trace.c). */
void vmb_metrics_spans_exported(uint64_t n);
void vmb_metrics_spans_dropped(uint64_t n);

/*
** Background probes (upstream/probe.c): what the last probe of a target
** found, for vault_up / kms_up without traffic. The reasons are a fixed,
** bounded list (VMB_PROBE_REASONS); "unknown" until the first probe.
** vmb_metrics_probe_claim() lets one process of the pool probe per
** interval: it returns true for the caller that moved the target's claim
** time forward (compare-and-swap in the shared file), false for the rest.
*/
/* REDIS is not probed in the background: upstream/redis.c records the
   outcome of every command it runs (only when REDIS_URL is set). */
enum vmb_probe_target { VMB_PROBE_VAULT, VMB_PROBE_KMS, VMB_PROBE_REDIS, VMB_PROBE_N };
#define VMB_PROBE_REASONS(X) \
  X(UNKNOWN, "unknown")   /* never probed */ \
  X(OK, "ok") \
  X(REFUSED, "refused")   /* connection refused: nothing listens */ \
  X(TIMEOUT, "timeout")   /* no answer in time */ \
  X(UNREACHABLE, "unreachable") /* no route, reset, other network error */ \
  X(DNS, "dns")           /* the name does not resolve */ \
  X(TLS, "tls")           /* handshake or certificate failed */ \
  X(SEALED, "sealed")     /* Vault answers but is sealed */ \
  X(UNINITIALIZED, "uninitialized") \
  X(HTTP_ERROR, "http_error") /* any other unexpected answer */
enum vmb_probe_reason {
#define X(n, s) VMB_PROBE_##n,
  VMB_PROBE_REASONS(X)
#undef X
  VMB_PROBE_REASON_N
};
bool vmb_metrics_probe_claim(enum vmb_probe_target t, unsigned interval_s);
void vmb_metrics_probe(enum vmb_probe_target t, enum vmb_probe_reason r,
                       uint64_t duration_us);

/* Append the Prometheus text exposition (format 0.0.4) to out.
   0, or -1 when out's ceiling was hit or metrics are not initialised. */
int vmb_metrics_render(struct vmb_buf *out);

/* A consistent-enough snapshot for /observability/summary. */
struct vmb_metrics_summary {
  uint64_t requests_total;
  uint64_t requests_4xx, requests_5xx;
  int64_t in_flight;              /* summed over live worker processes */
  unsigned worker_processes;      /* live pids registered in the file */
  double pool_created;            /* unix time the file was created */
  double process_start;           /* unix time this process started */
  uint64_t spans_exported, spans_dropped;
  /* Errors in the last window_seconds (per-minute buckets). */
  unsigned window_seconds;
  uint64_t recent_requests, recent_4xx, recent_5xx, recent_auth_failures,
           recent_rate_limited, recent_vault_errors;
};
/* 0, or -1 when metrics are not initialised. window_minutes 1..60. */
int vmb_metrics_summary(struct vmb_metrics_summary *s, unsigned window_minutes);

#endif
