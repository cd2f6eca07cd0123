/*
** fuzz_jsonrpc.c - one JSON-RPC message to POST /mcp/rpc.
**
** The whole input is the message body, sent by an authenticated caller
** with every scope: envelope checks, method dispatch, tools/call argument
** validation and the handlers (their Vault calls answered {} by the fake
** upstream) all see it.
*/
#include <stdlib.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct vmb_header hdrs[] = {
    {"x-api-key", FZ_API_KEY},
    {"content-type", "application/json"},
    {"accept", "application/json, text/event-stream"},
    {"mcp-protocol-version", "2025-06-18"},
  };
  char *body;
  fz_core_start();
  body = fz_strndup(data, size);
  fz_handle("POST", "/mcp/rpc", "", hdrs, 4, body, size);
  free(body);
  return 0;
}
