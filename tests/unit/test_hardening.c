/*
** test_hardening.c - small audit fixes of issue 13 that are best checked
** from inside: the Vault dot-segment refusal, buffer growth that keeps its
** content (it no longer reallocs in place), the one subject rule exposed
** to transports, and the gate refusing an invalid pre-filled identity.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault.h"
#include "vmb/buf.h"
#include "vmb/core.h"

static void vault_dot_segments(void **state)
{
  static const char *const bad[] = {
    "secret/data/mcp/a/../b", "secret/data/mcp/a/./b", "..", ".", "./x", "x/..",
    "secret/data/mcp/a/..?version=1", "a/../../sys/seal", NULL};
  static const char *const good[] = {
    "secret/data/mcp/a/b", "secret/data/mcp/a/.b", "secret/data/mcp/a/..b",
    "secret/data/mcp/a/b.", "secret/metadata/mcp/a/", "transit/encrypt/k",
    "secret/data/x?version=..", "sys/health", NULL};
  size_t i;
  (void)state;
  for(i = 0; bad[i]; i++)
    assert_true(vmb_vault_path_has_dot_segment(bad[i]));
  for(i = 0; good[i]; i++)
    assert_false(vmb_vault_path_has_dot_segment(good[i]));
}

static void buf_growth_keeps_content(void **state)
{
  struct vmb_buf b;
  char chunk[1000];
  size_t i;
  (void)state;
  vmb_buf_init(&b, 1u << 20);
  for(i = 0; i < 300; i++) {
    memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
    assert_int_equal(vmb_buf_append(&b, chunk, sizeof(chunk)), 0);
  }
  assert_int_equal(b.len, 300000);
  for(i = 0; i < 300; i++)
    assert_int_equal(b.data[i * 1000 + 999], 'a' + (int)(i % 26));
  assert_int_equal(b.data[b.len], '\0');
  assert_int_equal(vmb_buf_append(&b, chunk, (1u << 20)), -1);   /* past max */
  assert_int_equal(b.len, 300000);                                /* unchanged */
  vmb_buf_free(&b);
  assert_null(b.data);
}

static void subject_rule_for_transports(void **state)
{
  (void)state;
  assert_true(vmb_core_subject_valid("agent-1"));
  assert_true(vmb_core_subject_valid("a.b_c@d"));
  assert_false(vmb_core_subject_valid("../other"));
  assert_false(vmb_core_subject_valid(".."));
  assert_false(vmb_core_subject_valid("."));
  assert_false(vmb_core_subject_valid("a/b"));
  assert_false(vmb_core_subject_valid(""));
  assert_false(vmb_core_subject_valid("a b"));
  assert_false(vmb_core_subject_valid("a%2e"));
  assert_false(vmb_core_subject_valid(NULL));
}

/* The configuration forgets VAULT_TOKEN once the Vault client has it. */
static void config_forgets_vault_token(void **state)
{
  struct vmb_config cfg;
  char err[256], tok[128];
  char *argv[] = {(char *)"t", NULL};
  (void)state;
  setenv("VAULT_TOKEN", "hvs.unit-forget-0123456789", 1);
  assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), 0);
  assert_int_equal(vmb_vault_init(&cfg, err, sizeof(err)), 0);
  vmb_config_forget_vault_token(&cfg);
  assert_string_equal(cfg.vault_token, "");
  assert_int_equal(vmb_vault_token(tok, sizeof(tok)), 0);
  assert_string_equal(tok, "hvs.unit-forget-0123456789");
  vmb_vault_cleanup();
  vmb_config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(vault_dot_segments),
    cmocka_unit_test(buf_growth_keeps_content),
    cmocka_unit_test(subject_rule_for_transports),
    cmocka_unit_test(config_forgets_vault_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
