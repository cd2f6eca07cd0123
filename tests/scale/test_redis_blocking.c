/*
** test_redis_blocking.c - the Redis client's blocking read (the event
** reader's XREAD BLOCK) against a fake Redis on loopback (issue 16).
**
** The fake answers PING at once and never answers XREAD, as a Redis on a
** loaded host whose empty reply comes back after the caller's deadline.
** Such a timeout must not mark Redis down for the request paths
** (vmb_redis_healthy, redis_up, the "redis unavailable" log line), while
** a real failure of the same read (connection refused) must. Before the
** fix every timeout of the blocking read flipped the process' Redis state
** to down.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "redis.h"
#include "util.h"
#include "vmb/config.h"

/* The client's REDIS_TIMEOUT_MS here: generous, so a PING to the fake
   answers in time even when the machine is loaded (a stall longer than
   the timeout would fail the PINGs below, not what is tested). */
#define TIMEOUT_MS 500u

/* ---- the fake Redis ------------------------------------------------- */

static int listen_fd = -1;
static int port;
static atomic_bool fake_stop;
static pthread_t fake_thread;

/* One client: answer each PING, swallow everything else (no reply). */
static void serve(int fd)
{
  char buf[4096];
  while(!atomic_load(&fake_stop)) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if(poll(&p, 1, 50) <= 0)
      continue;
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    if(n <= 0)
      break;
    buf[n] = '\0';
    if(strstr(buf, "PING") && send(fd, "+PONG\r\n", 7, MSG_NOSIGNAL) != 7)
      break;
  }
}

static void *fake_main(void *arg)
{
  int clients[16], nc = 0, i;
  (void)arg;
  /* Clients are served one after the other; each test uses one at a
     time, and a held XREAD is simply left unanswered. */
  while(!atomic_load(&fake_stop)) {
    struct pollfd p = {listen_fd, POLLIN, 0};
    int fd;
    if(poll(&p, 1, 50) <= 0)
      continue;
    fd = accept(listen_fd, NULL, NULL);
    if(fd < 0)
      continue;
    if(nc < 16)
      clients[nc++] = fd;
    serve(fd);
  }
  for(i = 0; i < nc; i++)
    close(clients[i]);
  return NULL;
}

static void fake_start(void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int one = 1;
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(listen_fd >= 0);
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(listen_fd, 8), 0);
  assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&sa, &sl), 0);
  port = ntohs(sa.sin_port);
  atomic_store(&fake_stop, false);
  assert_int_equal(pthread_create(&fake_thread, NULL, fake_main, NULL), 0);
}

static void fake_stop_now(void)
{
  atomic_store(&fake_stop, true);
  pthread_join(fake_thread, NULL);
  close(listen_fd);             /* from now on: connection refused */
  listen_fd = -1;
}

/* ---- the reader's side ---------------------------------------------- */

struct blocking_call {
  int cancel;                   /* cancel descriptor, -1: none */
  long block_ms;
  const char *why;
  bool got_reply;
  uint64_t took_us;
};

/* On a thread of its own, as the event reader: its own connection. */
static void *blocking_read(void *arg)
{
  struct blocking_call *bc = arg;
  char block[24];
  const char *argv[8] = {"XREAD", "COUNT", "256", "BLOCK", block, "STREAMS", "t:ev:all", "$"};
  size_t lens[8];
  uint64_t t0 = vmb_monotonic_us();
  struct redisReply *r;
  int i;
  snprintf(block, sizeof(block), "%ld", bc->block_ms);
  for(i = 0; i < 8; i++)
    lens[i] = strlen(argv[i]);
  bc->why = NULL;
  r = vmb_redis_command_blocking(8, argv, lens, bc->block_ms, bc->cancel, &bc->why);
  bc->took_us = vmb_monotonic_us() - t0;
  bc->got_reply = r != NULL;
  vmb_redis_free(r);
  return NULL;
}

static void run_blocking(struct blocking_call *bc)
{
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, blocking_read, bc), 0);
  pthread_join(t, NULL);
}

static void init_client(long timeout_ms)
{
  char url[64], err[256] = "";
  struct vmb_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
  cfg.redis_url = url;
  cfg.redis_timeout_ms = timeout_ms;
  cfg.redis_key_prefix = "t:";
  cfg.redis_cacert = "";
  assert_int_equal(vmb_redis_init(&cfg, err, sizeof(err)), 0);
}

static void test_blocking_timeout_keeps_health(void **state)
{
  struct blocking_call bc;
  const char *why = NULL;
  (void)state;
  bc.cancel = -1;
  bc.block_ms = 50;
  fake_start();
  init_client(TIMEOUT_MS);
  assert_int_equal(vmb_redis_ping(&why), 0);
  assert_true(vmb_redis_healthy(NULL));
  /* The reply never comes: the read gives up after block + timeout,
     not after the timeout alone. */
  run_blocking(&bc);
  assert_false(bc.got_reply);
  assert_non_null(bc.why);
  assert_string_equal(bc.why, "timeout");
  assert_true(bc.took_us >= (TIMEOUT_MS + 50u) * 1000u - 10000u);
  /* ...and Redis is still up for everybody else. */
  assert_true(vmb_redis_healthy(&why));
  assert_int_equal(vmb_redis_ping(&why), 0);
  assert_true(vmb_redis_healthy(NULL));
  /* A real failure of the same read still counts: Redis gone. */
  fake_stop_now();
  run_blocking(&bc);
  assert_false(bc.got_reply);
  assert_non_null(bc.why);
  assert_string_equal(bc.why, "refused");
  assert_false(vmb_redis_healthy(&why));
  assert_non_null(why);
  assert_string_equal(why, "refused");
  vmb_redis_cleanup();
}

/* A request command's timeout still marks Redis down (the fake never
   answers anything but PING, so GET times out). */
static void test_request_timeout_marks_down(void **state)
{
  const char *argv[2] = {"GET", "t:x"};
  size_t lens[2] = {3, 3};
  const char *why = NULL;
  struct redisReply *r;
  (void)state;
  fake_start();
  init_client(TIMEOUT_MS);
  assert_int_equal(vmb_redis_ping(&why), 0);
  r = vmb_redis_command(2, argv, lens, &why);
  assert_null(r);
  assert_string_equal(why, "timeout");
  assert_false(vmb_redis_healthy(NULL));
  fake_stop_now();
  vmb_redis_cleanup();
}

/* Shutdown of the event reader (mcp_bus.c): its XREAD is cancelled
   through a descriptor and the thread joined before vmb_redis_cleanup,
   so redis.c's per-thread destructor frees its connection. Before, the
   reader was detached and never waited for: when its XREAD came back
   between vmb_redis_cleanup (which deletes the per-thread key) and exit,
   the thread ended without the destructor and LeakSanitizer reported its
   connection (scale__events_cross_host, host B). Under ASan this test
   also fails on such a leak. */
static void test_blocking_cancel(void **state)
{
  struct blocking_call bc;
  pthread_t t;
  uint64_t one = 1;
  const char *why = NULL;
  int fds[2];
  (void)state;
  assert_int_equal(pipe(fds), 0);
  fake_start();
  init_client(TIMEOUT_MS);
  assert_int_equal(vmb_redis_ping(&why), 0);
  /* The fake never answers XREAD: without the cancel this read would
     last block + timeout (10.5 s). */
  bc.cancel = fds[0];
  bc.block_ms = 10000;
  assert_int_equal(pthread_create(&t, NULL, blocking_read, &bc), 0);
  /* Cancel once the XREAD is in flight (the fake has read it). */
  usleep(100 * 1000);
  assert_int_equal(write(fds[1], &one, sizeof(one)), (ssize_t)sizeof(one));
  pthread_join(t, NULL);
  assert_false(bc.got_reply);
  assert_non_null(bc.why);
  assert_string_equal(bc.why, "cancelled");
  assert_true(bc.took_us < 10000u * 1000u);
  /* Not a failure of Redis. */
  assert_true(vmb_redis_healthy(NULL));
  /* Already cancelled: returns without sending anything. */
  run_blocking(&bc);
  assert_false(bc.got_reply);
  assert_string_equal(bc.why, "cancelled");
  assert_true(vmb_redis_healthy(NULL));
  vmb_redis_cleanup();
  fake_stop_now();
  close(fds[0]);
  close(fds[1]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_blocking_timeout_keeps_health),
    cmocka_unit_test(test_request_timeout_marks_down),
    cmocka_unit_test(test_blocking_cancel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
