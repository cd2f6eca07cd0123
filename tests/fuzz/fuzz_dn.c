/*
** fuzz_dn.c - client-certificate DN parsing (auth_mtls).
**
** The input is a DN as a web server would pass it (RFC 2253, OpenSSL
** slash or spaced one-line form). An accepted DN must give a non-empty
** subject that fits the buffer and holds no control byte (audit item 1:
** an escape decoding to NUL once returned an empty or shortened subject).
*/
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char out[129];
  char *dn = fz_strndup(data, size);
  const char *why = vmb_mtls_dn_subject(dn, size && data[0] == 'U' ? "UID=" : "CN=",
                                        out, sizeof(out));
  if(!why) {
    size_t n = strnlen(out, sizeof(out));
    size_t i;
    if(n == 0 || n >= sizeof(out))
      abort();
    for(i = 0; i < n; i++)        /* no control byte survives decoding */
      if((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
        abort();
  }
  free(dn);
  return 0;
}
