/*
** vault.h - the Vault HTTP client (SPEC section 3).
**
** One libcurl easy handle per worker thread, reused across requests so
** the connection to Vault stays alive. Every call has connect and total
** timeouts (VAULT_TIMEOUT_MS) and a cap on the reply size. Vault's
** answers are translated into vmb_err here, once.
*/
#ifndef VMB_VAULT_H
#define VMB_VAULT_H

#include <stdbool.h>

#include <json-c/json.h>

#include "vmb/config.h"
#include "vmb/error.h"
#include "vmb/request.h"

#define VMB_VAULT_REPLY_MAX (4u * 1024u * 1024u)

struct vmb_vault_reply {
  long status;                /* HTTP status, 0 when Vault was not reached */
  json_object *body;          /* NEW-but-arena-owned: released at reset */
  const char *message;        /* Vault's first error string (arena), or NULL */
  /* When status is 0: why, as a short code ("tls_unknown_ca",
     "tls_name_mismatch", "tls_expired", "connect_refused", ... see
     vault.c) and one sentence for an operator. Static strings; NULL when
     Vault answered. They name the setting to check, never a secret. */
  const char *failure;
  const char *failure_detail;
};

int vmb_vault_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_vault_cleanup(void);
/* How the outbound client reaches Vault (address-independent: timeouts,
   reply cap, path as is, Vault's TLS files), set by vmb_vault_init and
   read-only afterwards. The background probe copies it and shortens the
   timeouts, so its calls use Vault's TLS settings. */
struct vmb_upstream;
const struct vmb_upstream *vmb_vault_upstream(void);

/*
** Call Vault: method ("GET", "POST", "LIST", ...), path below /v1/ (no
** leading slash), optional JSON body (BORROWED), token (NULL = the
** bridge's own). Fills *reply and returns the translated outcome: OK for
** 2xx; VAULT_DENIED (403), NOT_FOUND (404), BAD_REQUEST (400, message
** set), VAULT_UNAVAILABLE (unreachable, timeout, 503/sealed),
** VAULT_ERROR (anything else). op names the call for metrics.
*/
enum vmb_err vmb_vault_call(struct vmb_request *req, const char *op,
                            const char *method, const char *path,
                            json_object *body, const char *token,
                            struct vmb_vault_reply *reply);

/* Read one answer of Vault's: HTTP status and the body of len bytes
   (body may be NULL when len is 0). Parses the body into reply (owned by
   arena), takes Vault's first error string and returns the outcome as
   vmb_vault_call does. The whole of what vmb_vault_call makes of an
   answer, without the network: the fuzzers call it with hostile bytes. */
enum vmb_err vmb_vault_reply_read(struct vmb_arena *arena, long status, const char *body,
                                  size_t len, struct vmb_vault_reply *reply);

/* As vmb_vault_call, with X-Vault-Wrap-TTL: wrap_ttl seconds (> 0) asks
   Vault to answer with a wrapping token (reply "wrap_info") instead of
   the data; 0 = no header. */
enum vmb_err vmb_vault_call_wrap(struct vmb_request *req, const char *op,
                                 const char *method, const char *path,
                                 json_object *body, const char *token,
                                 long wrap_ttl, struct vmb_vault_reply *reply);

/* True when a Vault path holds a "." or ".." segment (before any '?');
   vmb_vault_call refuses such paths with VMB_ERR_INVALID_PATH. */
bool vmb_vault_path_has_dot_segment(const char *path);

/* The bridge's current Vault token into out (NUL-terminated). 0 or -1
   when none is available. Thread-safe. */
int vmb_vault_token(char *out, size_t outlen);

/* Replace the bridge's token (AppRole login and renewal, vault_auth.c).
   0, or -1 when it does not fit. Thread-safe. */
int vmb_vault_set_token(const char *token);

#endif
