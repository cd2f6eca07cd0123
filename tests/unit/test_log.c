/*
** Unit tests of log.c: every line is exactly what json-c prints for the
** object {ts, lvl, msg, logger, ...fields} (the shape tests and
** docs/observability.md rely on), whether vmb_log takes its quick path
** (the fields' text spliced after the core members) or builds the
** object; each expected line here is built the general way.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../lib/testtmp.h"
#include "vmb/log.h"

static char dir[512];   /* TMPDIR/vmb-test-log-XXXXXX, made by setup */

/* The line as the general path builds it, with the given ts. */
static char *expected(const char *ts, const char *lvl, const char *msg, const char *logger,
                      json_object *fields)
{
  json_object *line = json_object_new_object();
  char *out;
  json_object_object_add(line, "ts", json_object_new_string(ts));
  json_object_object_add(line, "lvl", json_object_new_string(lvl));
  json_object_object_add(line, "msg", json_object_new_string(msg));
  json_object_object_add(line, "logger", json_object_new_string(logger));
  if(fields) {
    json_object_object_foreach(fields, k, v) {
      if(!strcmp(k, "ts") || !strcmp(k, "lvl") || !strcmp(k, "msg") || !strcmp(k, "logger"))
        continue;
      json_object_object_add(line, k, json_object_get(v));
    }
  }
  out = strdup(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(line);
  return out;
}

/* The last line of server.log, without its newline. */
static char *last_line(void)
{
  char path[600], buf[65536], *nl, *start;
  size_t n;
  FILE *f;
  snprintf(path, sizeof(path), "%s/server.log", dir);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_true(n > 0 && buf[n - 1] == '\n');
  buf[n - 1] = '\0';
  nl = strrchr(buf, '\n');
  start = nl ? nl + 1 : buf;
  return strdup(start);
}

/* Log one line and compare it with the general path's text. */
static void check_line(const char *msg, const char *logger, json_object *fields)
{
  char *got, *want, ts[64];
  const char *p, *q;
  vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, logger, msg, fields);
  got = last_line();
  /* take the timestamp the line carries */
  p = strstr(got, "{\"ts\":\"");
  assert_ptr_equal(p, got);
  p += 7;
  q = strchr(p, '"');
  assert_non_null(q);
  assert_true((size_t)(q - p) < sizeof(ts));
  memcpy(ts, p, (size_t)(q - p));
  ts[q - p] = '\0';
  want = expected(ts, "warn", msg, logger, fields);
  assert_string_equal(got, want);
  free(got);
  free(want);
}

static void test_lines_match_json_c(void **state)
{
  json_object *f;
  char big[20000];
  (void)state;

  check_line("plain", "app", NULL);
  f = json_object_new_object();
  check_line("empty fields", "app", f);
  json_object_object_add(f, "request_id", json_object_new_string("0123456789abcdef"));
  json_object_object_add(f, "status", json_object_new_int(200));
  json_object_object_add(f, "duration_ms", json_object_new_double_s(1.5, "1.500"));
  json_object_object_add(f, "path", json_object_new_string("/secrets/a/b\"c\\d\n\t\x01/é"));
  json_object_object_add(f, "nested", json_tokener_parse("{\"a\":[1,\"x/y\",null,true]}"));
  check_line("request", "http", f);
  /* texts that need escaping, and a field repeating a core key */
  check_line("quote \" and \\ and \n", "log\"ger", f);
  check_line("caf\xc3\xa9", "app", f);
  json_object_object_add(f, "msg", json_object_new_string("not the message"));
  json_object_object_add(f, "logger", json_object_new_string("not the logger"));
  check_line("the message", "the logger", f);
  json_object_put(f);
  /* a line too long for the quick path is replaced, never split */
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  f = json_object_new_object();
  json_object_object_add(f, "big", json_object_new_string(big));
  vmb_log(VMB_LOG_SERVER, VMB_LOG_WARN, "app", "huge", f);
  {
    char *got = last_line();
    assert_non_null(strstr(got, "\"msg\":\"log line dropped: too long\""));
    free(got);
  }
  json_object_put(f);
}

static int setup(void **state)
{
  char err[256];
  (void)state;
  if(!vmb_test_mkdtemp(dir, sizeof(dir), "vmb-test-log"))
    return -1;
  return vmb_log_open(dir, "info", err, sizeof(err));
}

static int teardown(void **state)
{
  (void)state;
  vmb_log_close();
  vmb_test_rmtree(dir);
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lines_match_json_c),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
