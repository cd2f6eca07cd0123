/*
** buf.c - the bounded growable buffer (see vmb/buf.h).
*/
#include "vmb/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void vmb_buf_init(struct vmb_buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

/* Make room for len + extra + NUL. Growth doubles, capped at max + 1. */
static int buf_reserve(struct vmb_buf *b, size_t extra)
{
  size_t need, ncap;
  char *nd;
  if(extra > b->max || b->len > b->max - extra)
    return -1;
  need = b->len + extra + 1;
  if(need <= b->cap)
    return 0;
  ncap = b->cap ? b->cap : 256;
  while(ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if(ncap > b->max + 1)
    ncap = b->max + 1;
  /* Never realloc: it may leave the old block (a Vault reply, a token,
     plaintext) unwiped in freed memory. Copy, wipe, free. */
  nd = malloc(ncap);
  if(!nd)
    return -1;
  if(b->data) {
    memcpy(nd, b->data, b->len + 1);
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
  }
  b->data = nd;
  b->cap = ncap;
  return 0;
}

int vmb_buf_append(struct vmb_buf *b, const void *data, size_t n)
{
  if(buf_reserve(b, n))
    return -1;
  if(n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int vmb_buf_append_str(struct vmb_buf *b, const char *s)
{
  return vmb_buf_append(b, s, strlen(s));
}

int vmb_buf_vprintf(struct vmb_buf *b, const char *fmt, va_list ap)
{
  va_list cp;
  int n;
  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if(n < 0 || buf_reserve(b, (size_t)n))
    return -1;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int vmb_buf_printf(struct vmb_buf *b, const char *fmt, ...)
{
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = vmb_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void vmb_buf_reset(struct vmb_buf *b)
{
  b->len = 0;
  if(b->data)
    b->data[0] = '\0';
}

void vmb_buf_free(struct vmb_buf *b)
{
  if(b->data) {
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
  }
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

char *vmb_buf_steal(struct vmb_buf *b)
{
  char *d = b->data;
  if(!d)
    d = calloc(1, 1);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return d;
}
