/*
** worker.c - per-thread state: the request arena and the thread's
** outbound curl handles (created lazily by their users, closed here).
*/
#include "worker.h"

#include <stdlib.h>

#include "vmb/worker.h"

struct vmb_worker *vmb_worker_create(void)
{
  struct vmb_worker *w = calloc(1, sizeof(*w));
  if(!w)
    return NULL;
  w->arena = vmb_arena_create();
  if(!w->arena) {
    free(w);
    return NULL;
  }
  return w;
}

void vmb_worker_destroy(struct vmb_worker *w)
{
  if(!w)
    return;
  vmb_upstream_conns_close(&w->conns);
  vmb_arena_destroy(w->arena);
  free(w);
}

struct vmb_arena *vmb_worker_arena(struct vmb_worker *w) { return w->arena; }
void vmb_worker_reset(struct vmb_worker *w) { vmb_arena_reset(w->arena); }
