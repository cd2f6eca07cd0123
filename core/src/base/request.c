/*
** request.c - helpers over vmb_request / vmb_response.
*/
#include "vmb/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmb/arena.h"
#include "util.h"

const char *vmb_request_header(const struct vmb_request *req, const char *name)
{
  size_t i;
  for(i = 0; i < req->n_headers; i++)
    if(strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

const char *vmb_request_query(const struct vmb_request *req, const char *name,
                              bool *bad)
{
  const char *p = req->query;
  size_t nlen = strlen(name);
  if(bad)
    *bad = false;
  while(p && *p) {
    const char *amp = strchr(p, '&');
    size_t seglen = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', seglen);
    size_t klen = eq ? (size_t)(eq - p) : seglen;
    if(klen == nlen && memcmp(p, name, nlen) == 0) {
      const char *v = eq ? eq + 1 : p + seglen;
      size_t vlen = eq ? seglen - klen - 1 : 0;
      char *out = vmb_pct_decode(req->arena, v, vlen, true);
      if(!out && bad)
        *bad = true;
      return out;
    }
    p = amp ? amp + 1 : NULL;
  }
  return NULL;
}

void vmb_response_init(struct vmb_response *resp, size_t max_body)
{
  memset(resp, 0, sizeof(*resp));
  resp->status = 200;
  vmb_buf_init(&resp->body, max_body);
}

void vmb_response_free(struct vmb_response *resp)
{
  vmb_buf_free(&resp->body);
  resp->n_headers = 0;
}

int vmb_response_header(struct vmb_response *resp, const char *name,
                        const char *value)
{
  if(resp->n_headers >= VMB_RESPONSE_MAX_HEADERS)
    return -1;
  resp->headers[resp->n_headers].name = name;
  resp->headers[resp->n_headers].value = value;
  resp->n_headers++;
  return 0;
}
