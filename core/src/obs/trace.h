/*
** trace.h - OpenTelemetry tracing over OTLP/HTTP JSON (issue 9, SPEC 6).
**
** On only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Each request gets a
** server span; authentication and every Vault call get child spans. The
** span context of the request being served lives in a thread-local slot
** (one request per serving thread at a time), so vault.c needs no extra
** parameters. Finished spans go into a bounded in-process queue; one
** background thread per process batches them and POSTs them to
** {endpoint}/v1/traces. Recording never waits for the network: when the
** queue is full the span is dropped and counted (otel_spans_dropped_total).
**
** Attributes are limited to method, route template, status, op id, auth
** mode and Vault operation name: never paths, subjects, tokens or bodies.
*/
#ifndef VMB_TRACE_H
#define VMB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmb/config.h"
#include "vmb/request.h"

/* Start the exporter thread when tracing is configured. 0 or -1. */
int vmb_trace_init(const struct vmb_config *cfg, char *err, size_t errlen);
/* Flush what is queued (bounded wait) and stop the thread. */
void vmb_trace_cleanup(void);
bool vmb_trace_enabled(void);

/*
** Strict W3C trace-context parse of a traceparent value. On success fills
** trace_id (16 bytes), parent span id (8 bytes) and flags, and returns 0.
** Rejects: wrong lengths or separators, upper-case or non-hex digits,
** version ff, all-zero ids, and for version 00 any trailing data.
*/
int vmb_traceparent_parse(const char *v, uint8_t trace_id[16],
                          uint8_t span_id[8], uint8_t *flags);

/* The request's server span: begin picks up the client's traceparent
   (or starts a new trace) and sets req->trace_id; end records it. */
void vmb_trace_request_begin(struct vmb_request *req);
void vmb_trace_request_end(struct vmb_request *req, const char *op_id,
                           const char *route, int status);

/* A child span of the current request (no-op outside a traced request).
   Lives on the caller's stack. */
struct vmb_trace_span {
  bool active;
  uint8_t span_id[8];
  uint64_t start_ns;
};
void vmb_trace_span_begin(struct vmb_trace_span *s);
/* authentication: mode is the bounded mode name, ok the outcome. */
void vmb_trace_auth_end(struct vmb_trace_span *s, const char *mode, bool ok);
/* A Vault call: HTTP method, Vault op name (code constant), status
   (0 = not reached). */
void vmb_trace_vault_end(struct vmb_trace_span *s, const char *method,
                         const char *vault_op, long status);
/* "traceparent: 00-<trace>-<span>-<flags>" for the outgoing Vault call
   into out; 0, or -1 when the span is not active. */
int vmb_trace_header(const struct vmb_trace_span *s, char *out, size_t outlen);

#endif
