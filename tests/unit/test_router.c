/*
** Unit tests: routing derived from the operation table, argument
** validation and schemas.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ops.h"
#include "ops_table.h"
#include "vmb/arena.h"

static const struct vmb_op *route(struct vmb_arena *a, const char *method,
                                  const char *path, char *allow, json_object **params)
{
  struct vmb_request req;
  memset(&req, 0, sizeof(req));
  req.arena = a;
  req.method = method;
  req.path = path;
  return vmb_route_find(&req, path, params, allow, 128);
}

static void test_routes_from_table(void **state)
{
  struct vmb_arena *a = vmb_arena_create();
  char allow[128];
  json_object *params = NULL;
  const struct vmb_op *op;
  size_t i;
  (void)state;
  /* every row with a REST route is reachable by its own method and path */
  for(i = 0; i < vmb_n_ops; i++) {
    const struct vmb_op *row = &vmb_ops[i];
    char path[256];
    const char *brace;
    if(!row->method || !row->path)
      continue;
    brace = strchr(row->path, '{');
    if(brace) {
      const char *close = strchr(brace, '}');
      snprintf(path, sizeof(path), "%.*sx%s", (int)(brace - row->path), row->path,
               close + 1);
    }
    else {
      snprintf(path, sizeof(path), "%s", row->path);
    }
    op = route(a, row->method, path, allow, &params);
    if(op != row)
      fail_msg("%s %s routed to %s", row->method, path, op ? op->id : "nothing");
    json_object_put(params);
    params = NULL;
  }
  op = route(a, "GET", "/healthz", allow, &params);
  assert_non_null(op);
  assert_string_equal(op->id, "health.healthz");
  op = route(a, "POST", "/healthz", allow, &params);
  assert_null(op);
  assert_string_equal(allow, "GET");
  op = route(a, "GET", "/no-such-route", allow, &params);
  assert_null(op);
  assert_string_equal(allow, "");
  op = route(a, "GET", "/healthzx", allow, &params);
  assert_null(op);
  vmb_arena_destroy(a);
}

static const struct vmb_arg test_args[] = {
  {"path", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 10, NULL, "p"},
  {"version", VMB_ARG_INTEGER, VMB_ARG_IN_QUERY, 1, 100, NULL, "v"},
  {"format", VMB_ARG_STRING, 0, 0, 0, "base64|hex", "f"},
  {"plaintext", VMB_ARG_STRING, VMB_ARG_BASE64, 0, 0, NULL, "b"},
  {"versions", VMB_ARG_INT_ARRAY, 0, 0, 3, NULL, "vs"},
  {"principals", VMB_ARG_STRINGS, 0, 0, 0, NULL, "pr"},
  {0},
};
static const struct vmb_op test_op = {.id = "t.op", .args = test_args};

static void expect_bad(const char *json, const char *needle)
{
  struct vmb_arena *a = vmb_arena_create();
  json_object *o = json_tokener_parse(json);
  const char *detail = NULL;
  assert_non_null(o);
  assert_int_equal(vmb_args_validate(&test_op, o, a, &detail), VMB_ERR_BAD_REQUEST);
  if(!strstr(detail, needle))
    fail_msg("detail \"%s\" lacks \"%s\" for %s", detail, needle, json);
  json_object_put(o);
  vmb_arena_destroy(a);
}

static void test_validation(void **state)
{
  struct vmb_arena *a = vmb_arena_create();
  json_object *o = json_tokener_parse(
    "{\"path\":\"a\",\"version\":\"7\",\"format\":\"hex\",\"plaintext\":\"aGk=\","
    "\"versions\":[1,2],\"principals\":\"a,b\"}");
  const char *detail = NULL;
  json_object *v;
  (void)state;
  assert_int_equal(vmb_args_validate(&test_op, o, a, &detail), VMB_ERR_OK);
  /* query text converted to the declared type */
  assert_true(json_object_object_get_ex(o, "version", &v));
  assert_true(json_object_is_type(v, json_type_int));
  json_object_put(o);
  vmb_arena_destroy(a);
  expect_bad("{}", "missing required field 'path'");
  expect_bad("{\"path\":1}", "'path' must be a string");
  expect_bad("{\"path\":\"a\",\"extra\":1}", "unknown field 'extra'");
  expect_bad("{\"path\":\"0123456789x\"}", "'path' must be 1 to 10");
  expect_bad("{\"path\":\"a\",\"version\":\"x7\"}", "'version' must be an integer");
  expect_bad("{\"path\":\"a\",\"version\":0}", "'version' must be between");
  expect_bad("{\"path\":\"a\",\"format\":\"b32\"}", "one of base64|hex");
  expect_bad("{\"path\":\"a\",\"plaintext\":\"!!\"}", "standard base64");
  expect_bad("{\"path\":\"a\",\"versions\":[1,\"2\"]}", "array of integers");
  expect_bad("{\"path\":\"a\",\"versions\":[1,2,3,4]}", "more than 3 items");
  expect_bad("{\"path\":\"a\",\"principals\":[1]}", "string or an array");
  expect_bad("[]", "must be a JSON object");
}

static void test_schema(void **state)
{
  json_object *s = vmb_args_schema(&test_op), *v;
  (void)state;
  assert_true(json_object_object_get_ex(s, "additionalProperties", &v));
  assert_false(json_object_get_boolean(v));
  assert_true(json_object_object_get_ex(s, "required", &v));
  assert_int_equal(json_object_array_length(v), 1);
  assert_true(json_object_object_get_ex(s, "properties", &v));
  assert_int_equal(json_object_object_length(v), 6);
  json_object_put(s);
}

static void test_scopes(void **state)
{
  json_object *arr = json_tokener_parse("[\"read\",\"list\",\"bogus\"]");
  (void)state;
  assert_int_equal(vmb_scopes_parse_text("read write"), VMB_SCOPE_READ | VMB_SCOPE_WRITE);
  assert_int_equal(vmb_scopes_parse_text("read,admin"), VMB_SCOPE_READ | VMB_SCOPE_ADMIN);
  assert_int_equal(vmb_scopes_parse_text("reader"), 0);
  assert_int_equal(vmb_scopes_parse_json(arr), VMB_SCOPE_READ | VMB_SCOPE_LIST);
  json_object_put(arr);
}

/* A tool's handler must not need an HTTP response: the gate refuses a
   table with a row that is both a tool and RAW, and keeps the one it had. */
static void test_install_refuses_raw_tool(void **state)
{
  static const struct vmb_arg none[] = {{0}};
  static const struct vmb_op bad[] = {
    {.id = "x.raw_tool", .title = "x", .flags = VMB_OP_TOOL | VMB_OP_RAW, .args = none},
  };
  size_t n = 0;
  (void)state;
  assert_int_equal(vmb_ops_install(bad, 1), -1);
  assert_ptr_equal(vmb_ops_rows(&n), vmb_ops);
  assert_int_equal(n, vmb_n_ops);
}

/* Nor may a tool return a document or read the body itself: MCP renders
   a JSON result from JSON arguments. */
static void test_install_refuses_document_tool(void **state)
{
  static const struct vmb_arg none[] = {{0}};
  static const struct vmb_op doc[] = {
    {.id = "x.doc_tool", .title = "x", .flags = VMB_OP_TOOL | VMB_OP_DOCUMENT, .args = none,
     .produces = "text/plain"},
  };
  static const struct vmb_op opaque[] = {
    {.id = "x.body_tool", .title = "x", .flags = VMB_OP_TOOL | VMB_OP_BODY_OPAQUE,
     .args = none},
  };
  size_t n = 0;
  (void)state;
  assert_int_equal(vmb_ops_install(doc, 1), -1);
  assert_int_equal(vmb_ops_install(opaque, 1), -1);
  assert_ptr_equal(vmb_ops_rows(&n), vmb_ops);
  assert_int_equal(n, vmb_n_ops);
}

/* A document row names its media type (REST's Content-Type and OpenAPI's
   200 come from it); no other row may name one. The installed table
   obeys both. */
static void test_install_document_media_type(void **state)
{
  static const struct vmb_arg none[] = {{0}};
  static const struct vmb_op unnamed[] = {
    {.id = "x.doc", .title = "x", .flags = VMB_OP_DOCUMENT, .args = none},
  };
  static const struct vmb_op stray[] = {
    {.id = "x.json", .title = "x", .args = none, .produces = "text/csv"},
  };
  static const struct vmb_op named[] = {
    {.id = "x.doc", .title = "x", .flags = VMB_OP_DOCUMENT, .args = none,
     .produces = "text/csv"},
  };
  size_t n = 0, i;
  const struct vmb_op *rows;
  (void)state;
  assert_int_equal(vmb_ops_install(unnamed, 1), -1);
  assert_int_equal(vmb_ops_install(stray, 1), -1);
  assert_ptr_equal(vmb_ops_rows(&n), vmb_ops);
  assert_int_equal(vmb_ops_install(named, 1), 0);
  assert_int_equal(vmb_ops_install(vmb_ops, vmb_n_ops), 0);
  rows = vmb_ops_rows(&n);
  for(i = 0; i < n; i++)
    assert_true(!(rows[i].flags & VMB_OP_DOCUMENT) == !rows[i].produces);
}

/* Only the transports stay RAW (docs/architecture.md): every other row
   returns a result or a document. */
static void test_raw_rows_are_transports(void **state)
{
  size_t i, raw = 0;
  (void)state;
  for(i = 0; i < vmb_n_ops; i++) {
    if(!(vmb_ops[i].flags & VMB_OP_RAW))
      continue;
    raw++;
    assert_non_null(vmb_ops[i].path);
    if(strncmp(vmb_ops[i].path, "/mcp/", 5) != 0)
      fail_msg("%s (%s) is RAW but no MCP transport", vmb_ops[i].id, vmb_ops[i].path);
  }
  assert_int_equal(raw, 3);     /* POST and DELETE /mcp/rpc, GET /mcp/sse */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_routes_from_table),
    cmocka_unit_test(test_validation),
    cmocka_unit_test(test_schema),
    cmocka_unit_test(test_scopes),
    cmocka_unit_test(test_install_refuses_raw_tool),
    cmocka_unit_test(test_install_document_media_type),
    cmocka_unit_test(test_install_refuses_document_tool),
    cmocka_unit_test(test_raw_rows_are_transports),
  };
  /* Start-up hands the table to the gate; do the same here. */
  if(vmb_ops_install(vmb_ops, vmb_n_ops))
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
