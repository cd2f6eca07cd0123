/*
** config.h - every setting of the bridge (SPEC section 7).
**
** Sources, highest precedence first: command-line flags, environment,
** a config file (APP_CONFIG_FILE, else config.json / config.yaml /
** config.toml in the working directory), built-in defaults. One table in
** config.c names each setting once: its environment name, its flag
** (--vault-addr for VAULT_ADDR), its type, limits, default, and whether it
** is secret (redacted by --check-config and never logged).
**
** A loaded vmb_config is immutable and shared read-only by all threads.
*/
#ifndef VMB_CONFIG_H
#define VMB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct vmb_config {
  /* server */
  char *host;
  long port;
  char *listen;               /* --listen 127.0.0.1:9000 | /path.sock | "" (fd 0) */
  long threads;               /* 0 = number of cores */
  char *base_path;            /* mount prefix stripped before routing */
  long max_body_bytes;
  char *log_level;
  char *log_dir;
  char *run_dir;              /* shared memory files for the host's pool */
  bool expose_rest_routes;
  bool debug_routes_enabled;  /* /echo-headers and other debug routes */
  char *cors_allow_origins;
  char *public_hosts;

  /* authentication */
  bool auth_api_key_enabled;
  char *api_keys_json;
  bool auth_jwt_enabled;
  char *jwt_issuer;
  char *jwt_audience;
  char *jwt_hs256_secret;
  char *jwt_jwks_url;
  bool jwt_jwks_allow_http_loopback;  /* http JWKS to 127.0.0.0/8, ::1, localhost */
  char *jwt_jwks_file;
  long jwt_jwks_cache_seconds;
  bool jwt_require_kid;
  bool jwt_validate_issuer;
  bool jwt_validate_audience;
  char *oauth_authorization_servers;
  bool auth_mtls_enabled;
  char *mtls_identity_header;
  char *mtls_verify_header;
  char *mtls_subject_cn_prefix;
  bool mtls_trust_proxy_headers;

  /* rate limits */
  bool rate_limit_enabled;
  long auth_failure_limit;    /* refused credentials per client address per window */
  long readyz_rate_limit;     /* /readyz calls per client address per window */
  long rate_limit_requests;
  long rate_limit_window_seconds;
  char *rate_limit_on_backend_error;  /* "allow" | "deny" (REDIS_URL only) */

  /* Redis: state shared by several hosts (issue 16); "" = this host only */
  char *redis_url;            /* secret: may carry a password */
  long redis_timeout_ms;
  char *redis_key_prefix;
  char *redis_cacert;

  /* Vault */
  char *vault_addr;
  char *vault_namespace;
  char *vault_token;
  char *vault_role_id;
  char *vault_secret_id;
  long vault_timeout_ms;
  char *vault_cacert;
  char *vault_capath;
  char *vault_client_cert;
  char *vault_client_key;
  bool vault_skip_verify;
  char *kv_mount;
  char *default_prefix;
  char *transit_mount;
  char *database_mount;
  char *ssh_mount;
  bool child_token_enabled;
  long child_token_ttl;       /* seconds */
  char *child_token_policy_prefix;
  long db_lease_token_ttl;    /* seconds: token under which DB leases are made */
  bool db_lease_token_orphan; /* that token survives the bridge's own token */
  long wrap_ttl_max;          /* seconds */
  bool wrap_unwrap_any_subject;

  /* subject registry (registry.c) */
  bool registry_enabled;      /* false: no registry, DEFAULT_GRANTS_JSON for all */
  char *admin_prefix;         /* KV folder of the registry, beside DEFAULT_PREFIX */
  char *default_grants_json;  /* grants of subjects without a record */
  long registry_refresh_seconds;

  /* AWS KMS */
  bool aws_kms_enabled;
  bool kms_allow_caller_credentials;
  char *aws_region;
  char *aws_kms_default_key_id;
  char *aws_kms_endpoint;
  char *aws_access_key_id;
  char *aws_secret_access_key;
  char *aws_session_token;
  char *aws_profile;
  char *aws_shared_credentials_file;

  /* MCP */
  long mcp_sse_keepalive_seconds;
  long mcp_max_streams_per_subject;
  long mcp_max_streams_per_process;
  long mcp_stream_buffer_bytes;
  bool mcp_tool_names_dotted;
  long mcp_list_ttl_ms;

  /* observability */
  char *otel_exporter_otlp_endpoint;
  char *otel_service_name;
  char *metrics_prefix;       /* put before every metric name; "" = none */
  long health_probe_seconds;  /* background Vault/KMS probe; 0 = off */

  /* Where each setting came from, for --check-config (internal). */
  unsigned char *origin;
  /* The config file that was read (APP_CONFIG_FILE, or the one found in
     the working directory), or NULL when none was: named by
     --check-config and by every error about the file. Owned. */
  char *config_file;
};

/*
** Load the configuration. argv may contain setting flags (--name value or
** --name=value); flags that are not settings are left for the caller and
** their indexes marked in consumed[] (argc entries, may be NULL). Returns
** 0, or -1 with a message naming the setting, the source and the problem.
** The result must be released with vmb_config_free.
*/
int vmb_config_load(struct vmb_config *cfg, int argc, char **argv,
                    char *err, size_t errlen);
void vmb_config_free(struct vmb_config *cfg);
/* Wipe VAULT_TOKEN and VAULT_SECRET_ID from cfg (overwritten, emptied)
   once vmb_core_init has handed them on: the Vault client keeps its own
   guarded copy of the token, and the AppRole module (vault_auth.c) its
   own locked copy of the secret id, which re-login needs for the
   process's whole life. The configuration then holds neither for the
   rest of the process (issue 13). */
void vmb_config_forget_vault_credentials(struct vmb_config *cfg);

/* The effective configuration as a JSON text (secrets redacted, each with
   its source). Caller frees. NULL on OOM. */
char *vmb_config_dump(const struct vmb_config *cfg);

/* True when name[0..n) (without the leading "--") is a setting flag. */
int vmb_config_is_flag(const char *name, size_t n);

/* Print the setting flags, one line each, to the given stream (FILE *). */
void vmb_config_print_flags(void *stream);

#endif
