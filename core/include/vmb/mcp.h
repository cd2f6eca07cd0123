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

#endif
