/*
** ops_table.c - THE operation table (SPEC section 4, CONVENTIONS P1).
**
** Adding an operation means adding one row here (and its handler in the
** backend's file); REST, MCP, OpenAPI and metrics follow from the row.
*/
#include "handlers.h"
#include "ops.h"

static const struct vmb_arg no_args[] = {{0}};

const struct vmb_op vmb_ops[] = {
  {.id = "health.healthz", .title = "Liveness", .method = "GET", .path = "/healthz",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args, .description = "The process is up.", .handler = vmb_h_healthz},
  {.id = "health.livez", .title = "Liveness", .method = "GET", .path = "/livez",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args, .description = "The process is up.", .handler = vmb_h_healthz},
  {.id = "health.readyz", .title = "Readiness", .method = "GET", .path = "/readyz",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args,
   .description = "Vault is reachable, unsealed and accepts the bridge's token.",
   .handler = vmb_h_readyz},
  {.id = "auth.whoami", .title = "Who am I", .method = "GET", .path = "/whoami",
   .flags = VMB_OP_READONLY | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = no_args, .description = "The caller's subject, auth mode and scopes.",
   .handler = vmb_h_whoami},
  /* The echo routes help operators check what the web server passes:
     headers (credentials redacted), the query, and the body's length and
     SHA-256 (never the body itself). */
  {.id = "debug.echo_headers", .title = "Echo headers", .method = "GET",
   .path = "/echo-headers",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_RAW,
   .args = no_args,
   .description = "The request headers as received, credentials redacted.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_post", .title = "Echo headers", .method = "POST",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_RAW,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_put", .title = "Echo headers", .method = "PUT",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_RAW,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_delete", .title = "Echo headers", .method = "DELETE",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_RAW,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
};

const size_t vmb_n_ops = sizeof(vmb_ops) / sizeof(vmb_ops[0]);
