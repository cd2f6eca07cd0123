/*
** fuzz_vault_reply.c - Vault replies, as the bridge interprets them.
**
** Byte 0 picks the HTTP status Vault answers with, byte 1 the operation
** the bridge performs, byte 2 whether the reply is cut halfway; the rest
** is the reply body. Each input is read twice, both in memory:
**   1. directly by the reply readers: vmb_vault_reply_read (status +
**      body -> outcome, parsed body, Vault's message) and the health
**      probe's vmb_probe_vault_health;
**   2. through the whole core (gate, handler, the outbound client,
**      vmb_vault_reply_read, the response to the caller), the answer
**      handed to the client by the fuzzing build's in-memory transport,
**      so every field a handler reads from Vault's JSON meets hostile
**      types and values.
** The same answers over a real socket and libcurl: fuzz_reply_loopback.
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "probe.h"
#include "vault.h"
#include "vmb/arena.h"

struct fz_op {
  const char *method, *path, *query, *body;
};

static const struct fz_op ops[] = {
  {"GET", "/secrets/app/db", "", ""},
  {"GET", "/secrets/app/db", "version=2", ""},
  {"PUT", "/secrets/app/db", "", "{\"data\":{\"a\":\"b\"}}"},
  {"PATCH", "/secrets/app/db", "", "{\"data\":{\"a\":null}}"},
  {"GET", "/secrets", "prefix=app/", ""},
  {"DELETE", "/secrets/app/db", "", ""},
  {"POST", "/secrets/app/db:undelete", "", "{\"versions\":[1,2]}"},
  {"GET", "/secrets/app/db:metadata", "", ""},
  {"POST", "/transit/encrypt", "", "{\"key\":\"k\",\"plaintext\":\"aGk=\"}"},
  {"POST", "/transit/decrypt", "", "{\"key\":\"k\",\"ciphertext\":\"vault:v1:abc\"}"},
  {"POST", "/transit/sign", "", "{\"key\":\"k\",\"input\":\"aGk=\"}"},
  {"POST", "/transit/verify", "", "{\"key\":\"k\",\"input\":\"aGk=\",\"signature\":\"vault:v1:x\"}"},
  {"POST", "/transit/rewrap", "", "{\"key\":\"k\",\"ciphertext\":\"vault:v1:abc\"}"},
  {"POST", "/transit/hmac", "", "{\"key\":\"k\",\"input\":\"aGk=\"}"},
  {"GET", "/transit/random", "bytes=16", ""},
  {"GET", "/db/creds/ro", "", ""},
  {"POST", "/db/renew", "", "{\"lease_id\":\"database/creds/ro/abc\"}"},
  {"POST", "/db/revoke", "", "{\"lease_id\":\"database/creds/ro/abc\"}"},
  {"POST", "/ssh/otp", "", "{\"role\":\"otp\",\"ip\":\"10.0.0.1\"}"},
  {"POST", "/ssh/sign", "", "{\"role\":\"r\",\"public_key\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\"}"},
  {"GET", "/readyz", "", ""},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const int statuses[] = {200, 200, 200, 204, 400, 403, 404, 412,
                                 429, 500, 502, 503, 301, 100, 599, 200};
  static const struct vmb_header hdrs[] = {
    {"x-api-key", FZ_API_KEY},
    {"content-type", "application/json"},
  };
  const struct fz_op *op;
  int status;
  if(size < 3)
    return 0;
  fz_reply_harness_start();
  status = statuses[data[0] & 15];
  {
    /* An empty reply arrives as (NULL, 0), as from a buffer that never
       received a byte (regressions/vault_reply/empty-200). */
    const char *body = size > 3 ? (const char *)data + 3 : NULL;
    struct vmb_vault_reply r;
    enum vmb_err e = vmb_vault_reply_read(fz_arena(), status, body, size - 3, &r);
    /* The outcome follows the status alone; a message comes only from
       a parsed body. */
    if((e == VMB_ERR_OK) != (status >= 200 && status < 300) && e != VMB_ERR_NOMEM)
      abort();
    if(r.message && !r.body)
      abort();
    (void)vmb_probe_vault_health(status, body, size - 3);
    fz_reset();
  }
  op = &ops[data[1] % (sizeof(ops) / sizeof(ops[0]))];
  fz_upstream_set(status, "", data + 3, size - 3, data[2] & 1);
  fz_handle(op->method, op->path, op->query, hdrs, 2, op->body, strlen(op->body));
  return 0;
}
