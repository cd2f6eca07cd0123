/*
** fuzz_kvpath.c - KV / resource path and subject checks (nspath).
**
** First byte: flags (bit 0 allow_empty, bit 1 allow_trailing_slash,
** bit 2 percent-decode first as a URL path would be). The rest is the
** path. Whatever the checker accepts must hold the invariants every
** caller relies on: no NUL or control byte, no leading '/', no empty,
** "." or ".." segment (except one trailing '/' when allowed), and at most
** VMB_PATH_MAX bytes. A subject that vmb_subject_valid accepts is one
** safe segment.
*/
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nspath.h"
#include "util.h"

static void check_accepted(const char *p, size_t n, int trailing_ok)
{
  size_t i, seg = 0;
  if(n > VMB_PATH_MAX || (n && p[0] == '/'))
    abort();
  for(i = 0; i <= n; i++) {
    if(i < n && ((unsigned char)p[i] < 0x20 || p[i] == 0x7f))
      abort();
    if(i == n || p[i] == '/') {
      size_t len = i - seg;
      if(len == 0 && n && !(i == n && trailing_ok))
        abort();
      if((len == 1 && p[seg] == '.') || (len == 2 && !memcmp(p + seg, "..", 2)))
        abort();
      seg = i + 1;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int flags;
  const char *path;
  size_t len;
  char *copy;
  if(size < 1)
    return 0;
  flags = data[0];
  copy = fz_strndup(data + 1, size - 1);
  path = copy;
  len = size - 1;
  if(flags & 4) {
    path = vmb_pct_decode(fz_arena(), copy, len, false);
    len = path ? strlen(path) : 0;
  }
  if(path && !vmb_kv_path_check_n(path, len, flags & 1, flags & 2))
    check_accepted(path, len, flags & 2);
  if(vmb_subject_valid(copy)) {
    size_t n = strlen(copy);
    if(n == 0 || n > 128 || strchr(copy, '/') || !strcmp(copy, ".") ||
       !strcmp(copy, ".."))
      abort();
    check_accepted(copy, n, 0);
  }
  fz_reset();
  free(copy);
  return 0;
}
