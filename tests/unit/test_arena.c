/*
** Unit tests: the request arena and the bounded buffer.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmb/arena.h"
#include "vmb/buf.h"

static int order[8];
static int norder;
static void record(void *p) { order[norder++] = (int)(intptr_t)p; }

static void test_arena(void **state)
{
  struct vmb_arena *a = vmb_arena_create();
  char *big, *s;
  int i;
  (void)state;
  for(i = 0; i < 2000; i++) {
    char *p = vmb_arena_alloc(a, 33);
    assert_non_null(p);
    assert_int_equal(((uintptr_t)p) % 16, 0);
    assert_int_equal(p[0], 0);
    memset(p, 'x', 33);
  }
  big = vmb_arena_alloc(a, 1 << 20);
  assert_non_null(big);
  memset(big, 1, 1 << 20);
  s = vmb_arena_printf(a, "%s-%d", "abc", 42);
  assert_string_equal(s, "abc-42");
  assert_string_equal(vmb_arena_strndup(a, "abcdef", 3), "abc");
  norder = 0;
  vmb_arena_defer(a, record, (void *)1);
  vmb_arena_defer(a, record, (void *)2);
  vmb_arena_defer(a, record, (void *)3);
  vmb_arena_reset(a);
  assert_int_equal(norder, 3);
  assert_int_equal(order[0], 3);
  assert_int_equal(order[2], 1);
  /* reusable after reset */
  assert_non_null(vmb_arena_alloc(a, 100));
  vmb_arena_destroy(a);
}

static void test_wipe(void **state)
{
  struct vmb_arena *a = vmb_arena_create();
  char *secret = vmb_arena_strdup(a, "top-secret");
  char copy[16];
  (void)state;
  vmb_arena_wipe_later(a, secret, 10);
  /* run destructors but look before the chunk is reused */
  vmb_arena_reset(a);
  memcpy(copy, secret, 10);
  assert_memory_not_equal(copy, "top-secret", 10);
  vmb_arena_destroy(a);
}

static void test_buf_cap(void **state)
{
  struct vmb_buf b;
  int i;
  (void)state;
  vmb_buf_init(&b, 10);
  assert_int_equal(vmb_buf_append_str(&b, "0123456789"), 0);
  assert_int_equal(vmb_buf_append_str(&b, "x"), -1);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "0123456789");
  vmb_buf_reset(&b);
  assert_int_equal(vmb_buf_printf(&b, "%d", 12345), 0);
  assert_int_equal(vmb_buf_printf(&b, "%d", 123456), -1);
  assert_string_equal(b.data, "12345");
  vmb_buf_free(&b);
  vmb_buf_init(&b, 1 << 20);
  for(i = 0; i < 1000; i++)
    assert_int_equal(vmb_buf_append(&b, "0123456789", 10), 0);
  assert_int_equal(b.len, 10000);
  vmb_buf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_arena),
    cmocka_unit_test(test_wipe),
    cmocka_unit_test(test_buf_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
