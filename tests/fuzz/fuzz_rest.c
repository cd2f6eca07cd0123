/*
** fuzz_rest.c - REST routing and argument validation.
**
** Input: "METHOD /path[?query]\n" then the body. The request carries a
** valid API key and a JSON content type, so it passes the gate and
** reaches route matching, argument validation and (for valid arguments)
** the handler, whose Vault call goes to the harness's fake upstream
** answering {} (every handler must cope with an empty reply).
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct vmb_header hdrs[] = {
    {"x-api-key", FZ_API_KEY},
    {"content-type", "application/json"},
  };
  const uint8_t *line, *body;
  size_t line_len, body_len;
  char *l, *sp, *q, *b;
  fz_core_start();
  fz_split(data, size, '\n', &line, &line_len, &body, &body_len);
  l = fz_strndup(line, line_len);
  b = fz_strndup(body, body_len);
  sp = strchr(l, ' ');
  if(sp && sp[1] == '/' && !memchr(line, 0, line_len)) {
    *sp = '\0';
    q = strchr(sp + 1, '?');
    if(q)
      *q++ = '\0';
    fz_handle(l, sp + 1, q ? q : "", hdrs, 2, b, body_len);
  }
  free(l);
  free(b);
  return 0;
}
