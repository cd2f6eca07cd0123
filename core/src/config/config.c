/*
** config.c - the settings table and the loader (SPEC section 7).
**
** Precedence: flags > environment > config file > defaults. Each source
** overwrites what the weaker one set, so loading runs weakest first. The
** table below is the only list of settings: flags, environment names,
** file keys, --check-config and the README table all come from it.
*/
#include "vmb/config.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <yaml.h>

#include "config_file.h"
#include "rundir.h"
#include "util.h"
#include "vmb/log.h"

enum setting_type { T_STR, T_BOOL, T_INT, T_DURATION, T_JSON_OBJ, T_URL, T_LEVEL };

enum origin { O_DEFAULT = 0, O_FILE, O_ENV, O_FLAG };
static const char *const origin_names[] = {"default", "file", "env", "flag"};

struct setting {
  const char *name;           /* environment name, e.g. VAULT_ADDR */
  enum setting_type type;
  size_t offset;              /* into struct vmb_config */
  const char *def;            /* default as text; NULL = unset */
  long min, max;              /* for T_INT / T_DURATION */
  int secret;                 /* redact in dumps, never echo in errors */
  const char *help;
};

#define S(name, type, field, def, min, max, secret, help) \
  {name, type, offsetof(struct vmb_config, field), def, min, max, secret, help}

static const struct setting settings[] = {
  S("HOST", T_STR, host, "127.0.0.1", 0, 0, 0, "address the stack listens on (informational for FastCGI)"),
  S("PORT", T_INT, port, "8089", 1, 65535, 0, "front port of the local stack"),
  S("LISTEN", T_STR, listen, "", 0, 0, 0, "FastCGI socket: host:port or /path.sock; empty = inherited fd 0"),
  S("THREADS", T_INT, threads, "0", 0, 1024, 0, "serving threads per process; 0 = number of cores"),
  S("BASE_PATH", T_STR, base_path, "", 0, 0, 0, "URL prefix the app is mounted under, stripped before routing"),
  S("MAX_BODY_BYTES", T_INT, max_body_bytes, "1048576", 1024, 67108864, 0, "largest request body accepted"),
  S("LOG_LEVEL", T_LEVEL, log_level, "info", 0, 0, 0, "debug, info, warn or error"),
  S("LOG_DIR", T_STR, log_dir, "./logs", 0, 0, 0, "directory of requests.log, responses.log, server.log"),
  S("RUN_DIR", T_STR, run_dir, "", 0, 0, 0, "private directory of the host-wide shared files; empty = $XDG_RUNTIME_DIR/vault-mcp-bridge, else /run/user/UID/vault-mcp-bridge, else /tmp/vault-mcp-bridge-UID"),
  S("EXPOSE_REST_ROUTES", T_BOOL, expose_rest_routes, "true", 0, 0, 0, "serve the REST operation routes and /whoami"),
  S("DEBUG_ROUTES_ENABLED", T_BOOL, debug_routes_enabled, "false", 0, 0, 0, "serve /echo-headers (public; for checking a web server set-up)"),
  S("CORS_ALLOW_ORIGINS", T_STR, cors_allow_origins, "", 0, 0, 0, "comma-separated browser origins allowed (CORS and MCP Origin check)"),
  S("PUBLIC_HOSTS", T_STR, public_hosts, "", 0, 0, 0, "comma-separated host[:port] names clients use for MCP besides loopback; * = any Host"),
  S("AUTH_API_KEY_ENABLED", T_BOOL, auth_api_key_enabled, "true", 0, 0, 0, "accept X-API-Key"),
  S("API_KEYS_JSON", T_JSON_OBJ, api_keys_json, "{}", 0, 0, 1, "{\"key\":\"subject\"} or {\"key\":{\"subject\":..,\"scopes\":[..]}}; keys may be sha256:<hex>"),
  S("AUTH_JWT_ENABLED", T_BOOL, auth_jwt_enabled, "true", 0, 0, 0, "accept Authorization: Bearer <JWT>"),
  S("JWT_ISSUER", T_STR, jwt_issuer, "mcp-auth", 0, 0, 0, "required iss"),
  S("JWT_AUDIENCE", T_STR, jwt_audience, "mcp-agents", 0, 0, 0, "required aud"),
  S("JWT_HS256_SECRET", T_STR, jwt_hs256_secret, "", 0, 0, 1, "HS256 secret (at least 32 bytes)"),
  S("JWT_JWKS_URL", T_URL, jwt_jwks_url, "", 0, 0, 0, "JWKS endpoint for RS256/ES256 keys (https)"),
  S("JWT_JWKS_ALLOW_HTTP_LOOPBACK", T_BOOL, jwt_jwks_allow_http_loopback, "false", 0, 0, 0, "accept an http:// JWKS_URL on a loopback address (tests, a local issuer)"),
  S("JWT_JWKS_FILE", T_STR, jwt_jwks_file, "", 0, 0, 0, "JWKS file for RS256/ES256 keys"),
  S("JWT_JWKS_CACHE_SECONDS", T_INT, jwt_jwks_cache_seconds, "300", 1, 86400, 0, "JWKS cache lifetime"),
  S("JWT_REQUIRE_KID", T_BOOL, jwt_require_kid, "false", 0, 0, 0, "refuse tokens without kid"),
  S("JWT_VALIDATE_ISSUER", T_BOOL, jwt_validate_issuer, "true", 0, 0, 0, "check iss"),
  S("JWT_VALIDATE_AUDIENCE", T_BOOL, jwt_validate_audience, "true", 0, 0, 0, "check aud"),
  S("OAUTH_AUTHORIZATION_SERVERS", T_STR, oauth_authorization_servers, "", 0, 0, 0, "comma-separated issuer URLs for RFC 9728 metadata"),
  S("AUTH_MTLS_ENABLED", T_BOOL, auth_mtls_enabled, "false", 0, 0, 0, "accept the web server's verified client certificate"),
  S("MTLS_IDENTITY_HEADER", T_STR, mtls_identity_header, "x-ssl-client-s-dn", 0, 0, 0, "DN header, honoured only with MTLS_TRUST_PROXY_HEADERS"),
  S("MTLS_VERIFY_HEADER", T_STR, mtls_verify_header, "x-ssl-client-verify", 0, 0, 0, "verify header, honoured only with MTLS_TRUST_PROXY_HEADERS"),
  S("MTLS_SUBJECT_CN_PREFIX", T_STR, mtls_subject_cn_prefix, "CN=", 0, 0, 0, "attribute that names the subject"),
  S("MTLS_TRUST_PROXY_HEADERS", T_BOOL, mtls_trust_proxy_headers, "false", 0, 0, 0, "trust DN headers set by a reverse proxy that strips client copies"),
  S("RATE_LIMIT_ENABLED", T_BOOL, rate_limit_enabled, "true", 0, 0, 0, "per-subject rate limit, host-wide"),
  S("RATE_LIMIT_REQUESTS", T_INT, rate_limit_requests, "60", 1, 100000000, 0, "requests per window"),
  S("AUTH_FAILURE_LIMIT", T_INT, auth_failure_limit, "30", 1, 1000000, 0, "refused credentials per client address per window, host-wide (then 429 before authentication)"),
  S("READYZ_RATE_LIMIT", T_INT, readyz_rate_limit, "120", 1, 1000000, 0, "/readyz calls per client address per window, host-wide"),
  S("RATE_LIMIT_WINDOW_SECONDS", T_INT, rate_limit_window_seconds, "60", 1, 86400, 0, "window length"),
  S("RATE_LIMIT_ON_BACKEND_ERROR", T_STR, rate_limit_on_backend_error, "allow", 0, 0, 0, "with REDIS_URL: allow or deny requests while Redis cannot be reached"),
  S("REDIS_URL", T_STR, redis_url, "", 0, 0, 1, "shared state for several hosts: redis://[user:password@]host[:port][/db], rediss:// (TLS), unix:///path.sock[?db=N]; empty = this host only"),
  S("REDIS_TIMEOUT_MS", T_INT, redis_timeout_ms, "200", 10, 60000, 0, "longest a request waits for Redis (connect, command and reply)"),
  S("REDIS_KEY_PREFIX", T_STR, redis_key_prefix, "vmb:", 0, 0, 0, "put before every key and channel the bridge uses in Redis"),
  S("REDIS_CACERT", T_STR, redis_cacert, "", 0, 0, 0, "CA bundle for rediss://; empty = the system's"),
  S("VAULT_ADDR", T_URL, vault_addr, "http://localhost:8200", 0, 0, 0, "Vault base URL"),
  S("VAULT_NAMESPACE", T_STR, vault_namespace, "", 0, 0, 0, "X-Vault-Namespace"),
  S("VAULT_TOKEN", T_STR, vault_token, "", 0, 0, 1, "Vault token"),
  S("VAULT_ROLE_ID", T_STR, vault_role_id, "", 0, 0, 0, "AppRole role_id"),
  S("VAULT_SECRET_ID", T_STR, vault_secret_id, "", 0, 0, 1, "AppRole secret_id"),
  S("VAULT_TIMEOUT_MS", T_INT, vault_timeout_ms, "5000", 50, 600000, 0, "total time a Vault call may take"),
  S("VAULT_CACERT", T_STR, vault_cacert, "", 0, 0, 0, "CA bundle for Vault's TLS"),
  S("VAULT_CAPATH", T_STR, vault_capath, "", 0, 0, 0, "CA directory for Vault's TLS"),
  S("VAULT_CLIENT_CERT", T_STR, vault_client_cert, "", 0, 0, 0, "client certificate for Vault"),
  S("VAULT_CLIENT_KEY", T_STR, vault_client_key, "", 0, 0, 1, "client key for Vault"),
  S("VAULT_SKIP_VERIFY", T_BOOL, vault_skip_verify, "false", 0, 0, 0, "development only: do not verify Vault's certificate"),
  S("KV_MOUNT", T_STR, kv_mount, "secret", 0, 0, 0, "KV v2 mount"),
  S("DEFAULT_PREFIX", T_STR, default_prefix, "mcp", 0, 0, 0, "KV prefix above the per-subject folders"),
  S("TRANSIT_MOUNT", T_STR, transit_mount, "transit", 0, 0, 0, "Transit mount"),
  S("DATABASE_MOUNT", T_STR, database_mount, "database", 0, 0, 0, "Database mount"),
  S("SSH_MOUNT", T_STR, ssh_mount, "ssh", 0, 0, 0, "SSH mount"),
  S("CHILD_TOKEN_ENABLED", T_BOOL, child_token_enabled, "true", 0, 0, 0, "run Vault calls under a per-subject child token"),
  S("CHILD_TOKEN_TTL", T_DURATION, child_token_ttl, "90s", 10, 86400, 0, "child token TTL"),
  S("CHILD_TOKEN_POLICY_PREFIX", T_STR, child_token_policy_prefix, "mcp-agent-", 0, 0, 0, "child token policy = prefix + folded subject + '-' + hash (docs/registry.md)"),
  S("DB_LEASE_TOKEN_TTL", T_DURATION, db_lease_token_ttl, "24h", 10, 2764800, 0, "with child tokens: db.issue_creds runs under its own token of this TTL (the subject's policy only), so the credentials live as long as their lease, up to this bound (docs/operations.md)"),
  S("DB_LEASE_TOKEN_ORPHAN", T_BOOL, db_lease_token_orphan, "true", 0, 0, 0, "make that token an orphan, so the credentials also outlive the bridge's own token (an AppRole re-login); false = a child of the bridge's token"),
  S("REGISTRY_ENABLED", T_BOOL, registry_enabled, "true", 0, 0, 0, "subject registry in Vault KV (admin API, grants per subject); false = DEFAULT_GRANTS_JSON for everyone"),
  S("ADMIN_PREFIX", T_STR, admin_prefix, "mcp-admin", 0, 0, 0, "KV folder of the subject registry (never reachable by agents)"),
  S("DEFAULT_GRANTS_JSON", T_JSON_OBJ, default_grants_json, "{}", 0, 0, 0, "grants of subjects without a registry record, e.g. {\"transit_keys\": [\"k\"], \"db_roles\": [], \"ssh_roles\": [], \"kms_keys\": []}"),
  S("REGISTRY_REFRESH_SECONDS", T_INT, registry_refresh_seconds, "30", 1, 86400, 0, "reload the registry at least this often (changes from other hosts)"),
  S("WRAP_TTL_MAX", T_DURATION, wrap_ttl_max, "10m", 1, 86400, 0, "longest wrap_ttl a caller may ask for (response wrapping)"),
  S("WRAP_UNWRAP_ANY_SUBJECT", T_BOOL, wrap_unwrap_any_subject, "false", 0, 0, 0, "let any subject unwrap or look up a wrap, not only the subject that created it"),
  S("AWS_KMS_ENABLED", T_BOOL, aws_kms_enabled, "false", 0, 0, 0, "enable the KMS routes"),
  S("KMS_ALLOW_CALLER_CREDENTIALS", T_BOOL, kms_allow_caller_credentials, "false", 0, 0, 0, "let admin-scope callers send temporary AWS credentials (aws_access_key_id, aws_secret_access_key, aws_session_token) for one kms.* call; used once, never stored or logged"),
  S("AWS_REGION", T_STR, aws_region, "", 0, 0, 0, "AWS region"),
  S("AWS_KMS_DEFAULT_KEY_ID", T_STR, aws_kms_default_key_id, "", 0, 0, 0, "default KMS key"),
  S("AWS_KMS_ENDPOINT", T_URL, aws_kms_endpoint, "", 0, 0, 0, "KMS endpoint override"),
  S("AWS_ACCESS_KEY_ID", T_STR, aws_access_key_id, "", 0, 0, 0, "AWS access key id"),
  S("AWS_SECRET_ACCESS_KEY", T_STR, aws_secret_access_key, "", 0, 0, 1, "AWS secret key"),
  S("AWS_SESSION_TOKEN", T_STR, aws_session_token, "", 0, 0, 1, "AWS session token"),
  S("AWS_PROFILE", T_STR, aws_profile, "default", 0, 0, 0, "profile in the shared credentials file"),
  S("AWS_SHARED_CREDENTIALS_FILE", T_STR, aws_shared_credentials_file, "", 0, 0, 0, "shared credentials file (default ~/.aws/credentials)"),
  S("MCP_SSE_KEEPALIVE_SECONDS", T_INT, mcp_sse_keepalive_seconds, "15", 1, 300, 0, "SSE keepalive interval"),
  S("MCP_MAX_STREAMS_PER_SUBJECT", T_INT, mcp_max_streams_per_subject, "16", 1, 10000, 0, "open event streams (/mcp/sse and subscriptions/listen) per subject, host-wide"),
  S("MCP_MAX_STREAMS_PER_PROCESS", T_INT, mcp_max_streams_per_process, "10000", 1, 60000, 0, "open event streams per responder process (parked in its event loop, no thread each); lowered at start-up to what RLIMIT_NOFILE allows"),
  S("MCP_STREAM_BUFFER_BYTES", T_INT, mcp_stream_buffer_bytes, "65536", 4096, 16777216, 0, "output waiting for one slow stream reader before the stream is closed with a final stream.closed event"),
  S("MCP_TOOL_NAMES_DOTTED", T_BOOL, mcp_tool_names_dotted, "false", 0, 0, 0, "list MCP tools as kv.read instead of kv_read (both are accepted)"),
  S("MCP_LIST_TTL_MS", T_INT, mcp_list_ttl_ms, "300000", 0, 86400000, 0, "ttlMs caching hint on 2026-07-28 list results"),
  S("OTEL_EXPORTER_OTLP_ENDPOINT", T_URL, otel_exporter_otlp_endpoint, "", 0, 0, 0, "OTLP/HTTP collector; empty = tracing off"),
  S("OTEL_SERVICE_NAME", T_STR, otel_service_name, "vault-mcp", 0, 0, 0, "service.name of spans"),
  S("METRICS_PREFIX", T_STR, metrics_prefix, "", 0, 0, 0, "prefix of every metric name on /metrics, e.g. vault_mcp_"),
  S("HEALTH_PROBE_SECONDS", T_INT, health_probe_seconds, "15", 0, 3600, 0, "interval of the background Vault/KMS probe behind vault_up and kms_up; 0 = off"),
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find_setting(const char *name, size_t n)
{
  size_t i, j;
  for(i = 0; i < N_SETTINGS; i++) {
    const char *s = settings[i].name;
    if(strlen(s) != n)
      continue;
    for(j = 0; j < n; j++) {
      char c = name[j];
      if(c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
      if(c == '-')
        c = '_';
      if(c != s[j])
        break;
    }
    if(j == n)
      return &settings[i];
  }
  return NULL;
}

static int parse_bool(const char *v, bool *out)
{
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  size_t i;
  for(i = 0; i < 4; i++) {
    if(!strcasecmp(v, yes[i])) { *out = true; return 0; }
    if(!strcasecmp(v, no[i])) { *out = false; return 0; }
  }
  return -1;
}

/* "90", "90s", "2m", "1h" -> seconds. */
static int parse_duration(const char *v, long *out)
{
  char num[32];
  size_t n = strlen(v);
  long mult = 1, x;
  if(n == 0 || n >= sizeof(num))
    return -1;
  memcpy(num, v, n + 1);
  switch(num[n - 1]) {
  case 's': mult = 1; num[--n] = '\0'; break;
  case 'm': mult = 60; num[--n] = '\0'; break;
  case 'h': mult = 3600; num[--n] = '\0'; break;
  default: break;
  }
  if(vmb_parse_long(num, 0, 100000000, &x))
    return -1;
  *out = x * mult;
  return 0;
}

static bool has_ctl(const char *v)
{
  for(; *v; v++)
    if((unsigned char)*v < 0x20 || *v == 0x7f)
      return true;
  return false;
}

/* Set one setting from text. On error writes a message that names the
   setting and the source, and never the value of a secret. */
static int set_value(struct vmb_config *cfg, const struct setting *s,
                     const char *v, enum origin from, char *err, size_t errlen)
{
  char *base = (char *)cfg;
  const char *why = NULL;
  char range[96];
  switch(s->type) {
  case T_BOOL: {
    bool b;
    if(parse_bool(v, &b)) { why = "expected true or false"; break; }
    *(bool *)(base + s->offset) = b;
    break;
  }
  case T_INT: {
    long x;
    if(vmb_parse_long(v, s->min, s->max, &x)) {
      snprintf(range, sizeof(range), "expected an integer in %ld..%ld", s->min, s->max);
      why = range;
      break;
    }
    *(long *)(base + s->offset) = x;
    break;
  }
  case T_DURATION: {
    long x;
    if(parse_duration(v, &x) || x < s->min || x > s->max) {
      snprintf(range, sizeof(range), "expected a duration such as 90s, 5m or 1h, "
               "in %lds..%lds", s->min, s->max);
      why = range;
      break;
    }
    *(long *)(base + s->offset) = x;
    break;
  }
  case T_LEVEL:
    if(vmb_log_level_parse(v) < 0) { why = "expected debug, info, warn or error"; break; }
    goto store;
  case T_URL:
    if(*v && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) { why = "expected an http:// or https:// URL"; break; }
    if(has_ctl(v) || strchr(v, ' ')) { why = "control characters or spaces are not allowed"; break; }
    goto store;
  case T_JSON_OBJ: {
    json_object *o = vmb_json_parse(v, strlen(v), 16);
    bool ok = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    if(!ok) { why = "expected a JSON object"; break; }
    goto store;
  }
  case T_STR:
  store: {
    char **slot = (char **)(base + s->offset);
    char *copy;
    if(s->type == T_STR && has_ctl(v)) { why = "control characters are not allowed"; break; }
    copy = strdup(v);
    if(!copy) { why = "out of memory"; break; }
    free(*slot);
    *slot = copy;
    break;
  }
  }
  if(why) {
    if(s->secret || s->type == T_JSON_OBJ)
      snprintf(err, errlen, "invalid configuration: %s (from %s): %s", s->name,
               origin_names[from], why);
    else
      snprintf(err, errlen, "invalid configuration: %s (from %s): %s, got \"%.80s\"",
               s->name, origin_names[from], why, v);
    return -1;
  }
  cfg->origin[s - settings] = (unsigned char)from;
  return 0;
}

/* Callback from the file parsers: one top-level key with its value as
   text (objects and arrays arrive as JSON text). */
static int file_entry(void *ud, const char *key, const char *value,
                      char *err, size_t errlen)
{
  struct vmb_config *cfg = ud;
  const struct setting *s = find_setting(key, strlen(key));
  if(!s) {
    snprintf(err, errlen, "invalid configuration: unknown setting \"%.64s\" (from file)", key);
    return -1;
  }
  return set_value(cfg, s, value, O_FILE, err, errlen);
}

static const char *file_ext(const char *path)
{
  const char *dot = strrchr(path, '.');
  return dot ? dot + 1 : "";
}

static int load_file_at(struct vmb_config *cfg, const char *path,
                        char *err, size_t errlen);

/* Reads the config file, if any, and records its path in cfg. Any error
   about the file names the file, so an operator with several candidates
   (APP_CONFIG_FILE, ./config.*) knows which one was read. */
static int load_file(struct vmb_config *cfg, char *err, size_t errlen)
{
  static const char prefix[] = "invalid configuration: ";
  char inner[512];
  int rc = load_file_at(cfg, NULL, inner, sizeof(inner));
  if(rc == 0)
    return 0;
  if(!cfg->config_file || strstr(inner, cfg->config_file))
    snprintf(err, errlen, "%s", inner);
  else if(!strncmp(inner, prefix, sizeof(prefix) - 1))
    snprintf(err, errlen, "%sconfig file %.200s: %s", prefix, cfg->config_file,
             inner + sizeof(prefix) - 1);
  else
    snprintf(err, errlen, "config file %.200s: %s", cfg->config_file, inner);
  return rc;
}

static int load_file_at(struct vmb_config *cfg, const char *path,
                        char *err, size_t errlen)
{
  static const char *const auto_names[] = {"config.json", "config.yaml",
                                           "config.yml", "config.toml"};
  const char *ext;
  size_t i;
  if(!path)
    path = getenv("APP_CONFIG_FILE");
  if(!path || !*path) {
    path = NULL;
    for(i = 0; i < sizeof(auto_names) / sizeof(auto_names[0]); i++)
      if(access(auto_names[i], R_OK) == 0) {
        path = auto_names[i];
        break;
      }
    if(!path)
      return 0;
  }
  cfg->config_file = strdup(path);
  if(!cfg->config_file) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  ext = file_ext(path);
  if(!strcasecmp(ext, "json"))
    return vmb_config_file_json(path, file_entry, cfg, err, errlen);
  if(!strcasecmp(ext, "yaml") || !strcasecmp(ext, "yml"))
    return vmb_config_file_yaml(path, file_entry, cfg, err, errlen);
  if(!strcasecmp(ext, "toml"))
    return vmb_config_file_toml(path, file_entry, cfg, err, errlen);
  snprintf(err, errlen, "invalid configuration: APP_CONFIG_FILE: unknown "
           "format \"%.16s\" (use .json, .yaml or .toml)", ext);
  return -1;
}

/* Cross-field rules, run once every source is applied. */
static int validate(const struct vmb_config *cfg, char *err, size_t errlen)
{
  {
    /* A Prometheus metric name prefix, or nothing. */
    const char *p = cfg->metrics_prefix;
    size_t k;
    for(k = 0; p && p[k]; k++) {
      char c = p[k];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                c == ':' || (k > 0 && c >= '0' && c <= '9');
      if(!ok || k >= 48) {
        snprintf(err, errlen, "invalid configuration: METRICS_PREFIX: must match "
                 "[a-zA-Z_:][a-zA-Z0-9_:]* and be at most 48 bytes");
        return -1;
      }
    }
  }
  if(cfg->auth_jwt_enabled && *cfg->jwt_hs256_secret &&
     strlen(cfg->jwt_hs256_secret) < 32) {
    snprintf(err, errlen, "invalid configuration: JWT_HS256_SECRET (from %s): "
             "must be at least 32 bytes",
             origin_names[cfg->origin[find_setting("JWT_HS256_SECRET", 16) - settings]]);
    return -1;
  }
  if(*cfg->vault_role_id && !*cfg->vault_secret_id) {
    snprintf(err, errlen, "invalid configuration: VAULT_SECRET_ID: required "
             "when VAULT_ROLE_ID is set");
    return -1;
  }
  if(!*cfg->kv_mount || strchr(cfg->kv_mount, '/') || !*cfg->default_prefix) {
    snprintf(err, errlen, "invalid configuration: KV_MOUNT/DEFAULT_PREFIX: "
             "must be non-empty single path segments");
    return -1;
  }
  if(!*cfg->admin_prefix || strchr(cfg->admin_prefix, '/') ||
     (!strncmp(cfg->admin_prefix, cfg->default_prefix, strlen(cfg->admin_prefix)) &&
      (cfg->default_prefix[strlen(cfg->admin_prefix)] == '\0' ||
       cfg->default_prefix[strlen(cfg->admin_prefix)] == '/'))) {
    snprintf(err, errlen, "invalid configuration: ADMIN_PREFIX: must be a "
             "non-empty single path segment other than the first segment of "
             "DEFAULT_PREFIX (agents must never reach the registry)");
    return -1;
  }
  if(!*cfg->child_token_policy_prefix) {
    snprintf(err, errlen, "invalid configuration: CHILD_TOKEN_POLICY_PREFIX: "
             "must not be empty (agent policies would collide with others)");
    return -1;
  }
  if(strcmp(cfg->rate_limit_on_backend_error, "allow") &&
     strcmp(cfg->rate_limit_on_backend_error, "deny")) {
    snprintf(err, errlen, "invalid configuration: RATE_LIMIT_ON_BACKEND_ERROR: "
             "must be allow or deny");
    return -1;
  }
  /* The rest of REDIS_URL is parsed by upstream/redis.c at start-up; the
     scheme is checked here so --check-config catches a typo. Never echo
     the value: it may carry a password. */
  if(*cfg->redis_url && strncmp(cfg->redis_url, "redis://", 8) &&
     strncmp(cfg->redis_url, "rediss://", 9) && strncmp(cfg->redis_url, "unix://", 7)) {
    snprintf(err, errlen, "invalid configuration: REDIS_URL: must start with "
             "redis://, rediss:// or unix://");
    return -1;
  }
  if(strlen(cfg->redis_key_prefix) > 64) {
    snprintf(err, errlen, "invalid configuration: REDIS_KEY_PREFIX: at most 64 bytes");
    return -1;
  }
  if(*cfg->base_path && (cfg->base_path[0] != '/' ||
     cfg->base_path[strlen(cfg->base_path) - 1] == '/')) {
    snprintf(err, errlen, "invalid configuration: BASE_PATH: must start "
             "with '/' and not end with one");
    return -1;
  }
  return 0;
}

int vmb_config_load(struct vmb_config *cfg, int argc, char **argv,
                    char *err, size_t errlen)
{
  size_t i;
  int a;
  memset(cfg, 0, sizeof(*cfg));
  cfg->origin = calloc(N_SETTINGS, 1);
  if(!cfg->origin) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for(i = 0; i < N_SETTINGS; i++)
    if(settings[i].def &&
       set_value(cfg, &settings[i], settings[i].def, O_DEFAULT, err, errlen))
      goto fail;
  if(load_file(cfg, err, errlen))
    goto fail;
  for(i = 0; i < N_SETTINGS; i++) {
    const char *v = getenv(settings[i].name);
    if(v && set_value(cfg, &settings[i], v, O_ENV, err, errlen))
      goto fail;
  }
  for(a = 1; a < argc; a++) {
    const char *arg = argv[a], *eq, *val;
    const struct setting *s;
    size_t nlen;
    if(strncmp(arg, "--", 2))
      continue;
    arg += 2;
    eq = strchr(arg, '=');
    nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    s = find_setting(arg, nlen);
    if(!s)
      continue;   /* not a setting: the caller's flag */
    if(eq)
      val = eq + 1;
    else if(a + 1 < argc)
      val = argv[++a];
    else {
      snprintf(err, errlen, "invalid configuration: %s (from flag): missing value", s->name);
      goto fail;
    }
    if(set_value(cfg, s, val, O_FLAG, err, errlen))
      goto fail;
  }
  if(!*cfg->run_dir) {
    /* A private per-user default, never one shared /tmp name another
       local user could create first (issue 13). */
    char dir[4096], *copy;
    if(vmb_rundir_default(dir, sizeof(dir)) || !(copy = strdup(dir))) {
      snprintf(err, errlen, "RUN_DIR: cannot work out a default; set RUN_DIR");
      goto fail;
    }
    free(cfg->run_dir);
    cfg->run_dir = copy;
  }
  if(validate(cfg, err, errlen))
    goto fail;
  return 0;
fail:
  vmb_config_free(cfg);
  return -1;
}

void vmb_config_forget_vault_credentials(struct vmb_config *cfg)
{
  char *const slots[] = {cfg->vault_token, cfg->vault_secret_id};
  size_t i;
  for(i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
    if(slots[i]) {
      OPENSSL_cleanse(slots[i], strlen(slots[i]));
      slots[i][0] = '\0';
    }
}

void vmb_config_free(struct vmb_config *cfg)
{
  size_t i;
  for(i = 0; i < N_SETTINGS; i++) {
    if(settings[i].type == T_STR || settings[i].type == T_URL ||
       settings[i].type == T_JSON_OBJ || settings[i].type == T_LEVEL) {
      char **slot = (char **)((char *)cfg + settings[i].offset);
      if(*slot) {
        explicit_bzero(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
      }
    }
  }
  free(cfg->origin);
  cfg->origin = NULL;
  free(cfg->config_file);
  cfg->config_file = NULL;
}

char *vmb_config_dump(const struct vmb_config *cfg)
{
  json_object *root = json_object_new_object();
  char *out = NULL;
  size_t i;
  if(!root)
    return NULL;
  /* Which file was read: lower case, so it never collides with a setting. */
  json_object_object_add(root, "config_file", cfg->config_file
                         ? json_object_new_string(cfg->config_file) : NULL);
  for(i = 0; i < N_SETTINGS; i++) {
    const struct setting *s = &settings[i];
    const char *base = (const char *)cfg;
    json_object *entry = json_object_new_object(), *val = NULL;
    switch(s->type) {
    case T_BOOL:
      val = json_object_new_boolean(*(const bool *)(base + s->offset));
      break;
    case T_INT:
    case T_DURATION:
      val = json_object_new_int64(*(const long *)(base + s->offset));
      break;
    default: {
      const char *str = *(char *const *)(base + s->offset);
      if(s->secret && str && *str && strcmp(str, "{}"))
        val = json_object_new_string("<redacted>");
      else
        val = json_object_new_string(str ? str : "");
      break;
    }
    }
    json_object_object_add(entry, "value", val);
    json_object_object_add(entry, "source",
                           json_object_new_string(origin_names[cfg->origin[i]]));
    json_object_object_add(root, s->name, entry);
  }
  out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                              JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(root);
  return out;
}

int vmb_config_is_flag(const char *name, size_t n)
{
  return find_setting(name, n) != NULL;
}

void vmb_config_print_flags(void *stream)
{
  FILE *f = stream;
  size_t i, j;
  for(i = 0; i < N_SETTINGS; i++) {
    char flag[64];
    const char *n = settings[i].name;
    for(j = 0; n[j] && j < sizeof(flag) - 1; j++)
      flag[j] = n[j] == '_' ? '-' : (char)(n[j] - 'A' >= 0 && n[j] <= 'Z' && n[j] >= 'A' ? n[j] - 'A' + 'a' : n[j]);
    flag[j] = '\0';
    /* Ranges as docs/configuration.md describes them: integers are
       checked against min..max, durations in seconds. */
    if(settings[i].type == T_INT)
      fprintf(f, "  --%-30s %s (env %s, default \"%s\", range %ld..%ld)\n", flag,
              settings[i].help, n, settings[i].def ? settings[i].def : "",
              settings[i].min, settings[i].max);
    else if(settings[i].type == T_DURATION)
      fprintf(f, "  --%-30s %s (env %s, default \"%s\", range %lds..%lds)\n", flag,
              settings[i].help, n, settings[i].def ? settings[i].def : "",
              settings[i].min, settings[i].max);
    else
      fprintf(f, "  --%-30s %s (env %s, default \"%s\")\n", flag, settings[i].help,
              n, settings[i].def ? settings[i].def : "");
  }
}
