/*
** fuzz_kms_reply.c - AWS KMS replies (JSON 1.1), as the KMS backend
** interprets them.
**
** Byte 0: HTTP status; byte 1: operation; byte 2: bit 0 cut the reply
** halfway, bit 1 add an x-amzn-ErrorType header taken from the input up
** to the first newline. The rest is the reply body. Each input is read
** twice, in memory: directly by the reply readers (vmb_kms_reply_header
** on every header line, vmb_kms_reply_read: status + error name + body
** -> outcome), then through the whole core (gate, KMS handler, SigV4,
** the outbound client, the readers, the result extraction) with the
** answer handed over by the fuzzing build's in-memory transport.
*/
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "common.h"

struct fz_op {
  const char *path, *body;
};

static const struct fz_op ops[] = {
  {"/kms/encrypt", "{\"plaintext\":\"aGk=\"}"},
  {"/kms/decrypt", "{\"ciphertext\":\"aGk=\"}"},
  {"/kms/data-key", "{\"key_spec\":\"AES_256\"}"},
  {"/kms/sign", "{\"message\":\"aGk=\",\"signing_algorithm\":\"ECDSA_SHA_256\"}"},
  {"/kms/verify", "{\"message\":\"aGk=\",\"signature\":\"aGk=\","
                  "\"signing_algorithm\":\"ECDSA_SHA_256\"}"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const int statuses[] = {200, 200, 200, 400, 400, 403, 404, 429,
                                 500, 503, 200, 400, 302, 200, 400, 200};
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
  {
    /* The readers alone, with the header lines a transfer would give. */
    struct vmb_kms_reply r;
    enum vmb_err e;
    memset(&r, 0, sizeof(r));
    r.status = statuses[data[0] & 15];
    vmb_kms_reply_header(&r, "HTTP/1.1 200 X\r\n", 16);
    if(extra[0])
      vmb_kms_reply_header(&r, extra, strlen(extra));
    vmb_kms_reply_header(&r, "\r\n", 2);
    e = vmb_kms_reply_read(fz_arena(), &r, blen ? (const char *)body : NULL, blen);
    /* Success only for 200 with a JSON object; a failure always says
       why. */
    if(e == VMB_ERR_OK && (r.status != 200 || !r.body ||
                           !json_object_is_type(r.body, json_type_object)))
      abort();
    if(e != VMB_ERR_OK && !r.detail)
      abort();
    /* An error name is bare: no namespace ('#') or suffix (':'). */
    if(r.error_name && (strchr(r.error_name, '#') || strchr(r.error_name, ':')))
      abort();
    fz_reset();
  }
  fz_upstream_set(statuses[data[0] & 15], extra, body, blen, data[2] & 1);
  fz_handle("POST", op->path, "", hdrs, 2, op->body, strlen(op->body));
  return 0;
}
