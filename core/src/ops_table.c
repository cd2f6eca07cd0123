/*
** ops_table.c - THE operation table (SPEC section 4, CONVENTIONS P1).
**
** Adding an operation means adding one row here (and its handler in the
** backend's file); REST, MCP, OpenAPI and metrics follow from the row.
*/
#include "handlers.h"
#include "ops.h"

static const struct vmb_arg no_args[] = {{0}};

/* observability.c: the log tail (issue 9). */
static const struct vmb_arg obs_logs_args[] = {
  {.name = "stream", .type = VMB_ARG_STRING, .flags = VMB_ARG_REQUIRED | VMB_ARG_IN_PATH,
   .min = 1, .max = 16, .enum_values = "requests|responses|server",
   .description = "Which log file: requests, responses or server."},
  {.name = "lines", .type = VMB_ARG_INTEGER, .flags = VMB_ARG_IN_QUERY, .min = 1,
   .max = 1000, .description = "How many lines from the end (default 100)."},
  {0}
};

/* Argument lists. Names follow the REST bodies; MCP tools use the same. */
#define ARG_PATH {"path", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_IN_PATH, 1, 512, NULL, \
                  "Secret path relative to the caller's namespace, e.g. app/db"}
#define ARG_VERSIONS {"versions", VMB_ARG_INT_ARRAY, VMB_ARG_REQUIRED, 0, 100, NULL, \
                      "Version numbers"}
static const struct vmb_arg kv_read_args[] = {
  ARG_PATH,
  {"version", VMB_ARG_INTEGER, VMB_ARG_IN_QUERY, 1, 2147483647L, NULL,
   "Version to read; the latest when omitted"},
  {0}};
static const struct vmb_arg kv_write_args[] = {
  ARG_PATH,
  {"data", VMB_ARG_OBJECT, VMB_ARG_REQUIRED, 0, 0, NULL, "Key/value pairs to store"},
  {"cas", VMB_ARG_INTEGER, 0, 0, 2147483647L, NULL,
   "Check-and-set: 0 = only create; N = only if the current version is N"},
  {0}};
static const struct vmb_arg kv_list_args[] = {
  {"prefix", VMB_ARG_STRING, VMB_ARG_IN_QUERY, 0, 512, NULL,
   "Folder to list, relative to the caller's namespace; the root when omitted"},
  {0}};
static const struct vmb_arg kv_path_args[] = {ARG_PATH, {0}};
static const struct vmb_arg kv_versions_args[] = {ARG_PATH, ARG_VERSIONS, {0}};

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
  {.id = "docs.openapi", .title = "OpenAPI document", .method = "GET", .path = "/openapi.json",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_RAW | VMB_OP_NO_RATE_LIMIT,
   .args = no_args, .description = "This API, described from the operation table.",
   .handler = vmb_h_openapi},

  /* ---- KV v2, inside the caller's namespace ---- */
  {.id = "kv.read", .title = "Read a secret", .method = "GET", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_read_args, .handler = vmb_h_kv_read,
   .description = "Read a secret (optionally a given version) from the caller's KV namespace."},
  {.id = "kv.write", .title = "Write a secret", .method = "PUT", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kv_write_args, .handler = vmb_h_kv_write,
   .description = "Write a new version of a secret; cas guards against lost updates."},
  {.id = "kv.patch", .title = "Patch a secret", .method = "PATCH", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kv_write_args, .handler = vmb_h_kv_patch,
   .description = "Merge keys into the current version (JSON merge patch; null removes a key)."},
  {.id = "kv.list", .title = "List secrets", .method = "GET", .path = "/secrets",
   .scope = VMB_SCOPE_LIST,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_list_args, .handler = vmb_h_kv_list,
   .description = "List the keys under a folder of the caller's namespace (folders end in /)."},
  {.id = "kv.delete", .title = "Delete a secret", .method = "DELETE", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_DELETE,
   .flags = VMB_OP_TOOL | VMB_OP_DESTRUCTIVE | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_path_args, .handler = vmb_h_kv_delete,
   .description = "Soft-delete the latest version of a secret (undelete can restore it)."},
  {.id = "kv.undelete", .title = "Undelete versions", .method = "POST",
   .path = "/secrets/{path}:undelete", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kv_versions_args, .handler = vmb_h_kv_undelete,
   .description = "Restore soft-deleted versions of a secret."},
  {.id = "kv.destroy", .title = "Destroy versions", .method = "POST",
   .path = "/secrets/{path}:destroy", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_DESTRUCTIVE | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kv_versions_args, .handler = vmb_h_kv_destroy,
   .description = "Permanently remove the data of the given versions of a secret."},
  {.id = "kv.metadata", .title = "Secret metadata", .method = "GET",
   .path = "/secrets/{path}:metadata", .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_path_args, .handler = vmb_h_kv_metadata,
   .description = "Versions, timestamps and settings of a secret (no values)."},

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
  {.id = "observability.metrics", .title = "Prometheus metrics", .method = "GET",
   .path = "/metrics",
   .flags = VMB_OP_PUBLIC | VMB_OP_NO_RATE_LIMIT | VMB_OP_RAW | VMB_OP_READONLY | VMB_OP_NO_BODY,
   .args = no_args,
   .description = "Prometheus text (0.0.4) for the whole pool of the host.",
   .handler = vmb_h_metrics},
  {.id = "observability.summary", .title = "Observability summary", .method = "GET",
   .path = "/observability/summary", .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = no_args,
   .description = "Vault status, uptime, version, in-flight requests and recent "
                  "error counts across the pool.",
   .handler = vmb_h_obs_summary},
  {.id = "observability.logs", .title = "Tail a log", .method = "GET",
   .path = "/observability/logs/{stream}", .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = obs_logs_args,
   .description = "The last N lines (1..1000, default 100) of requests.log, "
                  "responses.log or server.log.",
   .handler = vmb_h_obs_logs},
};

const size_t vmb_n_ops = sizeof(vmb_ops) / sizeof(vmb_ops[0]);
