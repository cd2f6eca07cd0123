/*
** fuzz_sigv4.c - SigV4 canonicalisation (the KMS request signer).
**
** Input lines: method, path, query, amz date, then header lines
** "name:value" up to an empty line, then the payload. Signing either
** fails cleanly or produces a canonical request whose header block is
** lower-case and an Authorization value without CR/LF.
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct vmb_sigv4_header hdrs[40];
  struct vmb_sigv4_request rq;
  struct vmb_sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  struct vmb_sigv4_result res;
  char *text = fz_strndup(data, size), *p = text, *f[4];
  size_t nf = 0, nh = 0;
  while(nf < 4 && p) {
    char *nl = strchr(p, '\n');
    if(nl)
      *nl = '\0';
    f[nf++] = p;
    p = nl ? nl + 1 : NULL;
  }
  while(p && nh < 40) {
    char *nl = strchr(p, '\n'), *colon;
    if(nl)
      *nl = '\0';
    if(!*p) {
      p = nl ? nl + 1 : NULL;
      break;
    }
    colon = strchr(p, ':');
    if(colon)
      *colon = '\0';
    hdrs[nh].name = p;
    hdrs[nh].value = colon ? colon + 1 : "";
    nh++;
    p = nl ? nl + 1 : NULL;
  }
  if(nf == 4) {
    memset(&rq, 0, sizeof(rq));
    rq.method = f[0];
    rq.path = f[1];
    rq.query = *f[2] ? f[2] : NULL;
    rq.headers = hdrs;
    rq.n_headers = nh;
    rq.payload = p ? p : "";
    rq.payload_len = p ? strlen(p) : 0;
    vmb_sigv4_result_init(&res);
    if(vmb_sigv4_sign(&rq, "us-east-1", "kms", f[3], &creds, &res) == 0) {
      if(!res.authz.data || strpbrk(res.authz.data, "\r\n") ||
         strncmp(res.authz.data, "AWS4-HMAC-SHA256 Credential=", 28))
        abort();
    }
    vmb_sigv4_result_free(&res);
  }
  free(text);
  return 0;
}
