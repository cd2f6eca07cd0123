/*
** arena.c - chunked bump allocator with deferred destructors.
**
** Chunks are 16 KiB (or larger for one big allocation). After a reset the
** first chunk stays, so a steady request load allocates nothing.
*/
#include "vmb/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define ARENA_CHUNK 16384u
#define ARENA_ALIGN 16u

struct chunk {
  struct chunk *next;
  size_t size;
  size_t used;
  _Alignas(16) unsigned char mem[];
};

struct deferred {
  struct deferred *next;
  void (*fn)(void *);
  void *ptr;
  size_t wipe_len;   /* >0: wipe ptr[0..wipe_len) instead of calling fn */
};

struct vmb_arena {
  struct chunk *first;        /* kept across resets */
  struct chunk *cur;          /* bump target for small allocations */
  struct deferred *defers;
};

static struct chunk *chunk_new(size_t min)
{
  size_t size = min > ARENA_CHUNK ? min : ARENA_CHUNK;
  struct chunk *c;
  if(size > SIZE_MAX - sizeof(*c))
    return NULL;
  c = malloc(sizeof(*c) + size);
  if(!c)
    return NULL;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  return c;
}

struct vmb_arena *vmb_arena_create(void)
{
  struct vmb_arena *a = calloc(1, sizeof(*a));
  if(!a)
    return NULL;
  a->first = a->cur = chunk_new(ARENA_CHUNK);
  if(!a->first) {
    free(a);
    return NULL;
  }
  return a;
}

static void run_defers(struct vmb_arena *a)
{
  /* The list is LIFO, so destructors run in reverse registration order.
     A destructor may not register new ones (nothing to reset them). */
  struct deferred *d = a->defers;
  a->defers = NULL;
  while(d) {
    struct deferred *next = d->next;
    if(d->wipe_len)
      OPENSSL_cleanse(d->ptr, d->wipe_len);
    else
      d->fn(d->ptr);
    d = next;
  }
}

void vmb_arena_reset(struct vmb_arena *a)
{
  struct chunk *c;
  if(!a)
    return;
  run_defers(a);
  c = a->first;
  while(c->next) {
    struct chunk *n = c->next;
    c->next = n->next;
    free(n);
  }
  c->used = 0;
  a->cur = c;
}

void vmb_arena_destroy(struct vmb_arena *a)
{
  if(!a)
    return;
  vmb_arena_reset(a);
  free(a->first);
  free(a);
}

void *vmb_arena_alloc(struct vmb_arena *a, size_t size)
{
  struct chunk *c = a->cur;
  size_t off;
  if(size == 0)
    size = 1;
  if(size > SIZE_MAX - ARENA_ALIGN)
    return NULL;
  off = (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if(off > c->size || size > c->size - off) {
    struct chunk *n = chunk_new(size);
    if(!n)
      return NULL;
    /* Linked right after the first chunk so reset finds every chunk. A
       big allocation gets a chunk of its own and does not become the
       bump target; a small one starts a fresh bump chunk. */
    n->next = a->first->next;
    a->first->next = n;
    if(size < ARENA_CHUNK / 2)
      a->cur = n;
    c = n;
    off = 0;
  }
  c->used = off + size;
  memset(c->mem + off, 0, size);
  return c->mem + off;
}

char *vmb_arena_strndup(struct vmb_arena *a, const char *s, size_t n)
{
  char *d = vmb_arena_alloc(a, n + 1);
  if(!d)
    return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *vmb_arena_strdup(struct vmb_arena *a, const char *s)
{
  return s ? vmb_arena_strndup(a, s, strlen(s)) : NULL;
}

char *vmb_arena_printf(struct vmb_arena *a, const char *fmt, ...)
{
  va_list ap;
  int n;
  char *d;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0)
    return NULL;
  d = vmb_arena_alloc(a, (size_t)n + 1);
  if(!d)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(d, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return d;
}

int vmb_arena_defer(struct vmb_arena *a, void (*fn)(void *), void *ptr)
{
  struct deferred *d = vmb_arena_alloc(a, sizeof(*d));
  if(!d) {
    fn(ptr);
    return -1;
  }
  d->fn = fn;
  d->ptr = ptr;
  d->next = a->defers;
  a->defers = d;
  return 0;
}

int vmb_arena_wipe_later(struct vmb_arena *a, void *ptr, size_t len)
{
  struct deferred *d;
  if(!ptr || !len)
    return 0;
  d = vmb_arena_alloc(a, sizeof(*d));
  if(!d) {
    OPENSSL_cleanse(ptr, len);
    return -1;
  }
  d->ptr = ptr;
  d->wipe_len = len;
  d->next = a->defers;
  a->defers = d;
  return 0;
}
