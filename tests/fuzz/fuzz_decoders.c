/*
** fuzz_decoders.c - percent and base64 decoders.
**
** Percent-decoding never yields a NUL byte and never grows. Standard and
** URL-safe base64 are strict and canonical: whatever decodes re-encodes
** to exactly the input, and any bytes encode and decode back to
** themselves.
*/
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common.h"
#include "util.h"

static void roundtrip(const uint8_t *data, size_t size, int url)
{
  size_t n = 0;
  unsigned char *dec = url ? vmb_b64url_decode((const char *)data, size, &n)
                           : vmb_b64_decode((const char *)data, size, &n);
  char *enc;
  if(dec) {
    enc = url ? vmb_b64url_encode(dec, n) : vmb_b64_encode(dec, n);
    if(!enc || strlen(enc) != size || memcmp(enc, data, size))
      abort();
    free(enc);
    free(dec);
  }
  enc = url ? vmb_b64url_encode(data, size) : vmb_b64_encode(data, size);
  if(!enc)
    abort();
  dec = url ? vmb_b64url_decode(enc, strlen(enc), &n)
            : vmb_b64_decode(enc, strlen(enc), &n);
  if(!dec || n != size || (size && memcmp(dec, data, size)))
    abort();
  free(dec);
  free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  char *d;
  d = vmb_pct_decode(fz_arena(), s, size, false);
  if(d && (strlen(d) > size || memchr(data, 0, size)))
    abort();
  d = vmb_pct_decode(fz_arena(), s, size, true);
  if(d && strlen(d) > size)
    abort();
  fz_reset();
  roundtrip(data, size, 0);
  roundtrip(data, size, 1);
  return 0;
}
