/*
** core.c - the HTTP entry: the transport-neutral calls of vmb/core.h that
** serve requests. Every REST request goes through the gate's named steps
** (gate/gate.c: ids, route, origin, address limits, authenticate, rate
** limit, arguments, dispatch, respond, log); MCP tools/call (HTTP and
** stdio) enters the same gate at vmb_gate_run(). Start-up and shutdown
** are in startup.c.
*/
#include "vmb/core.h"

#include "gate.h"
#include "nspath.h"

void vmb_core_handle(struct vmb_request *req, struct vmb_response *resp)
{
  vmb_gate_http(req, resp);
}

size_t vmb_core_max_body(void)
{
  return vmb_gate_max_body();
}

bool vmb_core_subject_valid(const char *subject)
{
  return vmb_subject_valid(subject);
}
