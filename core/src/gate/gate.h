/*
** gate.h - the gate's entry points (gate/gate.c). The HTTP entry hands
** every REST request to vmb_gate_http(); MCP's tools/call (HTTP and
** stdio) enters at vmb_gate_run() (declared with the operation table in
** ops.h, which is what its callers already include).
*/
#ifndef VMB_GATE_H
#define VMB_GATE_H

#include <stddef.h>

#include "vmb/config.h"
#include "vmb/request.h"

/* Take the gate's settings (BASE_PATH, CORS_ALLOW_ORIGINS, MAX_BODY_BYTES,
   EXPOSE_REST_ROUTES, DEBUG_ROUTES_ENABLED, RATE_LIMIT_ENABLED and the
   per-address limits). Strings are borrowed. 0. */
int vmb_gate_init(const struct vmb_config *cfg, char *err, size_t errlen);

/* Serve one REST request through every step, in order: ids, route,
   origin, address limits, authenticate, rate limit, arguments, dispatch,
   respond, log. Always fills resp (unless a RAW handler streamed). */
void vmb_gate_http(struct vmb_request *req, struct vmb_response *resp);

/* MAX_BODY_BYTES, the limit the transport applies while reading a body. */
size_t vmb_gate_max_body(void);

#endif
