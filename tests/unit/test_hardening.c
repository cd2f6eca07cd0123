/*
** test_hardening.c - small audit fixes of issue 13 that are best checked
** from inside: the Vault dot-segment refusal, buffer growth that keeps its
** content (it no longer reallocs in place), the one subject rule exposed
** to transports, the gate refusing an invalid pre-filled identity, and
** the 32-byte floor for configured API keys.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
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

/* The configuration forgets VAULT_TOKEN and VAULT_SECRET_ID once the
   Vault client (the token) and the AppRole module (the secret id) have
   their own copies. That AppRole re-login still works afterwards is
   ops_approle_relogin (a revoked token replaced by a fresh login). */
static void config_forgets_vault_token(void **state)
{
  struct vmb_config cfg;
  char err[256], tok[128];
  char *argv[] = {(char *)"t", NULL};
  (void)state;
  setenv("VAULT_TOKEN", "hvs.unit-forget-0123456789", 1);
  setenv("VAULT_SECRET_ID", "unit-secret-id-0123456789", 1);
  assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), 0);
  unsetenv("VAULT_SECRET_ID");
  assert_string_equal(cfg.vault_secret_id, "unit-secret-id-0123456789");
  assert_int_equal(vmb_vault_init(&cfg, err, sizeof(err)), 0);
  vmb_config_forget_vault_credentials(&cfg);
  assert_string_equal(cfg.vault_token, "");
  assert_string_equal(cfg.vault_secret_id, "");
  assert_int_equal(vmb_vault_token(tok, sizeof(tok)), 0);
  assert_string_equal(tok, "hvs.unit-forget-0123456789");
  vmb_vault_cleanup();
  vmb_config_free(&cfg);
}

/* A clear API key under 32 bytes stops start-up; the message names the
   entry and its subject, never the key. 32 bytes and sha256: pass. */
static void apikey_min_length(void **state)
{
  struct vmb_config cfg;
  struct vmb_identity id;
  const char *reason = NULL;
  char err[512];
  static const char k31[] = "demo-key-31-bytes-0123456789abc";
  static const char k32[] = "demo-key-32-bytes-0123456789abcd";
  (void)state;
  assert_int_equal(strlen(k31), 31);
  assert_int_equal(strlen(k32), 32);
  memset(&cfg, 0, sizeof(cfg));
  cfg.api_keys_json = "{\"demo-key-32-bytes-0123456789abcd\":\"agent_ok\","
                      "\"demo-key-31-bytes-0123456789abc\":\"agent_short\"}";
  err[0] = 0;
  assert_int_equal(vmb_apikey_init(&cfg, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "entry 2"));
  assert_non_null(strstr(err, "\"agent_short\""));
  assert_non_null(strstr(err, "too short"));
  assert_non_null(strstr(err, "32..512 bytes"));
  assert_null(strstr(err, k31));
  assert_null(strstr(err, "0123456789"));
  /* Nothing of the refused table stays usable. */
  memset(&id, 0, sizeof(id));
  assert_int_equal(vmb_apikey_check(k32, &id, &reason), VMB_AUTH_INVALID);

  cfg.api_keys_json = "{\"demo-key-32-bytes-0123456789abcd\":\"agent_ok\","
                      "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\":\"agent_d\"}";
  assert_int_equal(vmb_apikey_init(&cfg, err, sizeof(err)), 0);
  memset(&id, 0, sizeof(id));
  assert_int_equal(vmb_apikey_check(k32, &id, &reason), VMB_AUTH_OK);
  assert_string_equal(id.subject, "agent_ok");
  vmb_apikey_cleanup();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(vault_dot_segments),
    cmocka_unit_test(buf_growth_keeps_content),
    cmocka_unit_test(subject_rule_for_transports),
    cmocka_unit_test(config_forgets_vault_token),
    cmocka_unit_test(apikey_min_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
