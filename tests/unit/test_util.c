/*
** Unit tests: strict decoders and helpers fed hostile input.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "vmb/arena.h"

static void test_b64(void **state)
{
  size_t n;
  unsigned char *d;
  char *e;
  (void)state;
  d = vmb_b64_decode("aGVsbG8=", 8, &n);
  assert_non_null(d);
  assert_int_equal(n, 5);
  assert_memory_equal(d, "hello", 5);
  free(d);
  e = vmb_b64_encode((const unsigned char *)"hello", 5);
  assert_string_equal(e, "aGVsbG8=");
  free(e);
  /* not canonical, wrong padding, bad characters, whitespace, url alphabet */
  assert_null(vmb_b64_decode("aGVsbG9=", 8, &n));
  assert_null(vmb_b64_decode("aGVsbG8", 7, &n));
  assert_null(vmb_b64_decode("aGVs bG8=", 9, &n));
  assert_null(vmb_b64_decode("aGVs\nbG8=", 9, &n));
  assert_null(vmb_b64_decode("a-_s", 4, &n));
  assert_null(vmb_b64_decode("====", 4, &n));
  assert_null(vmb_b64_decode("a===", 4, &n));
  assert_null(vmb_b64_decode("aGVs\0G8=", 8, &n));
  d = vmb_b64_decode("", 0, &n);
  assert_non_null(d);
  assert_int_equal(n, 0);
  free(d);
  /* base64url: no padding allowed, strict trailing bits */
  d = vmb_b64url_decode("aGVsbG8", 7, &n);
  assert_non_null(d);
  free(d);
  assert_null(vmb_b64url_decode("aGVsbG8=", 8, &n));
  assert_null(vmb_b64url_decode("aGVsbG9", 7, &n));
  assert_null(vmb_b64url_decode("a", 1, &n));
  assert_null(vmb_b64url_decode("a+/b", 4, &n));
}

static void test_pct_decode(void **state)
{
  struct vmb_arena *a = vmb_arena_create();
  (void)state;
  assert_string_equal(vmb_pct_decode(a, "a%20b+c", 7, true), "a b c");
  assert_string_equal(vmb_pct_decode(a, "a+c", 3, false), "a+c");
  assert_null(vmb_pct_decode(a, "a%2", 3, true));
  assert_null(vmb_pct_decode(a, "a%", 2, true));
  assert_null(vmb_pct_decode(a, "a%zz", 4, true));
  assert_null(vmb_pct_decode(a, "a%00b", 5, true));
  assert_string_equal(vmb_pct_decode(a, "%2e%2E", 6, true), "..");
  vmb_arena_destroy(a);
}

static void test_json_parse_strict(void **state)
{
  json_object *o;
  char *deep;
  size_t i;
  (void)state;
  o = vmb_json_parse("{\"a\":1}  \n", 10, 8);
  assert_non_null(o);
  json_object_put(o);
  assert_null(vmb_json_parse("{\"a\":1} x", 9, 8));
  assert_null(vmb_json_parse("{\"a\":1}{}", 9, 8));
  assert_null(vmb_json_parse("{'a':1}", 7, 8));
  assert_null(vmb_json_parse("{\"a\":1,}", 8, 8));
  assert_null(vmb_json_parse("{\"a\":1", 6, 8));
  assert_null(vmb_json_parse("{\"a\":\"x\0\"}", 10, 8));
  assert_null(vmb_json_parse("", 0, 8));
  /* A buffer that never received a byte hands over (NULL, 0): the probe
     of a Vault that answered 200 with no body did (UBSan abort, found
     by fuzz__kms_reply). */
  assert_null(vmb_json_parse(NULL, 0, 8));
  assert_null(vmb_json_parse("[[[[[[[[[[1]]]]]]]]]]", 21, 8));
  /* invalid UTF-8 inside a string */
  assert_null(vmb_json_parse("{\"a\":\"\xff\xfe\"}", 10, 8));
  assert_null(vmb_json_parse("{\"a\":\"\xc3\"}", 9, 8));
  o = vmb_json_parse("{\"a\":\"\xc3\xa9\"}", 10, 8);
  assert_non_null(o);
  json_object_put(o);
  /* top-level scalars are complete values */
  o = vmb_json_parse("42", 2, 8);
  assert_non_null(o);
  assert_int_equal(json_object_get_int(o), 42);
  json_object_put(o);
  o = vmb_json_parse(" true ", 6, 8);
  assert_non_null(o);
  json_object_put(o);
  assert_null(vmb_json_parse("42x", 3, 8));
  assert_null(vmb_json_parse("4 2", 3, 8));
  deep = malloc(200001);
  for(i = 0; i < 100000; i++) {
    deep[i] = '[';
    deep[100000 + i] = ']';
  }
  assert_null(vmb_json_parse(deep, 200000, 32));
  free(deep);
}

static void test_consttime_and_tokens(void **state)
{
  (void)state;
  assert_true(vmb_consttime_eq("abc", 3, "abc", 3));
  assert_false(vmb_consttime_eq("abc", 3, "abd", 3));
  assert_false(vmb_consttime_eq("ab", 2, "abc", 3));
  assert_false(vmb_consttime_eq("", 0, "a", 1));
  assert_true(vmb_is_token("abc-123_x.y:z", 64));
  assert_false(vmb_is_token("a b", 64));
  assert_false(vmb_is_token("a\nb", 64));
  assert_false(vmb_is_token("", 64));
  assert_false(vmb_is_token("abcdef", 3));
}

static void test_parse_long(void **state)
{
  long v;
  (void)state;
  assert_int_equal(vmb_parse_long("42", 0, 100, &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(vmb_parse_long("101", 0, 100, &v), -1);
  assert_int_equal(vmb_parse_long("4x", 0, 100, &v), -1);
  assert_int_equal(vmb_parse_long(" 4", 0, 100, &v), -1);
  assert_int_equal(vmb_parse_long("", 0, 100, &v), -1);
  assert_int_equal(vmb_parse_long("99999999999999999999999", 0, 100, &v), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_b64),
    cmocka_unit_test(test_pct_decode),
    cmocka_unit_test(test_json_parse_strict),
    cmocka_unit_test(test_consttime_and_tokens),
    cmocka_unit_test(test_parse_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
