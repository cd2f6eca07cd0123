/*
** gate.c - the part of the gate every caller shares: REST requests reach
** it from the HTTP entry (entry/core.c) after routing, authentication and
** the rate limit; MCP tools/call (HTTP and stdio) enters here directly.
**
**   scope -> arguments -> handler -> responses.log -> tool metrics
*/
#include "ops.h"

#include <string.h>

#include "grants.h"
#include "metrics.h"
#include "nspath.h"
#include "registry.h"
#include "vmb/arena.h"
#include "vmb/log.h"

/* ---- JSON bodies --------------------------------------------------- */

void vmb_response_set_json(struct vmb_response *resp, json_object *doc)
{
  const char *text = json_object_to_json_string_ext(
    doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  vmb_buf_reset(&resp->body);
  if(!text || vmb_buf_append_str(&resp->body, text)) {
    vmb_buf_reset(&resp->body);
    resp->status = 500;
    vmb_buf_append_str(&resp->body,
                       "{\"error\":{\"code\":\"internal_error\",\"message\":"
                       "\"response too large\"}}");
  }
}

void vmb_respond_json(struct vmb_response *resp, int status, json_object *doc)
{
  resp->status = status;
  vmb_response_set_json(resp, doc);
}

/* ---- the shared operation gate ------------------------------------ */

enum vmb_err vmb_gate_run(struct vmb_call *call)
{
  const struct vmb_op *op = call->op;
  struct vmb_request *req = call->req;
  enum vmb_err err;
  json_object *fields;

  if(req->identity.authenticated && !vmb_subject_valid(req->identity.subject)) {
    /* Whatever entry point filled the identity (an auth mode, stdio's
       SUBJECT, a test), the subject becomes a path segment below: the one
       rule is checked here again, before any operation runs. */
    call->detail = "the caller's subject is not a valid subject";
    err = VMB_ERR_UNAUTHENTICATED;
  }
  /* The registry decides enabled, scopes and grants (auth/registry.c). */
  else if((err = vmb_registry_resolve(req, &call->detail)) != VMB_ERR_OK) {
    /* refused before the operation: nothing else to do */
  }
  else if(op->scope && (req->identity.scopes & op->scope) != op->scope) {
    call->detail = vmb_arena_printf(req->arena, "this operation requires the '%s' scope",
                                    vmb_scope_name(op->scope));
    err = VMB_ERR_FORBIDDEN;
  }
  else {
    err = vmb_args_validate(op, call->args, req->arena, &call->detail);
    if(err == VMB_ERR_OK)
      err = vmb_grants_check(call);
    if(err == VMB_ERR_OK && op->before)
      err = op->before(call);
    if(err == VMB_ERR_OK)
      err = vmb_grants_after(call, op->handler(call));
    if(err == VMB_ERR_OK && op->after)
      err = op->after(call);
  }
  if(op->flags & VMB_OP_TOOL) {
    /* responses.log: descriptors only (SPEC section 4). */
    fields = json_object_new_object();
    json_object_object_add(fields, "request_id", json_object_new_string(req->request_id));
    json_object_object_add(fields, "correlation_id", json_object_new_string(req->correlation_id));
    json_object_object_add(fields, "subject", json_object_new_string(req->identity.subject));
    json_object_object_add(fields, "operation", json_object_new_string(op->id));
    json_object_object_add(fields, "via", json_object_new_string(call->via ? call->via : "rest"));
    json_object_object_add(fields, "outcome", json_object_new_string(vmb_err_name(err)));
    if(call->log_fields) {
      json_object_object_foreach(call->log_fields, k, v)
        json_object_object_add(fields, k, json_object_get(v));
    }
    vmb_log(VMB_LOG_RESPONSES, err == VMB_ERR_OK ? VMB_LOG_INFO : VMB_LOG_WARN,
            "operation", err == VMB_ERR_OK ? "operation succeeded" : "operation failed",
            fields);
    json_object_put(fields);
    if(call->via && strcmp(call->via, "rest"))
      vmb_metrics_tool_call(op->id, err == VMB_ERR_OK);
  }
  return err;
}
