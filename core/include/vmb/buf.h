/*
** buf.h - a growable byte buffer with a mandatory ceiling.
**
** Every buffer that holds untrusted or unbounded data (request bodies,
** Vault replies, log lines) is a vmb_buf with a max: growing past it is
** an error, never a silent truncation and never an unbounded allocation
** (the idea of curl's dynbuf "toobig"). The data is always NUL-terminated
** so it can be handed to string functions; len excludes the NUL.
**
** Not thread-safe: a buffer belongs to one thread at a time.
*/
#ifndef VMB_BUF_H
#define VMB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct vmb_buf {
  char *data;    /* NULL until the first append; owned by the buffer */
  size_t len;    /* bytes used, excluding the terminating NUL */
  size_t cap;    /* bytes allocated */
  size_t max;    /* hard ceiling for len */
};

/* Prepare an empty buffer that may grow to max bytes. Allocates nothing. */
void vmb_buf_init(struct vmb_buf *b, size_t max);
/* Append n bytes. Returns 0, or -1 when the ceiling or memory is hit
   (the buffer keeps its previous content). */
int vmb_buf_append(struct vmb_buf *b, const void *data, size_t n);
int vmb_buf_append_str(struct vmb_buf *b, const char *s);
int vmb_buf_printf(struct vmb_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
int vmb_buf_vprintf(struct vmb_buf *b, const char *fmt, va_list ap)
  __attribute__((format(printf, 2, 0)));
/* Forget the content but keep the allocation. */
void vmb_buf_reset(struct vmb_buf *b);
/* Wipe (OPENSSL_cleanse) and release the allocation. */
void vmb_buf_free(struct vmb_buf *b);
/* Hand the allocation to the caller (free() it); the buffer becomes empty.
   Returns an empty malloc'ed string when nothing was appended. */
char *vmb_buf_steal(struct vmb_buf *b);

#endif
