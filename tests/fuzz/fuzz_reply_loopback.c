/*
** fuzz_reply_loopback.c - Vault and KMS replies over a real socket.
**
** The reply harnesses (vault_reply, kms_reply) hand answers to the
** client from memory; this one keeps what only a socket exercises:
** libcurl reading the status line, headers and body off a loopback
** connection to a fake upstream (a thread of this process), keep-alive
** across inputs, a reply cut halfway with the connection closed, the
** reply cap, and the outbound client's handling of each. It is slow (one
** HTTP exchange per input), so its CI budget is short.
**
** Byte 0: HTTP status; byte 1: operation (Vault and KMS); byte 2: bit 0
** cut the reply halfway and close, bit 1 add an x-amzn-ErrorType header
** from the input up to the first newline. The rest is the reply body.
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct fz_op {
  const char *method, *path, *query, *body;
};

static const struct fz_op ops[] = {
  {"GET", "/secrets/app/db", "", ""},
  {"PUT", "/secrets/app/db", "", "{\"data\":{\"a\":\"b\"}}"},
  {"GET", "/secrets", "prefix=app/", ""},
  {"POST", "/transit/encrypt", "", "{\"key\":\"k\",\"plaintext\":\"aGk=\"}"},
  {"GET", "/db/creds/ro", "", ""},
  {"GET", "/readyz", "", ""},
  {"POST", "/kms/encrypt", "", "{\"plaintext\":\"aGk=\"}"},
  {"POST", "/kms/decrypt", "", "{\"ciphertext\":\"aGk=\"}"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const int statuses[] = {200, 200, 200, 204, 400, 403, 404, 429,
                                 500, 502, 503, 301, 100, 599, 302, 200};
  static const struct vmb_header hdrs[] = {
    {"x-api-key", FZ_API_KEY},
    {"content-type", "application/json"},
  };
  const struct fz_op *op;
  char extra[300] = "";
  const uint8_t *body = data + 3;
  size_t blen = size - 3;
  if(size < 3)
    return 0;
  /* Answers libcurl must wait out (a bare 1xx, a body shorter than its
     Content-Length) end at the timeout: keep it short so such inputs
     cost 200 ms, not the default 2 s. */
  setenv("VAULT_TIMEOUT_MS", "200", 0);
  (void)fz_upstream_loopback();
  fz_reply_harness_start();
  op = &ops[data[1] % (sizeof(ops) / sizeof(ops[0]))];
  if(data[2] & 2) {
    const uint8_t *nl = memchr(body, '\n', blen);
    size_t n = nl ? (size_t)(nl - body) : 0, i;
    if(n > 200)
      n = 200;
    memcpy(extra, "x-amzn-ErrorType: ", 18);
    for(i = 0; i < n; i++)   /* a header value cannot hold CR, LF or NUL */
      extra[18 + i] = (char)(body[i] == '\r' || body[i] == '\0' ? ' ' : body[i]);
    memcpy(extra + 18 + n, "\r\n", 3);
    if(nl) {
      blen -= (size_t)(nl + 1 - body);
      body = nl + 1;
    }
  }
  fz_upstream_set(statuses[data[0] & 15], extra, body, blen, data[2] & 1);
  fz_handle(op->method, op->path, op->query, hdrs, 2, op->body, strlen(op->body));
  return 0;
}
