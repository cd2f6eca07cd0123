/*
** ops_table.c - THE operation table (SPEC section 4, CONVENTIONS P1).
**
** Adding an operation means adding one row here (and its handler in the
** backend's file); REST, MCP, OpenAPI and metrics follow from the row.
*/
#include "api.h"
#include "backends.h"
#include "mcp.h"
#include "ops_table.h"

static const struct vmb_arg no_args[] = {{0}};

/* observability.c: the log tail (issue 9). */
static const struct vmb_arg obs_logs_args[] = {
  {.name = "stream", .type = VMB_ARG_STRING, .flags = VMB_ARG_REQUIRED | VMB_ARG_IN_PATH,
   .min = 1, .max = 16, .enum_values = "requests|responses|server",
   .description = "Which log file: requests, responses or server."},
  {.name = "lines", .type = VMB_ARG_INTEGER, .flags = VMB_ARG_IN_QUERY, .min = 1,
   .max = 1000, .description = "How many lines from the end (default 100)."},
  {0}
};

/* Argument lists. Names follow the REST bodies; MCP tools use the same. */
#define ARG_PATH {"path", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_IN_PATH, 1, 512, NULL, \
                  "Secret path relative to the caller's namespace, e.g. app/db"}
#define ARG_VERSIONS {"versions", VMB_ARG_INT_ARRAY, VMB_ARG_REQUIRED, 0, 100, NULL, \
                      "Version numbers"}
/* Response wrapping (backend_wrap.c, docs/wrapping.md): every operation
   that returns secret material takes wrap_ttl; the row then names the
   wrapping steps (WRAPPABLE) that run around its handler. */
#define WRAP_TTL_TEXT "Wrap the answer: seconds or a duration (60s, 5m; at most " \
                      "WRAP_TTL_MAX). The answer is then {wrap_info} with a single-use " \
                      "token for wrap.unwrap, and no secret."
#define ARG_WRAP_TTL {"wrap_ttl", VMB_ARG_STRING, 0, 1, 16, NULL, WRAP_TTL_TEXT}
#define ARG_WRAP_TTL_Q {"wrap_ttl", VMB_ARG_STRING, VMB_ARG_IN_QUERY, 1, 16, NULL, WRAP_TTL_TEXT}
#define WRAPPABLE .before = vmb_wrap_before, .after = vmb_wrap_after
static const struct vmb_arg wrap_token_args[] = {
  {"token", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 256, NULL,
   "Wrapping token from wrap_info.token"},
  {0}};

static const struct vmb_arg kv_read_args[] = {
  ARG_PATH, ARG_WRAP_TTL_Q,
  {"version", VMB_ARG_INTEGER, VMB_ARG_IN_QUERY, 1, 2147483647L, NULL,
   "Version to read; the latest when omitted"},
  {0}};
static const struct vmb_arg kv_write_args[] = {
  ARG_PATH,
  {"data", VMB_ARG_OBJECT, VMB_ARG_REQUIRED, 0, 0, NULL, "Key/value pairs to store"},
  {"cas", VMB_ARG_INTEGER, 0, 0, 2147483647L, NULL,
   "Check-and-set: 0 = only create; N = only if the current version is N"},
  {0}};
static const struct vmb_arg kv_list_args[] = {
  {"prefix", VMB_ARG_STRING, VMB_ARG_IN_QUERY, 0, 512, NULL,
   "Folder to list, relative to the caller's namespace; the root when omitted"},
  {0}};
static const struct vmb_arg kv_path_args[] = {ARG_PATH, {0}};
static const struct vmb_arg kv_versions_args[] = {ARG_PATH, ARG_VERSIONS, {0}};

/* Transit, database and SSH (backend_transit.c, backend_db.c,
   backend_ssh.c). Names in a Vault path (key, role) are checked again by
   the handler for their charset; lengths and encodings are checked here. */
#define ARG_TKEY {"key", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 128, NULL, \
                  "Transit key name ([A-Za-z0-9_.-])"}
#define ARG_CONTEXT {"context", VMB_ARG_STRING, VMB_ARG_BASE64, 0, 4096, NULL, \
                     "Base64 key-derivation context (derived keys only)"}
#define ARG_CIPHERTEXT {"ciphertext", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 2097152, NULL, \
                        "Ciphertext as returned by encrypt (vault:vN:...)"}
#define ARG_INPUT {"input", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_BASE64, 0, 1048576, \
                   NULL, "Base64 of the data"}
#define ARG_HASH {"hash_algorithm", VMB_ARG_STRING, 0, 1, 16, \
                  "sha1|sha2-224|sha2-256|sha2-384|sha2-512|sha3-224|sha3-256|sha3-384|sha3-512|none", \
                  "Hash applied before signing (ignored by ed25519 keys)"}
#define ARG_SIGALG {"signature_algorithm", VMB_ARG_STRING, 0, 1, 16, "pss|pkcs1v15", \
                    "RSA padding scheme (RSA keys only)"}
#define ARG_MARSHAL {"marshaling_algorithm", VMB_ARG_STRING, 0, 1, 8, "asn1|jws", \
                     "Signature encoding: asn1 (default) or jws"}
#define ARG_ROLE(what) {"role", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 128, NULL, what}
static const struct vmb_arg transit_encrypt_args[] = {
  ARG_TKEY,
  {"plaintext", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_BASE64, 0, 1048576, NULL,
   "Base64 of the data to encrypt"},
  ARG_CONTEXT,
  {"key_version", VMB_ARG_INTEGER, 0, 0, 2147483647L, NULL,
   "Key version to encrypt with; 0 or absent = the latest"},
  {0}};
static const struct vmb_arg transit_decrypt_args[] = {
  ARG_TKEY, ARG_CIPHERTEXT, ARG_CONTEXT, ARG_WRAP_TTL, {0}};
static const struct vmb_arg transit_rewrap_args[] = {
  ARG_TKEY, ARG_CIPHERTEXT, ARG_CONTEXT, {0}};
static const struct vmb_arg transit_sign_args[] = {
  ARG_TKEY, ARG_INPUT, ARG_HASH, ARG_SIGALG, ARG_MARSHAL, {0}};
static const struct vmb_arg transit_verify_args[] = {
  ARG_TKEY, ARG_INPUT,
  {"signature", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 16384, NULL,
   "Signature as returned by sign (vault:vN:...)"},
  ARG_HASH, ARG_SIGALG, ARG_MARSHAL, {0}};
static const struct vmb_arg transit_hmac_args[] = {
  ARG_TKEY, ARG_INPUT,
  {"algorithm", VMB_ARG_STRING, 0, 1, 16,
   "sha2-224|sha2-256|sha2-384|sha2-512|sha3-224|sha3-256|sha3-384|sha3-512",
   "Hash of the HMAC (default sha2-256)"},
  {0}};
static const struct vmb_arg transit_random_args[] = {
  {"bytes", VMB_ARG_INTEGER, VMB_ARG_IN_QUERY, 1, 1024, NULL,
   "How many random bytes (1..1024, default 32)"},
  {"format", VMB_ARG_STRING, VMB_ARG_IN_QUERY, 1, 6, "base64|hex",
   "Encoding of the result (default base64)"},
  {0}};
static const struct vmb_arg db_creds_args[] = {
  {"role", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_IN_PATH, 1, 128, NULL,
   "Database role to issue credentials for"},
  ARG_WRAP_TTL, {0}};
#define ARG_LEASE {"lease_id", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 512, NULL, \
                   "Lease id of database credentials ({DATABASE_MOUNT}/creds/<role>/<id>)"}
static const struct vmb_arg db_renew_args[] = {
  ARG_LEASE,
  {"increment", VMB_ARG_INTEGER, 0, 0, 315360000L, NULL,
   "Requested new TTL in seconds; 0 or absent = the role's default"},
  {0}};
static const struct vmb_arg db_revoke_args[] = {ARG_LEASE, {0}};
static const struct vmb_arg ssh_otp_args[] = {
  ARG_ROLE("SSH role of key type otp"),
  {"ip", VMB_ARG_STRING, VMB_ARG_REQUIRED, 2, 45, NULL, "IPv4 or IPv6 address of the host"},
  {"username", VMB_ARG_STRING, 0, 1, 256, NULL, "Login name; the role's default when absent"},
  {"port", VMB_ARG_INTEGER, 0, 1, 65535, NULL,
   "Expected SSH port; the role decides it, a mismatch is reported as a warning"},
  ARG_WRAP_TTL, {0}};
static const struct vmb_arg ssh_sign_args[] = {
  ARG_ROLE("SSH role of key type ca"),
  {"public_key", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 16384, NULL,
   "OpenSSH public key to certify (one authorized_keys line)"},
  {"cert_type", VMB_ARG_STRING, 0, 1, 4, "user|host", "Certificate type (default user)"},
  {"valid_principals", VMB_ARG_STRINGS, 0, 0, 64, NULL,
   "Principals: an array or a comma-separated string"},
  {"ttl", VMB_ARG_STRING, 0, 1, 16, NULL, "Validity, e.g. 30m or 3600 (role default when absent)"},
  {"key_id", VMB_ARG_STRING, 0, 1, 256, NULL, "Key id (only if the role allows it)"},
  ARG_WRAP_TTL, {0}};

/* AWS KMS (backend_kms.c). Base64 lengths bound the encoded text (4096
   bytes encode to 5464 characters, 6144 to 8192); the handler checks the
   decoded sizes against KMS's limits. */
#define ARG_KMS_KEY {"key_id", VMB_ARG_STRING, 0, 1, 2048, NULL, \
                     "KMS key id, ARN or alias/<name>; AWS_KMS_DEFAULT_KEY_ID when absent"}
#define ARG_KMS_CONTEXT {"encryption_context", VMB_ARG_OBJECT, 0, 0, 0, NULL, \
                         "Encryption context: an object of string values"}
#define ARG_KMS_GRANTS {"grant_tokens", VMB_ARG_STRING_ARRAY, 0, 0, 10, NULL, \
                        "KMS grant tokens (up to 10)"}
#define ARG_KMS_MESSAGE {"message", VMB_ARG_STRING, VMB_ARG_BASE64, 1, 5464, NULL, \
                         "Base64 of the message (1..4096 bytes)"}
#define ARG_KMS_DIGEST {"message_digest", VMB_ARG_STRING, VMB_ARG_BASE64, 1, 5464, NULL, \
                        "Base64 of a digest computed by the caller (instead of message)"}
#define ARG_KMS_SIGALG {"signing_algorithm", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 32, \
                        "RSASSA_PSS_SHA_256|RSASSA_PSS_SHA_384|RSASSA_PSS_SHA_512|" \
                        "RSASSA_PKCS1_V1_5_SHA_256|RSASSA_PKCS1_V1_5_SHA_384|" \
                        "RSASSA_PKCS1_V1_5_SHA_512|ECDSA_SHA_256|ECDSA_SHA_384|" \
                        "ECDSA_SHA_512|SM2DSA", "KMS signing algorithm"}
#define ARG_KMS_MSGTYPE {"message_type", VMB_ARG_STRING, 0, 1, 6, "RAW|DIGEST", \
                         "RAW (default with message) or DIGEST (implied by message_digest)"}
/* Temporary AWS credentials for this one call (issue 14, console KMS
   page): only with KMS_ALLOW_CALLER_CREDENTIALS=true and the admin scope;
   backend_kms.c checks both, signs with them instead of the configured
   credentials and wipes them. Argument values are never logged (the gate
   logs descriptors only), so these need no extra marking. */
#define CALLER_CREDS_TEXT "; used for this request only, never stored or logged " \
                          "(admin scope and KMS_ALLOW_CALLER_CREDENTIALS=true)"
#define ARG_KMS_CREDS \
  {"aws_access_key_id", VMB_ARG_STRING, 0, 16, 128, NULL, \
   "Temporary AWS access key id ([A-Z0-9]{16,128})" CALLER_CREDS_TEXT}, \
  {"aws_secret_access_key", VMB_ARG_STRING, 0, 1, 128, NULL, \
   "Its secret access key" CALLER_CREDS_TEXT}, \
  {"aws_session_token", VMB_ARG_STRING, 0, 1, 4000, NULL, \
   "Its session token, sent as X-Amz-Security-Token" CALLER_CREDS_TEXT}
static const struct vmb_arg kms_encrypt_args[] = {
  {"plaintext", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_BASE64, 1, 5464, NULL,
   "Base64 of the data to encrypt (1..4096 bytes)"},
  ARG_KMS_KEY, ARG_KMS_CONTEXT, ARG_KMS_GRANTS, ARG_KMS_CREDS, {0}};
static const struct vmb_arg kms_decrypt_args[] = {
  {"ciphertext", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_BASE64, 1, 8192, NULL,
   "Base64 CiphertextBlob as returned by kms.encrypt"},
  ARG_KMS_CONTEXT, ARG_KMS_GRANTS, ARG_KMS_KEY, ARG_WRAP_TTL, ARG_KMS_CREDS, {0}};
static const struct vmb_arg kms_data_key_args[] = {
  ARG_KMS_KEY,
  {"key_spec", VMB_ARG_STRING, 0, 1, 8, "AES_256|AES_128",
   "Data key length as a spec (default AES_256)"},
  {"number_of_bytes", VMB_ARG_INTEGER, 0, 1, 1024, NULL,
   "Data key length in bytes (instead of key_spec)"},
  ARG_KMS_CONTEXT, ARG_KMS_GRANTS, ARG_WRAP_TTL, ARG_KMS_CREDS, {0}};
static const struct vmb_arg kms_sign_args[] = {
  ARG_KMS_KEY, ARG_KMS_MESSAGE, ARG_KMS_DIGEST, ARG_KMS_SIGALG, ARG_KMS_MSGTYPE,
  ARG_KMS_GRANTS, ARG_KMS_CREDS, {0}};
static const struct vmb_arg kms_verify_args[] = {
  ARG_KMS_KEY,
  {"signature", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_BASE64, 1, 8192, NULL,
   "Base64 signature as returned by kms.sign"},
  ARG_KMS_MESSAGE, ARG_KMS_DIGEST, ARG_KMS_SIGALG, ARG_KMS_MSGTYPE, ARG_KMS_GRANTS, ARG_KMS_CREDS, {0}};

/* The admin API on the subject registry (admin.c, docs/registry.md).
   Writable fields are the same for create and patch; create also needs
   the subject in the body. */
#define ADMIN_SUBJECT_PATH {"subject", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_IN_PATH, 1, \
                            128, NULL, "Subject name ([A-Za-z0-9._@-], 1..128)"}
#define ADMIN_FIELDS \
  {"description", VMB_ARG_STRING, 0, 0, 512, NULL, "Free text for operators"}, \
  {"enabled", VMB_ARG_BOOLEAN, 0, 0, 0, NULL, "A disabled subject is refused (403)"}, \
  {"expires_at", VMB_ARG_STRING, 0, 0, 40, NULL, \
   "RFC 3339 UTC time after which the subject is refused; \"\" = never"}, \
  {"scopes", VMB_ARG_STRING_ARRAY, 0, 0, 5, NULL, "read, write, delete, list, admin"}, \
  {"grants", VMB_ARG_OBJECT, 0, 0, 0, NULL, \
   "{transit_keys, db_roles, ssh_roles, kms_keys}: arrays of names or \"*\""}, \
  {"profile", VMB_ARG_OBJECT, 0, 0, 0, NULL, \
   "Console fields (llm_enabled, tasks, secrets_backend, status, ...); merged, null removes"}, \
  {"wrap", VMB_ARG_STRING, 0, 1, 8, "never|optional|always", \
   "Response wrapping: never (wrap_ttl refused), optional (default), always (secret " \
   "answers only wrapped)"}
static const struct vmb_arg admin_create_args[] = {
  {"subject", VMB_ARG_STRING, VMB_ARG_REQUIRED, 1, 128, NULL,
   "Subject name ([A-Za-z0-9._@-], 1..128)"},
  ADMIN_FIELDS, {0}};
static const struct vmb_arg admin_patch_args[] = {
  ADMIN_SUBJECT_PATH, ADMIN_FIELDS,
  {"version", VMB_ARG_INTEGER, 0, 1, 2147483647L, NULL,
   "Check-and-set: apply only if the record is still at this version (else 409)"},
  {0}};
static const struct vmb_arg admin_subject_args[] = {ADMIN_SUBJECT_PATH, {0}};
static const struct vmb_arg admin_key_args[] = {
  ADMIN_SUBJECT_PATH,
  {"key_id", VMB_ARG_STRING, VMB_ARG_REQUIRED | VMB_ARG_IN_PATH, 1, 64, NULL,
   "Key id as returned when the key was created"},
  {0}};
static const struct vmb_arg admin_jwt_args[] = {
  ADMIN_SUBJECT_PATH,
  {"ttl", VMB_ARG_INTEGER, 0, 60, 2592000L, NULL, "Lifetime in seconds (default 3600)"},
  {"scopes", VMB_ARG_STRING_ARRAY, 0, 0, 5, NULL,
   "Scopes of the token: a subset of the subject's (default: all of them)"},
  {0}};

const struct vmb_op vmb_ops[] = {
  {.id = "health.healthz", .title = "Liveness", .method = "GET", .path = "/healthz",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args, .description = "The process is up.", .handler = vmb_h_healthz},
  {.id = "health.livez", .title = "Liveness", .method = "GET", .path = "/livez",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args, .description = "The process is up.", .handler = vmb_h_healthz},
  {.id = "health.readyz", .title = "Readiness", .method = "GET", .path = "/readyz",
   .flags = VMB_OP_ADDR_LIMIT | VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_RATE_LIMIT | VMB_OP_NO_BODY,
   .args = no_args,
   .description = "Vault is reachable, unsealed and accepts the bridge's token.",
   .handler = vmb_h_readyz},
  {.id = "auth.whoami", .title = "Who am I", .method = "GET", .path = "/whoami",
   .flags = VMB_OP_READONLY | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = no_args, .description = "The caller's subject, auth mode and scopes.",
   .handler = vmb_h_whoami},
  {.id = "docs.openapi", .title = "OpenAPI document", .method = "GET", .path = "/openapi.json",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_DOCUMENT | VMB_OP_NO_RATE_LIMIT |
            VMB_OP_NO_BODY,
   .args = no_args, .description = "This API, described from the operation table.",
   .produces = "application/json", .handler = vmb_h_openapi},

  /* ---- MCP transport (mcp_http.c, mcp_bus.c); the tools are the TOOL
     rows below. GET /mcp/rpc has no row: the router answers 405 with
     Allow, as Streamable HTTP permits. ---- */
  {.id = "mcp.rpc", .title = "MCP endpoint", .method = "POST", .path = "/mcp/rpc",
   .flags = VMB_OP_RAW, .args = no_args, .handler = vmb_h_mcp_rpc,
   .description = "MCP Streamable HTTP endpoint: one JSON-RPC message per POST."},
  {.id = "mcp.session_end", .title = "End an MCP session", .method = "DELETE",
   .path = "/mcp/rpc", .flags = VMB_OP_RAW | VMB_OP_NO_BODY, .args = no_args,
   .handler = vmb_h_mcp_rpc_delete,
   .description = "End the MCP session named by the Mcp-Session-Id header."},
  {.id = "mcp.sse", .title = "MCP event stream", .method = "GET", .path = "/mcp/sse",
   .flags = VMB_OP_RAW | VMB_OP_READONLY | VMB_OP_NO_BODY, .args = no_args,
   .handler = vmb_h_mcp_sse,
   .description = "Server-Sent Events: keepalives and the caller's tool.completed events."},
  {.id = "oauth.resource_metadata", .title = "OAuth protected-resource metadata",
   .method = "GET", .path = "/.well-known/oauth-protected-resource",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_BODY | VMB_OP_NO_RATE_LIMIT,
   .args = no_args, .handler = vmb_h_oauth_resource_metadata,
   .description = "RFC 9728 metadata (when JWT bearer authentication is on)."},
  {.id = "oauth.resource_metadata_mcp", .title = "OAuth protected-resource metadata (MCP)",
   .method = "GET", .path = "/.well-known/oauth-protected-resource/mcp/rpc",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_NO_BODY | VMB_OP_NO_RATE_LIMIT,
   .args = no_args, .handler = vmb_h_oauth_resource_metadata,
   .description = "RFC 9728 metadata for the MCP endpoint (when JWT bearer authentication is on)."},

  /* ---- KV v2, inside the caller's namespace ---- */
  {.id = "kv.read", .title = "Read a secret", .method = "GET", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_read_args, .handler = vmb_h_kv_read, WRAPPABLE,
   .description = "Read a secret (optionally a given version) from the caller's KV namespace."},
  {.id = "kv.write", .title = "Write a secret", .method = "PUT", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kv_write_args, .handler = vmb_h_kv_write,
   .description = "Write a new version of a secret; cas guards against lost updates."},
  {.id = "kv.patch", .title = "Patch a secret", .method = "PATCH", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kv_write_args, .handler = vmb_h_kv_patch,
   .description = "Merge keys into the current version (JSON merge patch; null removes a key)."},
  {.id = "kv.list", .title = "List secrets", .method = "GET", .path = "/secrets",
   .scope = VMB_SCOPE_LIST,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_list_args, .handler = vmb_h_kv_list,
   .description = "List the keys under a folder of the caller's namespace (folders end in /)."},
  {.id = "kv.delete", .title = "Delete a secret", .method = "DELETE", .path = "/secrets/{path}",
   .scope = VMB_SCOPE_DELETE,
   .flags = VMB_OP_TOOL | VMB_OP_DESTRUCTIVE | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_path_args, .handler = vmb_h_kv_delete,
   .description = "Soft-delete the latest version of a secret (undelete can restore it)."},
  {.id = "kv.undelete", .title = "Undelete versions", .method = "POST",
   .path = "/secrets/{path}:undelete", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kv_versions_args, .handler = vmb_h_kv_undelete,
   .description = "Restore soft-deleted versions of a secret."},
  {.id = "kv.destroy", .title = "Destroy versions", .method = "POST",
   .path = "/secrets/{path}:destroy", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_DESTRUCTIVE | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kv_versions_args, .handler = vmb_h_kv_destroy,
   .description = "Permanently remove the data of the given versions of a secret."},
  {.id = "kv.metadata", .title = "Secret metadata", .method = "GET",
   .path = "/secrets/{path}:metadata", .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = kv_path_args, .handler = vmb_h_kv_metadata,
   .description = "Versions, timestamps and settings of a secret (no values)."},

  /* ---- Transit: cryptography with keys that never leave Vault ---- */
  {.id = "transit.encrypt", .title = "Encrypt", .method = "POST", .path = "/transit/encrypt",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = transit_encrypt_args, .handler = vmb_h_transit_encrypt,
   .description = "Encrypt base64 plaintext with a Transit key; returns vault:vN: ciphertext."},
  {.id = "transit.decrypt", .title = "Decrypt", .method = "POST", .path = "/transit/decrypt",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = transit_decrypt_args, .handler = vmb_h_transit_decrypt, WRAPPABLE,
   .description = "Decrypt Transit ciphertext; returns the plaintext as base64."},
  {.id = "transit.sign", .title = "Sign", .method = "POST", .path = "/transit/sign",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_REST_OPTIONAL,
   .args = transit_sign_args, .handler = vmb_h_transit_sign,
   .description = "Sign base64 input with an asymmetric Transit key."},
  {.id = "transit.verify", .title = "Verify", .method = "POST", .path = "/transit/verify",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = transit_verify_args, .handler = vmb_h_transit_verify,
   .description = "Check a Transit signature over base64 input; answers {valid}."},
  {.id = "transit.rewrap", .title = "Rewrap", .method = "POST", .path = "/transit/rewrap",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_REST_OPTIONAL,
   .args = transit_rewrap_args, .handler = vmb_h_transit_rewrap,
   .description = "Re-encrypt ciphertext under the latest key version without revealing it."},
  {.id = "transit.hmac", .title = "HMAC", .method = "POST", .path = "/transit/hmac",
   .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = transit_hmac_args, .handler = vmb_h_transit_hmac,
   .description = "HMAC of base64 input with a Transit key."},
  {.id = "transit.random", .title = "Random bytes", .method = "GET", .path = "/transit/random",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_REST_OPTIONAL | VMB_OP_NO_BODY,
   .args = transit_random_args, .handler = vmb_h_transit_random,
   .description = "Random bytes from Vault (1..1024), base64 or hex."},

  /* ---- Database: dynamic credentials and their leases ---- */
  {.id = "db.issue_creds", .title = "Issue database credentials", .method = "POST",
   .path = "/db/creds/{role}", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = db_creds_args, .handler = vmb_h_db_issue_creds, WRAPPABLE,
   .description = "New database username and password for a role, with their lease."},
  {.id = "db.renew", .title = "Renew a database lease", .method = "POST", .path = "/db/renew",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = db_renew_args, .handler = vmb_h_db_renew,
   .description = "Extend the lease of database credentials."},
  {.id = "db.revoke", .title = "Revoke a database lease", .method = "POST",
   .path = "/db/revoke", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_DESTRUCTIVE | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = db_revoke_args, .handler = vmb_h_db_revoke,
   .description = "Revoke database credentials now (the database user is dropped)."},

  /* ---- SSH: one-time passwords and certificates ---- */
  {.id = "ssh.otp", .title = "SSH one-time password", .method = "POST", .path = "/ssh/otp",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = ssh_otp_args, .handler = vmb_h_ssh_otp, WRAPPABLE,
   .description = "A one-time SSH password for a user on a host (OTP role)."},
  {.id = "ssh.sign", .title = "Sign an SSH key", .method = "POST", .path = "/ssh/sign",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = ssh_sign_args, .handler = vmb_h_ssh_sign, WRAPPABLE,
   .description = "Sign an SSH public key with the CA of a role; returns the certificate."},

  /* ---- AWS KMS: routes always exist; 503 not_enabled unless AWS_KMS_ENABLED ---- */
  {.id = "kms.encrypt", .title = "KMS encrypt", .method = "POST", .path = "/kms/encrypt",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kms_encrypt_args, .handler = vmb_h_kms_encrypt,
   .description = "Encrypt base64 plaintext (up to 4096 bytes) under an AWS KMS key."},
  {.id = "kms.decrypt", .title = "KMS decrypt", .method = "POST", .path = "/kms/decrypt",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kms_decrypt_args, .handler = vmb_h_kms_decrypt, WRAPPABLE,
   .description = "Decrypt an AWS KMS ciphertext blob; returns the plaintext as base64."},
  {.id = "kms.generate_data_key", .title = "KMS data key", .method = "POST",
   .path = "/kms/data-key", .scope = VMB_SCOPE_WRITE,
   .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = kms_data_key_args, .handler = vmb_h_kms_generate_data_key, WRAPPABLE,
   .description = "A new data key: its plaintext (base64) and its copy encrypted under "
                  "the KMS key, for envelope encryption."},
  {.id = "kms.sign", .title = "KMS sign", .method = "POST", .path = "/kms/sign",
   .scope = VMB_SCOPE_WRITE, .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_REST_OPTIONAL,
   .args = kms_sign_args, .handler = vmb_h_kms_sign,
   .description = "Sign a base64 message or digest with an asymmetric AWS KMS key."},
  {.id = "kms.verify", .title = "KMS verify", .method = "POST", .path = "/kms/verify",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = kms_verify_args, .handler = vmb_h_kms_verify,
   .description = "Check an AWS KMS signature over a base64 message or digest; "
                  "answers {valid}."},

  /* ---- Response wrapping: redeem the tokens of wrap_ttl answers ---- */
  {.id = "wrap.lookup", .title = "Look up a wrap", .method = "POST", .path = "/wrap/lookup",
   .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_TOOL | VMB_OP_READONLY | VMB_OP_IDEMPOTENT | VMB_OP_REST_OPTIONAL,
   .args = wrap_token_args, .handler = vmb_h_wrap_lookup,
   .description = "Creation time, TTL and path of a wrapping token, without using it."},
  {.id = "wrap.unwrap", .title = "Unwrap", .method = "POST", .path = "/wrap/unwrap",
   .scope = VMB_SCOPE_READ, .flags = VMB_OP_TOOL | VMB_OP_REST_OPTIONAL,
   .args = wrap_token_args, .handler = vmb_h_wrap_unwrap,
   .description = "Exchange a wrapping token, once, for the answer it wraps (only the "
                  "subject that created it, unless WRAP_UNWRAP_ANY_SUBJECT)."},

  /* ---- Subject registry admin API: scope admin, REST only (never tools) ---- */
  {.id = "admin.subjects_list", .title = "List subjects", .method = "GET",
   .path = "/admin/subjects", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = no_args,
   .handler = vmb_h_admin_list,
   .description = "Every subject of the registry (API keys shown by id and last four only)."},
  {.id = "admin.subjects_create", .title = "Create a subject", .method = "POST",
   .path = "/admin/subjects", .scope = VMB_SCOPE_ADMIN, .flags = 0,
   .args = admin_create_args, .handler = vmb_h_admin_create,
   .description = "Create a subject record (409 if it exists) and its Vault policy."},
  {.id = "admin.subjects_csv", .title = "Export subjects as CSV", .method = "GET",
   .path = "/admin/subjects.csv", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY | VMB_OP_DOCUMENT, .args = no_args,
   .handler = vmb_h_admin_csv, .produces = "text/csv; charset=utf-8",
   .description = "The registry as CSV, one subject per row (no key material)."},
  {.id = "admin.subject_get", .title = "Show a subject", .method = "GET",
   .path = "/admin/subjects/{subject}", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = admin_subject_args,
   .handler = vmb_h_admin_get,
   .description = "One subject's record with its KV version (for check-and-set)."},
  {.id = "admin.subject_patch", .title = "Change a subject", .method = "PATCH",
   .path = "/admin/subjects/{subject}", .scope = VMB_SCOPE_ADMIN, .flags = 0,
   .args = admin_patch_args, .handler = vmb_h_admin_patch,
   .description = "Change fields of a subject; with version, 409 when it moved."},
  {.id = "admin.subject_delete", .title = "Delete a subject", .method = "DELETE",
   .path = "/admin/subjects/{subject}", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_DESTRUCTIVE | VMB_OP_NO_BODY, .args = admin_subject_args,
   .handler = vmb_h_admin_delete,
   .description = "Remove a subject's record (all versions) and its Vault policy."},
  {.id = "admin.api_key_create", .title = "Create an API key", .method = "POST",
   .path = "/admin/subjects/{subject}/api-keys", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_NO_BODY, .args = admin_subject_args,
   .handler = vmb_h_admin_add_key,
   .description = "A new API key for the subject, returned once with its key_id."},
  {.id = "admin.api_key_revoke", .title = "Revoke an API key", .method = "DELETE",
   .path = "/admin/subjects/{subject}/api-keys/{key_id}", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_DESTRUCTIVE | VMB_OP_NO_BODY, .args = admin_key_args,
   .handler = vmb_h_admin_revoke_key,
   .description = "Revoke one API key of the subject by its key_id."},
  {.id = "admin.jwt_issue", .title = "Issue a JWT", .method = "POST",
   .path = "/admin/subjects/{subject}/jwt", .scope = VMB_SCOPE_ADMIN, .flags = 0,
   .args = admin_jwt_args, .handler = vmb_h_admin_issue_jwt,
   .description = "An HS256 bearer token for the subject (needs JWT_HS256_SECRET)."},

  /* The echo routes help operators check what the web server passes:
     headers (credentials redacted), the query, and the body's length and
     SHA-256 (never the body itself). They are public, so they exist only
     with DEBUG_ROUTES_ENABLED=true (issue 13). */
  {.id = "debug.echo_headers", .title = "Echo headers", .method = "GET",
   .path = "/echo-headers",
   .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_BODY_OPAQUE | VMB_OP_DEBUG,
   .args = no_args,
   .description = "The request headers as received, credentials redacted.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_post", .title = "Echo headers", .method = "POST",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_BODY_OPAQUE | VMB_OP_DEBUG,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_put", .title = "Echo headers", .method = "PUT",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_BODY_OPAQUE | VMB_OP_DEBUG,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
  {.id = "debug.echo_headers_delete", .title = "Echo headers", .method = "DELETE",
   .path = "/echo-headers", .flags = VMB_OP_PUBLIC | VMB_OP_READONLY | VMB_OP_BODY_OPAQUE | VMB_OP_DEBUG,
   .args = no_args, .description = "As GET, with the body's length and digest.",
   .handler = vmb_h_echo_headers},
  {.id = "observability.metrics", .title = "Prometheus metrics", .method = "GET",
   .path = "/metrics",
   .flags = VMB_OP_PUBLIC | VMB_OP_NO_RATE_LIMIT | VMB_OP_DOCUMENT | VMB_OP_READONLY | VMB_OP_NO_BODY,
   .args = no_args,
   .description = "Prometheus text (0.0.4) for the whole pool of the host.",
   .produces = "text/plain; version=0.0.4; charset=utf-8", .handler = vmb_h_metrics},
  {.id = "observability.summary", .title = "Observability summary", .method = "GET",
   .path = "/observability/summary", .scope = VMB_SCOPE_READ,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = no_args,
   .description = "Vault status, uptime, version, in-flight requests and recent "
                  "error counts across the pool.",
   .handler = vmb_h_obs_summary},
  /* The logs name every subject, path and client address of the host:
     operator data, so the admin scope (docs/security.md). */
  {.id = "observability.logs", .title = "Tail a log", .method = "GET",
   .path = "/observability/logs/{stream}", .scope = VMB_SCOPE_ADMIN,
   .flags = VMB_OP_READONLY | VMB_OP_NO_BODY, .args = obs_logs_args,
   .description = "The last N lines (1..1000, default 100) of requests.log, "
                  "responses.log or server.log.",
   .handler = vmb_h_obs_logs},
};

const size_t vmb_n_ops = sizeof(vmb_ops) / sizeof(vmb_ops[0]);
