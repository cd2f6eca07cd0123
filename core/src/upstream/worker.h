/*
** worker.h - per-thread state (private to the core).
**
** One worker per serving thread: the request arena and the thread's own
** libcurl handle to Vault (a curl easy handle must never be shared
** between threads; keeping one per thread keeps the connection alive).
*/
#ifndef VMB_WORKER_H
#define VMB_WORKER_H

#include "vmb/arena.h"

struct vmb_worker {
  struct vmb_arena *arena;
  void *vault_curl;           /* CURL *, created lazily by vault.c */
  void *aux_curl;             /* CURL * for JWKS/KMS, created lazily */
};

#endif
