/*
** fuzz_fcgi.c - FastCGI params and headers into a request.
**
** The input is a list of params, one "NAME=value" per line, as a web
** server would send them (REQUEST_METHOD, SCRIPT_NAME, PATH_INFO,
** REQUEST_URI, QUERY_STRING, HTTPS, SSL_CLIENT_*, HTTP_* headers...).
** The transport's real translation (fill_request, included from
** fcgi-app/fcgi_transport.c) builds the request, which the core then
** serves: header normalisation, path assembly, TLS facts, mTLS and
** credential selection all see hostile params.
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "fcgi_record.c"
#include "fcgi_transport.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text, *p, *envp[300];
  size_t n = 0;
  FCGX_Request r;
  struct vmb_request req;
  struct vmb_response resp;
  fz_core_start();
  text = fz_strndup(data, size);
  for(p = text; p && *p && n < 299;) {
    char *nl = strchr(p, '\n');
    if(nl)
      *nl = '\0';
    envp[n++] = p;
    p = nl ? nl + 1 : NULL;
  }
  envp[n] = NULL;
  memset(&r, 0, sizeof(r));
  r.envp = envp;
  r.ipcFd = -1;
  memset(&req, 0, sizeof(req));
  req.arena = fz_arena();
  req.worker = fz_worker();
  req.body = "";
  if(fill_request(&r, &req) == 0) {
    vmb_response_init(&resp, 8u * 1024u * 1024u);
    vmb_core_handle(&req, &resp);
    if(resp.status < 100 || resp.status > 599)
      abort();
    vmb_response_free(&resp);
  }
  fz_reset();
  free(text);
  return 0;
}
