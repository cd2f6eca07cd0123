/*
** worker.h - per-thread state (private to the core).
**
** One worker per serving thread: the request arena and the thread's own
** outbound connections (http_client.h: a curl handle per upstream, never
** shared between threads; keeping them per thread keeps connections
** alive).
*/
#ifndef VMB_WORKER_H
#define VMB_WORKER_H

#include "http_client.h"
#include "vmb/arena.h"

struct vmb_worker {
  struct vmb_arena *arena;
  struct vmb_upstream_conns conns;  /* this thread's outbound connections */
};

#endif
