/*
** arena.h - per-request memory with destructors (CONVENTIONS P5).
**
** A worker thread owns one arena; it is reset after each request, which
** frees every allocation and runs every deferred destructor in reverse
** order. Handlers therefore never free by hand: json_object_put,
** curl_slist_free_all and friends are registered with vmb_arena_defer.
** Allocation failure returns NULL (the caller answers ERR_NOMEM); nothing
** here aborts. Not thread-safe: an arena belongs to one thread.
*/
#ifndef VMB_ARENA_H
#define VMB_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct vmb_arena;

/* New arena; NULL on OOM. Free with vmb_arena_destroy. */
struct vmb_arena *vmb_arena_create(void);
/* Runs destructors, frees all but the first chunk (kept for reuse). */
void vmb_arena_reset(struct vmb_arena *a);
void vmb_arena_destroy(struct vmb_arena *a);

/* Zeroed, 16-byte aligned memory living until the next reset. */
void *vmb_arena_alloc(struct vmb_arena *a, size_t size);
char *vmb_arena_strdup(struct vmb_arena *a, const char *s);
char *vmb_arena_strndup(struct vmb_arena *a, const char *s, size_t n);
char *vmb_arena_printf(struct vmb_arena *a, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
/* Run fn(ptr) at reset. Returns 0, or -1 on OOM, in which case fn(ptr)
   has already been called so nothing leaks. */
int vmb_arena_defer(struct vmb_arena *a, void (*fn)(void *), void *ptr);
/* Register a secret: its bytes are wiped (OPENSSL_cleanse) at reset,
   before the memory is released. */
int vmb_arena_wipe_later(struct vmb_arena *a, void *ptr, size_t len);

#endif
