/*
** keydelete_shim.c - an LD_PRELOAD shim for scale__shutdown_event_in_flight.
**
** Why: the leak it guards against (the Redis event reader ending after
** vmb_redis_cleanup had deleted redis.c's per-thread key, so its
** connection was never freed) needs an XREAD reply to arrive in the few
** milliseconds between that cleanup and exit. The shim makes the window
** wide and observable instead of waiting for luck: after the real
** pthread_key_delete it creates the file VMB_TEST_KEYDELETE_MARK (so the
** test knows the key is gone) and holds the caller for
** VMB_TEST_KEYDELETE_DELAY_MS, while the test publishes an event.
** Without those variables it only forwards the call. Test code only.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int pthread_key_delete(pthread_key_t key)
{
  int (*real)(pthread_key_t);
  const char *mark = getenv("VMB_TEST_KEYDELETE_MARK");
  const char *delay = getenv("VMB_TEST_KEYDELETE_DELAY_MS");
  int rc;
  *(void **)&real = dlsym(RTLD_NEXT, "pthread_key_delete");
  if(!real)
    return -1;
  rc = real(key);
  if(mark) {
    int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if(fd >= 0)
      close(fd);
  }
  if(delay) {
    long ms = strtol(delay, NULL, 10);
    struct timespec ts;
    if(ms < 0 || ms > 10000)
      ms = 0;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
  }
  return rc;
}
