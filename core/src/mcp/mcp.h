/*
** mcp.h - the Model Context Protocol side of the core (SPEC section 5).
**
** Four files:
**   mcp.c       transport-neutral JSON-RPC: one message in, at most one
**               message out; tools come from the operation table and run
**               through vmb_gate_run(), so REST and MCP share scope
**               checks, validation, handlers and responses.log;
**   mcp_modern.c  the rules of revision 2026-07-28 (stateless), chosen
**               per request beside 2025-11-25 / 2025-06-18;
**   mcp_http.c  Streamable HTTP at POST /mcp/rpc (a RAW operation) and
**               the RFC 9728 protected-resource metadata;
**   mcp_bus.c   the host-wide event bus (a small shared-memory file in
**               RUN_DIR) and GET /mcp/sse, which streams the caller's
**               tool.completed events whichever worker process ran them.
**
** Protocol state between requests is limited to legacy MCP sessions,
** which live in the host-wide shared memory of mcp_bus.c, so any process
** of a FastCGI pool can serve any message of any session; 2026-07-28
** requests need no state at all (docs/mcp.md).
*/
#ifndef VMB_MCP_H
#define VMB_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
  VMB_MCP_REJECTED,     /* *reply is an error with id null (HTTP 400) */
  VMB_MCP_LISTEN        /* 2026-07-28 subscriptions/listen: *reply is the
                           acknowledgement notification; the transport
                           keeps the stream open (struct vmb_mcp_meta) */
};

/* What the transport knows besides the message text: on HTTP the MCP
   request headers (NULL when absent; values as received), on stdio
   nothing (http false). */
struct vmb_mcp_in {
  bool http;
  const char *protocol_version;   /* MCP-Protocol-Version */
  const char *method;             /* Mcp-Method */
  const char *name;               /* Mcp-Name */
};

/* What the dispatcher tells the transport besides the reply. */
struct vmb_mcp_meta {
  bool modern;                /* served as 2026-07-28 (stateless) */
  int http_status;            /* 0 = the outcome's usual status */
  bool initialized;           /* a successful legacy initialize */
  bool shutdown;              /* a `shutdown` request (stdio) */
  /* VMB_MCP_LISTEN: the listen request's id (BORROWED from the parsed
     message, which lives in req->arena) and what it asked for. */
  json_object *listen_id;
  bool listen_tool_events;
  /* A tools/call that ran (op id, static), for stdio subscriptions. */
  const char *tool_completed;
};

/*
** Handle one JSON-RPC message text for an authenticated caller
** (req->identity). via is "mcp" or "stdio" and is recorded in
** responses.log. in describes the transport (NULL = stdio). *reply
** receives a NEW reference (NULL for ACCEPTED); *meta is filled.
** Never fails: out-of-memory becomes an internal-error reply.
*/
enum vmb_mcp_outcome vmb_mcp_dispatch(struct vmb_request *req, const char *via,
                                      const struct vmb_mcp_in *in,
                                      const char *text, size_t len,
                                      json_object **reply, struct vmb_mcp_meta *meta);

/* ---- 2026-07-28 (mcp_modern.c) ---------------------------------------- */

#define VMB_MCP_MODERN_VERSION "2026-07-28"

/* JSON-RPC codes of 2026-07-28 (Overview -> Error Codes). */
#define VMB_MCP_HEADER_MISMATCH (VMB_RPC_HEADER_MISMATCH)
#define VMB_MCP_MISSING_CLIENT_CAPABILITY (VMB_RPC_MISSING_CLIENT_CAPABILITY)
#define VMB_MCP_UNSUPPORTED_VERSION (VMB_RPC_UNSUPPORTED_VERSION)

/* Is this request to be served under 2026-07-28 rules? method and
   params (may be NULL) are the message's; BORROWED. */
bool vmb_mcp_modern_wanted(const struct vmb_mcp_in *in, const char *method,
                           json_object *params);

/*
** Check a 2026-07-28 request's envelope: the MCP headers against the
** body (HTTP), _meta, the protocol version and the method. 0 when the
** request may be served; otherwise -1 with *code, *message (arena or
** static), *data (NEW or NULL) and *http_status set.
*/
int vmb_mcp_modern_check(struct vmb_request *req, const struct vmb_mcp_in *in,
                         const char *method, json_object *params, int *code,
                         const char **message, json_object **data, int *http_status);

/* Decorate a 2026-07-28 result (BORROWED, modified): resultType, the
   server's identity in _meta, caching hints for cacheable methods. */
void vmb_mcp_modern_finish(const char *method, json_object *result);

/* HTTP status for a 2026-07-28 error reply of code (after the checks
   above passed): 404 for VMB_RPC_METHOD_NOT_FOUND, 400 for the envelope errors, else 200. */
int vmb_mcp_modern_error_status(int code);

/* server/discover's result: NEW reference. */
json_object *vmb_mcp_discover_result(void);

/* Capabilities object shared by initialize and server/discover: NEW. */
json_object *vmb_mcp_capabilities(bool modern);

/* The instructions text shared by initialize and server/discover. */
const char *vmb_mcp_instructions(void);

/* Supported revisions as a NEW JSON array, newest first. */
json_object *vmb_mcp_versions_json(void);

/* subscriptions/listen: validate params.notifications and build the
   acknowledgement (NEW) for id (BORROWED). 0, or -1 with *message. */
int vmb_mcp_listen_ack(json_object *id, json_object *params, bool *tool_events,
                       json_object **ack, const char **message);

/* A vmb/tool_completed notification on subscription id: NEW. */
json_object *vmb_mcp_tool_event(json_object *id, const char *tool, const char *subject,
                                double ts, unsigned long long seq);

/* The graceful end of a subscription (its listen response): NEW. */
json_object *vmb_mcp_listen_closed(json_object *id);

/* The portable (listed) or table name of a tool. */
const char *vmb_mcp_tool_name(struct vmb_request *req, const struct vmb_op *op);

/* A JSON-RPC error object {jsonrpc, id, error{code, message[, data]}}.
   id is BORROWED (NULL means null); data is STOLEN (may be NULL).
   Returns a NEW reference or NULL on OOM. */
json_object *vmb_mcp_error(json_object *id, int code, const char *message,
                           json_object *data);

/* Each file's settings (mcp_http.c, mcp_modern.c), taken by vmb_mcp_init(). */
int vmb_mcp_http_init(const struct vmb_config *cfg, char *err, size_t errlen);
int vmb_mcp_modern_init(const struct vmb_config *cfg, char *err, size_t errlen);

/* The event bus (mcp_bus.c), set up by vmb_mcp_init(). */
int vmb_mcp_bus_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_mcp_bus_cleanup(void);

/* Is the request's Origin header absent or on CORS_ALLOW_ORIGINS? */
bool vmb_mcp_origin_ok(const struct vmb_request *req);

/* mcp_http.c: DNS-rebinding protection for the MCP endpoints. True when
   the Host is loopback or one of PUBLIC_HOSTS (or absent) and the Origin
   is absent, same-origin or on CORS_ALLOW_ORIGINS; else *why says which. */
bool vmb_mcp_host_origin_ok(const struct vmb_request *req, const char **why);

/* Sessions (mcp_bus.c), host-wide. An id is 32 lowercase hex characters
   (128 random bits) and belongs to the subject that began it; it never
   authenticates anything, the gate has done that before. */
#define VMB_MCP_SESSION_ID_LEN 32
/* Begin a session for subject; id gets the new id. 0 or -1. */
int vmb_mcp_session_new(const char *subject, char *id, size_t idlen);
/* True when id is a live session of subject (and marks it used). */
bool vmb_mcp_session_touch(const char *id, const char *subject);
/* End it: 1 when it was a live session of subject (now ended), 0 when
   it was not, -1 when the session store (Redis) could not be asked, so
   the session may live on. */
int vmb_mcp_session_end(const char *id, const char *subject);

/* Publish a tool.completed event for subject (host-wide, best effort). */
void vmb_mcp_bus_publish(const char *tool, const char *subject);

/* One bus event as a stream sees it (copied out of shared memory). */
struct vmb_mcp_event {
  unsigned long long seq;
  double ts;
  char tool[64];
  char subject[VMB_SUBJECT_MAX + 1];
};

/* The data of a GET /mcp/sse `tool.completed` event (type, tool, subject,
   ts); NULL when out of memory. The caller owns it. */
json_object *vmb_mcp_sse_event_doc(const struct vmb_mcp_event *e);

/* Writes one event to the stream; 0, or -1 to end the stream. */
typedef int (*vmb_mcp_event_fn)(struct vmb_request *req, void *ctx,
                                const struct vmb_mcp_event *e);

enum vmb_mcp_stream_reg {
  VMB_MCP_STREAM_OK, VMB_MCP_STREAM_SUBJECT_LIMIT, VMB_MCP_STREAM_PROCESS_LIMIT,
  VMB_MCP_STREAM_FULL, VMB_MCP_STREAM_ERROR
};

/* Claim a stream slot for subject (MCP_MAX_STREAMS_PER_SUBJECT host-wide,
   MCP_MAX_STREAMS_PER_PROCESS here). Release with vmb_mcp_stream_close(*slot). */
enum vmb_mcp_stream_reg vmb_mcp_stream_open(const char *subject, long *slot);
void vmb_mcp_stream_close(long slot);
long vmb_mcp_stream_subject_limit(void);

/* The bus position a new stream starts from (the next event). */
unsigned long long vmb_mcp_bus_next(void);

/*
** The reusable body of every event stream (GET /mcp/sse and
** subscriptions/listen): hands subject's events from pos on to fn (fn
** NULL: events are not wanted, only keepalives flow) and writes a
** keepalive comment every MCP_SSE_KEEPALIVE_SECONDS, until a write
** fails (returns -1: the client left) or the process stops or the
** thread is interrupted (returns 1: the server ends the stream).
*/
int vmb_mcp_bus_follow(struct vmb_request *req, const char *subject,
                       unsigned long long pos, vmb_mcp_event_fn fn, void *ctx);

/* Ask every event stream of this process to end (shutdown). */
void vmb_mcp_stop_streams(void);

/* ---- parked streams (mcp_park.c; delivery in mcp_bus.c) ---------------- */

/* Limits: the per-process stream limit in force (the setting, lowered to
   what RLIMIT_NOFILE allows) and the streams open in this process. */
long vmb_mcp_stream_process_limit(void);
long vmb_mcp_streams_open_here(void);

/* Where a new stream of subject starts: the id of the last event it has
   seen (events after it are delivered). last_event_id is the client's
   Last-Event-ID header or NULL. */
uint64_t vmb_mcp_bus_start(const char *subject, const char *last_event_id);
/* Redis only: subject's events after *last from its own Redis stream (a
   Last-Event-ID replay, read by the serving thread); 0 on the shared
   memory bus, where the loop replays from the ring. */
size_t vmb_mcp_bus_replay(const char *subject, uint64_t *last, struct vmb_mcp_event *out,
                          size_t max);
/* Start this process's waiter (futex on the shared-memory bus) or Redis
   reader thread, which writes efd whenever events may be new. Once per
   process. 0 or -1. */
int vmb_mcp_bus_watch(int efd);
/* Index after the newest event the loop can fetch, and the index to
   start a catch-up from for a stream whose last event was last_id. */
uint64_t vmb_mcp_bus_end(void);
uint64_t vmb_mcp_bus_catchup_from(uint64_t last_id);
/* Events with index in [*cursor, end) (end 0: all there are) of subject
   (NULL: every subject) into out, at most max; *cursor moves past what
   was scanned. */
size_t vmb_mcp_bus_fetch(const char *subject, uint64_t *cursor, uint64_t end,
                         struct vmb_mcp_event *out, size_t max);

/* Settings of mcp_park.c, taken by vmb_mcp_init(). */
int vmb_mcp_park_init(const struct vmb_config *cfg, char *err, size_t errlen);
/* Start the loop (once per process); 0 or -1. Handlers call it before
   placing a stream, so the loop's position precedes the stream's. */
int vmb_mcp_park_prepare(void);
/* A stream to hand over: subject, request id and stream slot of req,
   the last event id seen, and for listen streams the request id (copied)
   and whether tool events were asked for; a registry API key is
   remembered by its digest (revocation ends the stream). NULL on
   out-of-memory. */
struct vmb_parked *vmb_mcp_parked_new(struct vmb_request *req, long slot,
                                      uint64_t last, bool listen, bool tool_events,
                                      json_object *listen_id);
/* Stop every parked stream (final event, END_REQUEST) and wake the loop;
   vmb_mcp_park_join() waits until the loop has closed them all. */
void vmb_mcp_park_stop(void);
void vmb_mcp_park_join(void);
/* Parked streams of this process right now. */
long vmb_mcp_streams_parked(void);

/* The operation handlers, for the operation table. */
enum vmb_err vmb_h_mcp_rpc(struct vmb_call *c);
enum vmb_err vmb_h_mcp_rpc_delete(struct vmb_call *c);
enum vmb_err vmb_h_mcp_sse(struct vmb_call *c);
enum vmb_err vmb_h_oauth_resource_metadata(struct vmb_call *c);

#endif
