/*
** ops.h - the operation table (CONVENTIONS P1, SPEC section 4).
**
** One row per operation: id (also the MCP tool name), REST method and
** path template, scope, flags, argument list and handler. REST routing,
** MCP tools/list + tools/call, /openapi.json, metric route labels and
** the docs are all derived from these rows; nothing keeps its own list.
** Rows are const; per-op counters live in metrics.c.
*/
#ifndef VMB_OPS_H
#define VMB_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "scope.h"
#include "vmb/error.h"
#include "vmb/request.h"

enum vmb_arg_type {
  VMB_ARG_STRING,
  VMB_ARG_INTEGER,
  VMB_ARG_BOOLEAN,
  VMB_ARG_OBJECT,         /* any JSON object */
  VMB_ARG_INT_ARRAY,      /* array of integers */
  VMB_ARG_STRING_ARRAY,   /* array of strings */
  VMB_ARG_STRINGS         /* array of strings or one comma-separated string */
};

enum vmb_arg_flags {
  VMB_ARG_REQUIRED = 1u << 0,
  VMB_ARG_IN_PATH = 1u << 1,    /* REST: from the path template */
  VMB_ARG_IN_QUERY = 1u << 2,   /* REST: from the query string */
  VMB_ARG_BASE64 = 1u << 3      /* string must be strict standard base64 */
};

struct vmb_arg {
  const char *name;
  enum vmb_arg_type type;
  unsigned flags;
  long min, max;              /* integer bounds or string length bounds */
  const char *enum_values;    /* "a|b|c" or NULL */
  const char *description;
};

enum vmb_op_flags {
  VMB_OP_PUBLIC = 1u << 0,        /* no authentication */
  VMB_OP_READONLY = 1u << 1,      /* MCP readOnlyHint */
  VMB_OP_DESTRUCTIVE = 1u << 2,   /* MCP destructiveHint */
  VMB_OP_IDEMPOTENT = 1u << 3,    /* MCP idempotentHint */
  VMB_OP_REST_OPTIONAL = 1u << 4, /* off when EXPOSE_REST_ROUTES=false */
  VMB_OP_TOOL = 1u << 5,          /* exposed as an MCP tool */
  VMB_OP_RAW = 1u << 6,           /* a transport: the handler writes resp itself */
  VMB_OP_NO_RATE_LIMIT = 1u << 7, /* health and metrics */
  VMB_OP_NO_BODY = 1u << 8,       /* a body is ignored (GET-like) */
  VMB_OP_DEBUG = 1u << 9,         /* off unless DEBUG_ROUTES_ENABLED=true */
  VMB_OP_ADDR_LIMIT = 1u << 10,  /* limited per client address (READYZ_RATE_LIMIT) */
  VMB_OP_DOCUMENT = 1u << 11,     /* the result is call->document (REST only) */
  VMB_OP_BODY_OPAQUE = 1u << 12   /* the body is not arguments: the handler
                                     reads req->body itself (echo routes) */
};

/* A result that is a document rather than a JSON object (Prometheus
   text, CSV, the prebuilt OpenAPI text): REST sends body as it is, with
   content_type, status 200 and, when filename is set, Content-Disposition:
   attachment. The handler of a VMB_OP_DOCUMENT row fills it instead of
   result; body is BORROWED (static, or owned by the request arena). */
struct vmb_document {
  const char *content_type;   /* static */
  const char *body;           /* NULL: no document */
  size_t len;
  const char *filename;       /* static; NULL: shown inline */
};

struct vmb_op;

/* Everything a handler sees. The gate owns it; handlers fill result (a
   NEW reference the gate puts) or return an error with an optional
   client-safe detail (arena string). A handler never sets an HTTP status:
   when its result describes a failure (readiness: not ready) it names
   the error in failed_with and REST and MCP each render that their way.
   log_fields collects descriptors for responses.log (never secret
   values). A VMB_OP_DOCUMENT row's handler fills document instead of
   result. resp is only for RAW operations (the transports: MCP's
   Streamable HTTP and its event stream); it is NULL for every other row
   and whenever MCP runs a tool. */
struct vmb_call {
  struct vmb_request *req;
  struct vmb_response *resp;  /* RAW operations only; NULL under MCP */
  const struct vmb_op *op;
  json_object *args;          /* BORROWED; validated against op->args */
  json_object *result;        /* NEW, set by the handler */
  struct vmb_document document;   /* VMB_OP_DOCUMENT rows: set by the handler */
  enum vmb_err failed_with;   /* OK, or the error that result describes */
  bool created;               /* result is a new resource (REST: 201) */
  const char *detail;         /* client-safe message for an error */
  json_object *log_fields;    /* BORROWED, owned by the gate */
  const char *via;            /* "rest", "mcp", "stdio" */
};

typedef enum vmb_err (*vmb_op_handler)(struct vmb_call *call);

struct vmb_op {
  const char *id;             /* "kv.read"; the MCP tool name */
  const char *title;
  const char *method;         /* REST method, NULL if MCP-only */
  const char *path;           /* REST path template, e.g. "/secrets/{path}" */
  unsigned scope;             /* enum vmb_scope bits required, 0 = none */
  unsigned flags;             /* enum vmb_op_flags */
  const struct vmb_arg *args; /* terminated by a row with name NULL */
  const char *description;
  vmb_op_handler handler;
  /* Optional steps around the handler, for operations that return secret
     material (response wrapping, backends/backend_wrap.c): before runs
     after validation and may refuse the call before any work is done;
     after runs only when the handler succeeded and may replace
     call->result. NULL = none. */
  vmb_op_handler before;
  vmb_op_handler after;
  /* VMB_OP_DOCUMENT rows: the document's media type (static), the one
     place it is named: REST's Content-Type and the 200 response of
     /openapi.json both come from it. NULL for every other row. */
  const char *produces;
};

/* The table is defined above the gate (entry/ops_table.c binds rows to
   handlers of every layer) and handed down once at start-up, before any
   request: rows is BORROWED and must outlive every request. Returns -1
   when an MCP tool row is RAW, a DOCUMENT or BODY_OPAQUE: a tool's
   handler must work without an HTTP response or body, on JSON arguments,
   and return a JSON result (MCP renders it); and when a DOCUMENT row does
   not say what it produces, or another row does. */
int vmb_ops_install(const struct vmb_op *rows, size_t n);
/* The installed rows; *n gets their number (0 before install). */
const struct vmb_op *vmb_ops_rows(size_t *n);

/* Find the operation for a method and path. On a match returns the op and
   stores path parameters (arena strings) in *params as a NEW json object
   (may be NULL when there are none). When the path matches only other
   methods, returns NULL with the allowed methods in allow (comma list);
   when nothing matches, NULL with allow empty. */
const struct vmb_op *vmb_route_find(struct vmb_request *req, const char *path,
                                    json_object **params, char *allow,
                                    size_t allowlen);
/* Find an MCP tool by name; NULL if none. */
const struct vmb_op *vmb_tool_find(const char *name);

/* Check args against op->args: required present, types, bounds, enum,
   base64, no unknown fields. Converts query-string text to the declared
   type in place. Returns OK or BAD_REQUEST with *detail naming the field
   (arena string). */
enum vmb_err vmb_args_validate(const struct vmb_op *op, json_object *args,
                               struct vmb_arena *arena, const char **detail);

/* JSON Schema (2020-12) object describing op->args: NEW reference. */
json_object *vmb_args_schema(const struct vmb_op *op);

/* Run an operation for an authenticated caller: scope, validation,
   handler, responses.log, metrics. Shared by REST, MCP and stdio. */
enum vmb_err vmb_gate_run(struct vmb_call *call);

/* Replace resp's body with doc's compact text (doc BORROWED); a body over
   the response cap becomes a 500 internal_error body. */
void vmb_response_set_json(struct vmb_response *resp, json_object *doc);

#endif
