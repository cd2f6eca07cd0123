/*
** test_ratelimit.c - the host-wide limiter: 4 processes x 4 threads on
** one subject with limit N must allow exactly N; subjects are separate;
** a worker SIGKILLed in the middle of taking leaves the table usable.
** Each run uses its own RUN_DIR under $TMPDIR (else /tmp), removed at the
** end.
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/testtmp.h"
#include "harness.h"
#include "ratelimit.h"
#include "vmb/config.h"

#define PROCS 4
#define THREADS 4
#define TRIES 400                 /* per thread: 6400 attempts in all */
#define LIMIT 1000

static struct vmb_config cfg;
static char base[256];   /* the run's scratch directory */
static char rundir[300];
static const char *subject = "agent-rl";

static void *taker(void *arg)
{
  long allowed = 0, i;
  (void)arg;
  for(i = 0; i < TRIES; i++) {
    struct vmb_rl_verdict v;
    vmb_ratelimit_take(subject, &v);
    if(v.allowed)
      allowed++;
  }
  return (void *)allowed;
}

/* Stay clear of a window boundary so the whole burst is in one window. */
static void wait_for_fresh_window(void)
{
  for(;;) {
    time_t now = time(NULL);
    if(cfg.rate_limit_window_seconds - now % cfg.rate_limit_window_seconds > 20)
      return;
    sleep(1);
  }
}

int main(void)
{
  char err[256];
  int p, *counts;
  long total = 0;
  struct vmb_rl_verdict v;
  pid_t pids[PROCS];
  struct stat st;

  if(!vmb_test_mkdtemp(base, sizeof(base), "vmb-rl-test")) {
    fprintf(stderr, "ratelimit: no scratch directory under %s\n", vmb_test_tmproot());
    return 1;
  }
  /* RUN_DIR two levels below: the limiter creates the missing parents. */
  snprintf(rundir, sizeof(rundir), "%s/nested/run", base);
  memset(&cfg, 0, sizeof(cfg));
  cfg.run_dir = rundir;
  cfg.rate_limit_enabled = true;
  cfg.rate_limit_requests = LIMIT;
  cfg.rate_limit_window_seconds = 3600;
  wait_for_fresh_window();

  /* Shared results page for the children. */
  counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(counts != MAP_FAILED);

  for(p = 0; p < PROCS; p++) {
    pids[p] = fork();
    if(pids[p] == 0) {
      pthread_t t[THREADS];
      long n = 0;
      int i;
      if(vmb_ratelimit_init(&cfg, err, sizeof(err))) {
        fprintf(stderr, "child init: %s\n", err);
        _exit(3);
      }
      for(i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, taker, NULL);
      for(i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        n += (long)r;
      }
      counts[p] = (int)n;
      vmb_ratelimit_cleanup();
      _exit(0);
    }
  }
  for(p = 0; p < PROCS; p++) {
    int status = 0;
    waitpid(pids[p], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    total += counts[p];
    fprintf(stderr, "process %d allowed %d\n", p, counts[p]);
  }
  CHECK_INT(total, LIMIT);

  /* The directory was created private. */
  CHECK_INT(stat(rundir, &st), 0);
  CHECK_INT(st.st_mode & 0777, 0700);

  /* The parent sees the same table: the subject is exhausted. */
  CHECK_INT(vmb_ratelimit_init(&cfg, err, sizeof(err)), 0);
  vmb_ratelimit_take(subject, &v);
  CHECK(!v.allowed);
  CHECK_INT(v.limit, LIMIT);
  CHECK_INT(v.remaining, 0);
  CHECK(v.reset_seconds > 0 && v.reset_seconds <= 3600);
  /* Another subject has its own budget. */
  vmb_ratelimit_take("agent-other", &v);
  CHECK(v.allowed);
  CHECK_INT(v.remaining, LIMIT - 1);

  /* A worker killed while hammering the table leaves no lock behind. */
  {
    pid_t k = fork();
    if(k == 0) {
      for(;;) {
        vmb_ratelimit_take("agent-killed", &v);
      }
    }
    usleep(50000);
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    vmb_ratelimit_take("agent-killed", &v);        /* must not hang */
    CHECK(!v.allowed);                               /* child used it up */
    vmb_ratelimit_take("agent-after-kill", &v);
    CHECK(v.allowed);
  }
  vmb_ratelimit_cleanup();

  /* Refusals: RUN_DIR writable by others. */
  {
    char bad[300];
    struct vmb_config c2 = cfg;
    snprintf(bad, sizeof(bad), "%s/open", base);
    mkdir(bad, 0777);
    chmod(bad, 0777);
    c2.run_dir = bad;
    CHECK_INT(vmb_ratelimit_init(&c2, err, sizeof(err)), -1);
    CHECK(strstr(err, "RUN_DIR") != NULL);
    rmdir(bad);
  }

  /* Disabled: everything passes. */
  {
    struct vmb_config c3 = cfg;
    c3.rate_limit_enabled = false;
    CHECK_INT(vmb_ratelimit_init(&c3, err, sizeof(err)), 0);
    vmb_ratelimit_take(subject, &v);
    CHECK(v.allowed);
    vmb_ratelimit_cleanup();
  }

  vmb_test_rmtree(base);
  return harness_result("ratelimit");
}
