/*
** trace.h - OpenTelemetry tracing over OTLP/HTTP JSON (issue 9, SPEC 6).
**
** On only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Each request gets a
** server span; authentication and every outbound call get child spans.
** The span context lives in the request (req->trace) and is passed
** explicitly to whatever starts a child span. Finished spans go into a
** bounded in-process queue; one background thread per process batches
** them and hands them to the sender given at start-up (upstream/otlp.c
** POSTs them to {endpoint}/v1/traces). Recording never waits for the
** network: when the queue is full the span is dropped and counted
** (otel_spans_dropped_total).
**
** Attributes are limited to method, route template, status, op id, auth
** mode and upstream operation name: never paths, subjects, tokens or bodies.
*/
#ifndef VMB_TRACE_H
#define VMB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmb/config.h"
#include "vmb/request.h"

/* Sends one OTLP/JSON export document; true when the collector took it.
   Called only from the exporter thread. */
typedef bool (*vmb_trace_sender)(const char *json, size_t len);

/* Start the exporter thread when tracing is configured; send (from the
   upstream layer: the trace layer makes no network calls of its own) is
   how batches leave. 0 or -1. */
int vmb_trace_init(const struct vmb_config *cfg, vmb_trace_sender send,
                   char *err, size_t errlen);
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

/* A child span of parent (a request's trace context; NULL or an inactive
   context makes a no-op span; an unsampled one propagates its context
   but records nothing). Lives on the caller's stack. */
struct vmb_trace_span {
  bool active, sampled;
  uint8_t trace_id[16], span_id[8], parent_id[8];
  uint64_t start_ns;
};
void vmb_trace_span_begin(struct vmb_trace_span *s, const struct vmb_trace_ctx *parent);
/* authentication: mode is the bounded mode name, ok the outcome. */
void vmb_trace_auth_end(struct vmb_trace_span *s, const char *mode, bool ok);
/* An outbound call (upstream/http_client.c): upstream name ("vault",
   "kms", "jwks"), HTTP method, operation name (a code constant), status
   (0 = not reached). The span is named "{upstream} {op}". */
void vmb_trace_client_end(struct vmb_trace_span *s, const char *upstream,
                          const char *method, const char *op, long status);
/* "traceparent: 00-<trace>-<span>-<flags>" for the outgoing call into out;
   0, or -1 when the span is not active. */
int vmb_trace_header(const struct vmb_trace_span *s, char *out, size_t outlen);

#endif
