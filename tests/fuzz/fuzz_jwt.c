/*
** fuzz_jwt.c - JWT verification and JWKS / JWK parsing.
**
** First byte selects: 0 a bearer token through vmb_jwt_check (HS256
** secret configured, as in production); 1 a JWKS document; 2 a single
** JWK; 3 "token\nJWK" through the signature-only verifier. An accepted
** token must yield a subject that vmb_subject_valid accepts.
*/
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "common.h"
#include "nspath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text;
  if(size < 1)
    return 0;
  fz_core_start();
  text = fz_strndup(data + 1, size - 1);
  switch(data[0] & 3) {
  case 0: {
    struct vmb_identity id;
    const char *why = NULL;
    memset(&id, 0, sizeof(id));
    if(vmb_jwt_check(text, &id, &why) == VMB_AUTH_OK &&
       !vmb_subject_valid(id.subject))
      abort();
    break;
  }
  case 1:
  case 2:
    (void)vmb_jwt_jwks_usable(text, size - 1, data[0] & 1 ? false : true);
    break;
  default: {
    unsigned char payload[4096];
    size_t plen = 0;
    char *nl = strchr(text, '\n');
    if(nl) {
      *nl = '\0';
      if(!vmb_jwt_verify_jwk(text, nl + 1, payload, sizeof(payload), &plen) &&
         plen > sizeof(payload))
        abort();
    }
    break;
  }
  }
  free(text);
  return 0;
}
