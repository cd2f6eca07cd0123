/*
** worker.h - per-thread state, public side (the struct is private to the
** core: src/upstream/worker.h).
**
** Each serving thread creates one worker and passes it in every request
** (vmb_request.worker); the worker owns the request arena and the
** thread's outbound connections. A worker is used by one thread at a time.
*/
#ifndef VMB_WORKER_PUBLIC_H
#define VMB_WORKER_PUBLIC_H

struct vmb_arena;
struct vmb_worker;

/* A new worker, or NULL on OOM. */
struct vmb_worker *vmb_worker_create(void);
/* Close its connections and free it; NULL is a no-op. */
void vmb_worker_destroy(struct vmb_worker *w);
/* The worker's arena; reset it after each request with vmb_worker_reset. */
struct vmb_arena *vmb_worker_arena(struct vmb_worker *w);
void vmb_worker_reset(struct vmb_worker *w);

#endif
