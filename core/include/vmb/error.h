/*
** error.h - the one list of errors the bridge can answer with.
**
** Every failure anywhere in the core is one of these codes. The list
** gives each its HTTP status, its JSON-RPC code and its wire name, so
** REST, MCP over HTTP and MCP over stdio always agree (CONVENTIONS P4).
**
** jsonrpc_code 0 means: inside tools/call this is a tool result with
** isError:true, not a protocol error (MCP 2025-06-18, "error handling").
** Codes are append-only: never renumber, never reuse a retired name.
*/
#ifndef VMB_ERROR_H
#define VMB_ERROR_H

/*
** JSON-RPC error codes: JSON-RPC 2.0 section 5.1, then MCP's own. The
** error list below names its JSON-RPC column from here, and the MCP code
** answers protocol errors with these names, never with bare numbers.
*/
/*   name                        code    meaning */
#define VMB_RPC_ERROR_MAP(X)                                                    \
  X(PARSE_ERROR,               -32700, "invalid JSON")                          \
  X(INVALID_REQUEST,           -32600, "not a valid request object")            \
  X(METHOD_NOT_FOUND,          -32601, "no such method")                        \
  X(INVALID_PARAMS,            -32602, "invalid method parameters")             \
  X(INTERNAL_ERROR,            -32603, "internal error")                        \
  X(SESSION_NOT_FOUND,         -32001, "MCP: session not found")                \
  X(RESOURCE_NOT_FOUND,        -32002, "MCP (before 2026-07-28): resource not found") \
  X(HEADER_MISMATCH,           -32020, "MCP 2026-07-28: header and body disagree") \
  X(MISSING_CLIENT_CAPABILITY, -32021, "MCP 2026-07-28: client capability missing") \
  X(UNSUPPORTED_VERSION,       -32022, "MCP 2026-07-28: protocol version not supported")

enum vmb_rpc_code {
#define VMB_X_RPC(name, code, meaning) VMB_RPC_##name = (code),
  VMB_RPC_ERROR_MAP(VMB_X_RPC)
#undef VMB_X_RPC
  VMB_RPC__NONE = 0             /* a tool result with isError:true */
};

/*   name               http  jsonrpc  wire name                default message */
#define VMB_ERROR_MAP(X)                                                        \
  X(OK,                  200,      0, "ok",                    "ok")            \
  X(BAD_REQUEST,         400, VMB_RPC_INVALID_PARAMS, "bad_request",           "the request is invalid") \
  X(INVALID_JSON,        400, VMB_RPC_PARSE_ERROR, "invalid_json",          "the body is not valid JSON") \
  X(INVALID_PATH,        400, VMB_RPC_INVALID_PARAMS, "invalid_path",          "the path is not allowed") \
  X(UNAUTHENTICATED,     401,      0, "unauthenticated",       "authentication is required") \
  X(FORBIDDEN,           403,      0, "forbidden",             "the credential lacks a required scope") \
  X(VAULT_DENIED,        403,      0, "permission_denied",     "Vault denied the operation") \
  X(NOT_FOUND,           404,      0, "not_found",             "not found")     \
  X(METHOD_NOT_ALLOWED,  405,      0, "method_not_allowed",    "method not allowed for this route") \
  X(NOT_ACCEPTABLE,      406,      0, "not_acceptable",        "no acceptable response type") \
  X(CONFLICT,            409,      0, "conflict",              "the write conflicts with the current version") \
  X(PAYLOAD_TOO_LARGE,   413,      0, "payload_too_large",     "the request body is too large") \
  X(UNSUPPORTED_MEDIA,   415,      0, "unsupported_media_type","the content type is not supported") \
  X(RATE_LIMITED,        429,      0, "rate_limited",          "too many requests") \
  X(INTERNAL,            500, VMB_RPC_INTERNAL_ERROR, "internal_error",        "internal error") \
  X(NOMEM,               500, VMB_RPC_INTERNAL_ERROR, "internal_error",        "internal error") \
  X(VAULT_ERROR,         502,      0, "upstream_error",        "Vault returned an unexpected error") \
  X(VAULT_UNAVAILABLE,   503,      0, "vault_unavailable",     "Vault is unreachable or sealed") \
  X(NOT_ENABLED,         503,      0, "not_enabled",           "this backend is not enabled") \
  X(UPSTREAM_ERROR,      502,      0, "upstream_error",        "the upstream service failed") \
  X(UPSTREAM_UNAVAILABLE,503,      0, "upstream_unavailable",  "the upstream service is unreachable") \
  X(NOT_GRANTED,         403,      0, "not_granted",           "the resource is not granted to this subject") \
  X(SUBJECT_DISABLED,    403,      0, "subject_disabled",      "this subject is disabled") \
  X(WRAP_INVALID,        400,      0, "wrap_invalid",          "the wrapping token is invalid, expired or already used") \
  X(WRAP_POLICY,         403,      0, "wrap_policy",           "the subject's wrapping policy refuses this call")

enum vmb_err {
#define VMB_X_ENUM(name, http, rpc, wire, msg) VMB_ERR_##name,
  VMB_ERROR_MAP(VMB_X_ENUM)
#undef VMB_X_ENUM
  VMB_ERR__LAST /* never use */
};

/* HTTP status of an error code; 500 for an out-of-range value. */
int vmb_err_http_status(enum vmb_err err);
/* JSON-RPC error code; 0 means "tool result with isError:true". */
int vmb_err_jsonrpc_code(enum vmb_err err);
/* Stable wire name such as "not_found"; never NULL. */
const char *vmb_err_name(enum vmb_err err);
/* Default human message, safe to show to any client; never NULL. */
const char *vmb_err_message(enum vmb_err err);

#endif
