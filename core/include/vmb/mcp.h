/*
** mcp.h - MCP entry point for transports that carry JSON-RPC messages
** themselves (vault-mcp-stdio). HTTP clients reach MCP through
** vmb_core_handle() at POST /mcp/rpc instead.
*/
#ifndef VMB_PUBLIC_MCP_H
#define VMB_PUBLIC_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/request.h"

/*
** Serve one JSON-RPC message (text[0..len), without the newline) for a
** caller the transport has already identified: req->arena, req->worker
** and req->identity must be filled; the rest may be zero. via names the
** transport in responses.log ("stdio").
**
** Returns the serialised reply (an arena string without a newline, valid
** until the worker is reset) or NULL when the message gets no reply (a
** notification or a response). *shutdown is set to true when the client
** sent a `shutdown` request; its reply is still returned.
*/
const char *vmb_mcp_handle_text(struct vmb_request *req, const char *via,
                                const char *text, size_t len, bool *shutdown);

/*
** One stdio connection's state: its open subscriptions/listen requests
** (MCP 2026-07-28), nothing else. Owned by the transport; one per
** connection, used by one thread. NULL on out-of-memory.
*/
struct vmb_mcp_stdio;
struct vmb_mcp_stdio *vmb_mcp_stdio_new(void);
void vmb_mcp_stdio_free(struct vmb_mcp_stdio *st);

/*
** As vmb_mcp_handle_text() for the connection st, except that the
** result may hold several messages, one per line (no trailing newline):
** the reply, then notifications on open subscriptions (the
** acknowledgement of a subscriptions/listen request, tool-completion
** events after a tools/call, the closing responses after `shutdown`).
** A notifications/cancelled naming a subscription ends it.
*/
const char *vmb_mcp_stdio_handle(struct vmb_mcp_stdio *st, struct vmb_request *req,
                                 const char *text, size_t len, bool *shutdown);

/*
** Parked event streams (GET /mcp/sse, subscriptions/listen): a handler
** that has written a stream's headers offers it to the transport through
** vmb_stream.park (vmb/request.h). A transport that takes it calls,
** after vmb_core_handle() has returned, exactly one of:
**   vmb_mcp_park_adopt(p, conn) - the loop owns conn->fd from now on
**     (it closes it) and conn->ctx (released through conn->release);
**     -1 when the loop is not running: then p is released, and the
**     transport still owns the fd and ends the request itself;
**   vmb_mcp_park_drop(p) - the connection could not be taken over.
*/
struct vmb_parked;
int vmb_mcp_park_adopt(struct vmb_parked *p, const struct vmb_park_conn *conn);
void vmb_mcp_park_drop(struct vmb_parked *p);

#endif
