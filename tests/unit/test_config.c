/*
** Unit tests: configuration precedence and the config file readers with
** hostile input.
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

#include "../lib/testtmp.h"

#include "config_file.h"
#include "vmb/config.h"

static char tmpdir[256];

static int setup(void **state)
{
  (void)state;
  assert_non_null(vmb_test_mkdtemp(tmpdir, sizeof(tmpdir), "vmb-config"));
  assert_int_equal(chdir(tmpdir), 0);
  unsetenv("APP_CONFIG_FILE");
  unsetenv("VAULT_ADDR");
  unsetenv("RATE_LIMIT_REQUESTS");
  unsetenv("LOG_LEVEL");
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  assert_int_equal(chdir("/"), 0);
  vmb_test_rmtree(tmpdir);
  return 0;
}

static void write_file(const char *name, const char *text)
{
  FILE *f = fopen(name, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_defaults(void **state)
{
  struct vmb_config cfg;
  char err[256];
  char *argv[] = {"prog", NULL};
  (void)state;
  assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), 0);
  assert_string_equal(cfg.vault_addr, "http://localhost:8200");
  assert_int_equal(cfg.rate_limit_requests, 60);
  assert_int_equal(cfg.child_token_ttl, 90);
  assert_true(cfg.auth_api_key_enabled);
  assert_false(cfg.auth_mtls_enabled);
  assert_string_equal(cfg.kv_mount, "secret");
  assert_int_equal(cfg.max_body_bytes, 1048576);
  vmb_config_free(&cfg);
}

/* flag > env > file > default, each level tested against the next. */
static void test_precedence(void **state)
{
  struct vmb_config cfg;
  char err[256];
  char *argv_flag[] = {"prog", "--rate-limit-requests", "7", NULL};
  char *argv_none[] = {"prog", NULL};
  char *dump;
  (void)state;
  write_file("config.json", "{\"RATE_LIMIT_REQUESTS\": 5, \"log_level\": \"debug\","
                            " \"VAULT_ADDR\": \"http://file:1\"}");
  assert_int_equal(vmb_config_load(&cfg, 1, argv_none, err, sizeof(err)), 0);
  assert_int_equal(cfg.rate_limit_requests, 5);
  assert_string_equal(cfg.log_level, "debug");
  vmb_config_free(&cfg);

  setenv("RATE_LIMIT_REQUESTS", "6", 1);
  assert_int_equal(vmb_config_load(&cfg, 1, argv_none, err, sizeof(err)), 0);
  assert_int_equal(cfg.rate_limit_requests, 6);
  assert_string_equal(cfg.vault_addr, "http://file:1");
  vmb_config_free(&cfg);

  assert_int_equal(vmb_config_load(&cfg, 3, argv_flag, err, sizeof(err)), 0);
  assert_int_equal(cfg.rate_limit_requests, 7);
  dump = vmb_config_dump(&cfg);
  assert_non_null(strstr(dump, "\"RATE_LIMIT_REQUESTS\":{\n    \"value\":7,\n    \"source\":\"flag\""));
  assert_non_null(strstr(dump, "\"VAULT_ADDR\":{\n    \"value\":\"http:\\/\\/file:1\",\n    \"source\":\"file\"") ||
                  strstr(dump, "\"source\":\"file\""));
  free(dump);
  vmb_config_free(&cfg);
  unsetenv("RATE_LIMIT_REQUESTS");
}

static void test_flag_equals_form(void **state)
{
  struct vmb_config cfg;
  char err[256];
  char *argv[] = {"prog", "--vault-addr=https://v:8200", NULL};
  (void)state;
  assert_int_equal(vmb_config_load(&cfg, 2, argv, err, sizeof(err)), 0);
  assert_string_equal(cfg.vault_addr, "https://v:8200");
  vmb_config_free(&cfg);
}

static void expect_error(int argc, char **argv, const char *needle)
{
  struct vmb_config cfg;
  char err[512];
  err[0] = 0;
  assert_int_equal(vmb_config_load(&cfg, argc, argv, err, sizeof(err)), -1);
  if(!strstr(err, needle))
    fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_invalid_values_named(void **state)
{
  char *a1[] = {"prog", "--vault-timeout-ms", "abc", NULL};
  char *a2[] = {"prog", "--rate-limit-requests", "0", NULL};
  char *a3[] = {"prog", "--vault-addr", "ftp://x", NULL};
  char *a4[] = {"prog", "--auth-mtls-enabled", "maybe", NULL};
  char *a5[] = {"prog", "--log-level", "loud", NULL};
  char *a6[] = {"prog", "--vault-addr", NULL};
  char *a7[] = {"prog", "--child-token-ttl", "5x", NULL};
  char *a8[] = {"prog", NULL};
  (void)state;
  expect_error(3, a1, "VAULT_TIMEOUT_MS (from flag)");
  expect_error(3, a2, "RATE_LIMIT_REQUESTS (from flag)");
  expect_error(3, a3, "VAULT_ADDR (from flag)");
  expect_error(3, a4, "AUTH_MTLS_ENABLED (from flag)");
  expect_error(3, a5, "LOG_LEVEL (from flag)");
  expect_error(2, a6, "missing value");
  expect_error(3, a7, "CHILD_TOKEN_TTL");
  setenv("JWT_HS256_SECRET", "short-secret-value", 1);
  expect_error(1, a8, "JWT_HS256_SECRET (from env)");
  unsetenv("JWT_HS256_SECRET");
  setenv("API_KEYS_JSON", "[1,2]", 1);
  expect_error(1, a8, "API_KEYS_JSON (from env)");
  setenv("API_KEYS_JSON", "{\"secret-key-value\":", 1);
  {
    struct vmb_config cfg;
    char err[512];
    assert_int_equal(vmb_config_load(&cfg, 1, a8, err, sizeof(err)), -1);
    /* the key material of a secret setting is never echoed */
    assert_null(strstr(err, "secret-key-value"));
  }
  unsetenv("API_KEYS_JSON");
  write_file("config.json", "{\"NOT_A_SETTING\": 1}");
  expect_error(1, a8, "unknown setting \"NOT_A_SETTING\" (from file)");
  write_file("config.json", "{\"VAULT_TOKEN\": null}");
  expect_error(1, a8, "null");
  write_file("config.json", "{\"PORT\": 80.5}");
  expect_error(1, a8, "fractional");
  unlink("config.json");
}

static void test_secret_redacted(void **state)
{
  struct vmb_config cfg;
  char err[256];
  char *argv[] = {"prog", "--vault-token", "hvs.very-secret-token", NULL};
  char *dump;
  (void)state;
  assert_int_equal(vmb_config_load(&cfg, 3, argv, err, sizeof(err)), 0);
  dump = vmb_config_dump(&cfg);
  assert_null(strstr(dump, "very-secret-token"));
  assert_non_null(strstr(dump, "<redacted>"));
  free(dump);
  vmb_config_free(&cfg);
}

static void test_app_config_file_yaml_toml(void **state)
{
  struct vmb_config cfg;
  char err[256];
  char *argv[] = {"prog", NULL};
  (void)state;
  write_file("c.yaml", "VAULT_ADDR: http://yaml:8200\nrate_limit_requests: 11\n"
                       "API_KEYS_JSON:\n  key-number-one: alice\n");
  setenv("APP_CONFIG_FILE", "c.yaml", 1);
  assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), 0);
  assert_string_equal(cfg.vault_addr, "http://yaml:8200");
  assert_int_equal(cfg.rate_limit_requests, 11);
  assert_non_null(strstr(cfg.api_keys_json, "alice"));
  vmb_config_free(&cfg);

  write_file("c.toml", "# comment\nVAULT_ADDR = \"http://toml:8200\" # trailing\n"
                       "rate_limit_requests = 12\nAUTH_MTLS_ENABLED = true\n"
                       "CORS_ALLOW_ORIGINS = 'http://a.example'\n");
  setenv("APP_CONFIG_FILE", "c.toml", 1);
  assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), 0);
  assert_string_equal(cfg.vault_addr, "http://toml:8200");
  assert_int_equal(cfg.rate_limit_requests, 12);
  assert_true(cfg.auth_mtls_enabled);
  assert_string_equal(cfg.cors_allow_origins, "http://a.example");
  vmb_config_free(&cfg);

  write_file("c.ini", "x=1\n");
  setenv("APP_CONFIG_FILE", "c.ini", 1);
  expect_error(1, argv, "unknown format");
  setenv("APP_CONFIG_FILE", "missing.json", 1);
  expect_error(1, argv, "cannot open");
  unsetenv("APP_CONFIG_FILE");
}

static int count_entry(void *ud, const char *k, const char *v, char *e, size_t n)
{
  (void)k; (void)v; (void)e; (void)n;
  (*(int *)ud)++;
  return 0;
}

/* Each reader refuses hostile input with an error, never a crash. */
static void test_hostile_files(void **state)
{
  static const struct { int kind; const char *text; size_t len; } bad[] = {
    {0, "{\"a\":", 5}, {0, "[]", 2}, {0, "{\"a\":1} x", 9}, {0, "{\"a\":\"b\0c\"}", 11},
    {0, "{'a':1}", 7}, {0, "", 0},
    {1, "a: [1, 2", 8}, {1, "- a\n- b\n", 8}, {1, "a: b\0c", 6}, {1, "a: *x\n", 6},
    {2, "[table]\na=1\n", 12}, {2, "a = \"unterminated\n", 18},
    {2, "a = \"\"\"multi\"\"\"\n", 16}, {2, "a.b = 1\n", 8}, {2, "a = 1.5\n", 8},
    {2, "a = 1979-05-27\n", 15}, {2, "= 1\n", 4}, {2, "a = \"x\" y\n", 10},
    {2, "a = \"\\u0041\"\n", 13}, {2, "a = 01\n", 7}, {2, "a = [1, \n", 9},
    {2, "a\0 = 1\n", 7},
  };
  size_t i;
  (void)state;
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256];
    int n = 0, rc;
    if(bad[i].kind == 0)
      rc = vmb_config_text_json(bad[i].text, bad[i].len, count_entry, &n, err, sizeof(err));
    else if(bad[i].kind == 1)
      rc = vmb_config_text_yaml(bad[i].text, bad[i].len, count_entry, &n, err, sizeof(err));
    else
      rc = vmb_config_text_toml(bad[i].text, bad[i].len, count_entry, &n, err, sizeof(err));
    if(rc != -1)
      fail_msg("case %zu (%s) was accepted", i, bad[i].text);
  }
}

static void test_deep_and_huge(void **state)
{
  char err[256];
  int n = 0;
  size_t i, depth = 5000;
  char *deep = malloc(depth * 2 + 16);
  (void)state;
  /* deep nesting in JSON and YAML */
  memcpy(deep, "{\"a\":", 5);
  for(i = 0; i < depth; i++)
    deep[5 + i] = '[';
  for(i = 0; i < depth; i++)
    deep[5 + depth + i] = ']';
  deep[5 + 2 * depth] = '}';
  assert_int_equal(vmb_config_text_json(deep, 6 + 2 * depth, count_entry, &n, err, sizeof(err)), -1);
  memcpy(deep, "a: ", 3);
  for(i = 0; i < depth; i++)
    deep[3 + i] = '[';
  for(i = 0; i < depth; i++)
    deep[3 + depth + i] = ']';
  assert_int_equal(vmb_config_text_yaml(deep, 3 + 2 * depth, count_entry, &n, err, sizeof(err)), -1);
  free(deep);
  /* a file over 1 MiB is refused before parsing */
  {
    FILE *f = fopen("big.json", "w");
    char *argv[] = {"prog", NULL};
    struct vmb_config cfg;
    assert_non_null(f);
    fputs("{\"LOG_DIR\":\"", f);
    for(i = 0; i < 1100000; i++)
      fputc('a', f);
    fputs("\"}", f);
    fclose(f);
    setenv("APP_CONFIG_FILE", "big.json", 1);
    assert_int_equal(vmb_config_load(&cfg, 1, argv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than 1 MiB"));
    unsetenv("APP_CONFIG_FILE");
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
    cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flag_equals_form, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_values_named, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_redacted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_app_config_file_yaml_toml, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deep_and_huge, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
