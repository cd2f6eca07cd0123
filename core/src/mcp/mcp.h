/*
** mcp.h - the Model Context Protocol side of the core (SPEC section 5).
**
** Three layers, each in its own file:
**   mcp.c       transport-neutral JSON-RPC: one message in, at most one
**               message out; tools come from the operation table and run
**               through vmb_gate_run(), so REST and MCP share scope
**               checks, validation, handlers and responses.log;
**   mcp_http.c  Streamable HTTP at POST /mcp/rpc (a RAW operation) and
**               the RFC 9728 protected-resource metadata;
**   mcp_bus.c   the host-wide event bus (a small shared-memory file in
**               RUN_DIR) and GET /mcp/sse, which streams the caller's
**               tool.completed events whichever worker process ran them.
**
** Protocol state between requests is limited to MCP sessions, which live
** in the host-wide shared memory of mcp_bus.c, so any process of a
** FastCGI pool can serve any message of any session (docs/mcp.md).
*/
#ifndef VMB_MCP_H
#define VMB_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "ops.h"
#include "vmb/config.h"
#include "vmb/mcp.h"
#include "vmb/request.h"

/* The revision we offer when the client asks for one we do not know. */
#define VMB_MCP_DEFAULT_VERSION "2025-06-18"

/* Nesting allowed in one JSON-RPC message: the envelope (message,
   params, arguments) plus a KV document of reasonable depth. */
#define VMB_MCP_JSON_DEPTH 64

/* Process-wide set-up: the configuration and the event bus. Called by
   vmb_core_init(). 0, or -1 with err filled. */
int vmb_mcp_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_mcp_cleanup(void);

/* True for a protocol revision this bridge speaks. */
bool vmb_mcp_version_supported(const char *version);

/* What the transport should do with the outcome of one message. */
enum vmb_mcp_outcome {
  VMB_MCP_REPLY,        /* *reply is a response to a request (HTTP 200) */
  VMB_MCP_ACCEPTED,     /* notification or response: no reply (HTTP 202) */
  VMB_MCP_REJECTED      /* *reply is an error with id null (HTTP 400) */
};

/*
** Handle one JSON-RPC message text for an authenticated caller
** (req->identity). via is "mcp" or "stdio" and is recorded in
** responses.log. *reply receives a NEW reference (NULL for ACCEPTED);
** *shutdown (may be NULL) is set when the message was a `shutdown`
** request, *initialized (may be NULL) when it was a successful
** `initialize`. Never fails: out-of-memory becomes an internal-error reply.
*/
enum vmb_mcp_outcome vmb_mcp_dispatch(struct vmb_request *req, const char *via,
                                      const char *text, size_t len,
                                      json_object **reply, bool *shutdown,
                                      bool *initialized);

/* A JSON-RPC error object {jsonrpc, id, error{code, message[, data]}}.
   id is BORROWED (NULL means null); data is STOLEN (may be NULL).
   Returns a NEW reference or NULL on OOM. */
json_object *vmb_mcp_error(json_object *id, int code, const char *message,
                           json_object *data);

/* The event bus (mcp_bus.c), set up by vmb_mcp_init(). */
int vmb_mcp_bus_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_mcp_bus_cleanup(void);

/* Is the request's Origin header absent or on CORS_ALLOW_ORIGINS? */
bool vmb_mcp_origin_ok(const struct vmb_request *req);

/* Sessions (mcp_bus.c), host-wide. An id is 32 lowercase hex characters
   (128 random bits) and belongs to the subject that began it; it never
   authenticates anything, the gate has done that before. */
#define VMB_MCP_SESSION_ID_LEN 32
/* Begin a session for subject; id gets the new id. 0 or -1. */
int vmb_mcp_session_new(const char *subject, char *id, size_t idlen);
/* True when id is a live session of subject (and marks it used). */
bool vmb_mcp_session_touch(const char *id, const char *subject);
/* End it; true when it was a live session of subject. */
bool vmb_mcp_session_end(const char *id, const char *subject);

/* Publish a tool.completed event for subject (host-wide, best effort). */
void vmb_mcp_bus_publish(const char *tool, const char *subject);

/* Ask every event stream of this process to end (shutdown). */
void vmb_mcp_stop_streams(void);

/* The URL of our RFC 9728 metadata document for req, or NULL when JWT
   authentication is off. Arena string. Used by core.c in the
   WWW-Authenticate challenge. */
const char *vmb_mcp_resource_metadata_url(struct vmb_request *req);

/* Shared by mcp.c, mcp_http.c and mcp_bus.c: the loaded configuration. */
const struct vmb_config *vmb_mcp_config(void);

/* The operation handlers, for the operation table. */
enum vmb_err vmb_h_mcp_rpc(struct vmb_call *c);
enum vmb_err vmb_h_mcp_rpc_delete(struct vmb_call *c);
enum vmb_err vmb_h_mcp_sse(struct vmb_call *c);
enum vmb_err vmb_h_oauth_resource_metadata(struct vmb_call *c);

#endif
