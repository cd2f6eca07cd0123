/*
** test_observability.c - unit tests of metrics.c, trace.c and the log
** tail of observability.c (issue 9). One ctest per case: the case name is
** passed as argv[1] and used as the cmocka filter.
*/
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "observability.h"
#include "ops.h"
#include "ops_table.h"
#include "trace.h"
#include "vmb/buf.h"
#include "vmb/config.h"
#include "../lib/testtmp.h"

/* ---- helpers ------------------------------------------------------- */

/* vmb_metrics_init with the label sets of the real operation table, as
   start-up passes them. */
static int metrics_init_table(const struct vmb_config *cfg, char *err, size_t errlen)
{
  static struct vmb_metrics_op rows[512];
  size_t i;
  if(vmb_n_ops > sizeof(rows) / sizeof(rows[0]))
    return -1;
  for(i = 0; i < vmb_n_ops; i++) {
    rows[i].id = vmb_ops[i].id;
    rows[i].method = vmb_ops[i].method;
    rows[i].path = vmb_ops[i].path;
  }
  return vmb_metrics_init(cfg, rows, vmb_n_ops, err, errlen);
}

static char *make_dir(void)
{
  char tmpl[512];
  char *d = vmb_test_mkdtemp(tmpl, sizeof(tmpl), "vmb-obs");
  assert_non_null(d);
  return strdup(d);
}

static void rm_dir(const char *dir)
{
  vmb_test_rmtree(dir);
}

static void init_metrics(const char *dir)
{
  struct vmb_config cfg;
  char err[256];
  memset(&cfg, 0, sizeof(cfg));
  cfg.run_dir = (char *)dir;
  assert_int_equal(metrics_init_table(&cfg, err, sizeof(err)), 0);
}

/* Render and return a malloc'ed copy of the exposition text. */
static char *render(void)
{
  struct vmb_buf b;
  char *s;
  vmb_buf_init(&b, 8u << 20);
  assert_int_equal(vmb_metrics_render(&b), 0);
  s = vmb_buf_steal(&b);
  return s;
}

/* Value of the sample whose text (name + labels) is exactly `series`;
   -1 when absent. */
static long long sample(const char *text, const char *series)
{
  size_t n = strlen(series);
  const char *p = text;
  while((p = strstr(p, series)) != NULL) {
    if((p == text || p[-1] == '\n') && p[n] == ' ')
      return strtoll(p + n + 1, NULL, 10);
    p += n;
  }
  return -1;
}

static void write_file(const char *path, const char *data)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(data, f);
  fclose(f);
}

/* ---- trace context ------------------------------------------------- */

static void traceparent_valid(void **state)
{
  uint8_t t[16], s[8], f;
  (void)state;
  assert_int_equal(vmb_traceparent_parse(
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", t, s, &f), 0);
  assert_int_equal(t[0], 0x4b);
  assert_int_equal(t[15], 0x36);
  assert_int_equal(s[0], 0x00);
  assert_int_equal(s[7], 0xb7);
  assert_int_equal(f, 1);
  /* A future version may carry more fields after a dash. */
  assert_int_equal(vmb_traceparent_parse(
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra", t, s, &f), 0);
  assert_int_equal(f, 0);
}

static void traceparent_invalid(void **state)
{
  static const char *const bad[] = {
    "",
    "00",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
    " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
  };
  uint8_t t[16], s[8], f;
  size_t i;
  (void)state;
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if(vmb_traceparent_parse(bad[i], t, s, &f) == 0)
      fail_msg("accepted: \"%s\"", bad[i]);
  }
  assert_int_not_equal(vmb_traceparent_parse(NULL, t, s, &f), 0);
}

/* ---- metrics ------------------------------------------------------- */

#define CHILDREN 4
#define PER_CHILD 5000

/* Several processes map the file at the same moment (init race), count
   concurrently, and one dies by SIGKILL without cleaning up: the totals
   are exact and only live workers are reported. */
static void metrics_multiprocess_exact(void **state)
{
  char *dir = make_dir(), *text;
  pid_t pids[CHILDREN];
  int i, ok = 0;
  (void)state;
  for(i = 0; i < CHILDREN; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if(pids[i] == 0) {
      struct vmb_config cfg;
      char err[256];
      int k;
      memset(&cfg, 0, sizeof(cfg));
      cfg.run_dir = dir;
      if(metrics_init_table(&cfg, err, sizeof(err)))
        _exit(3);
      for(k = 0; k < PER_CHILD; k++) {
        vmb_metrics_inflight(1);
        vmb_metrics_request("GET", k % 2 ? "/healthz" : "/no/such", k % 3 ? 200 : 404,
                            (uint64_t)(k % 7) * 300, k % 5 == 0);
        vmb_metrics_vault("sys.health", 200, 1500);
        vmb_metrics_inflight(-1);
      }
      if(i == 0) {
        vmb_metrics_inflight(1);       /* dies in the middle of a request */
        raise(SIGKILL);
      }
      vmb_metrics_cleanup();
      _exit(0);
    }
  }
  for(i = 0; i < CHILDREN; i++) {
    int st;
    assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
    if(i == 0)
      assert_true(WIFSIGNALED(st));
    else if(WIFEXITED(st) && WEXITSTATUS(st) == 0)
      ok++;
  }
  assert_int_equal(ok, CHILDREN - 1);
  init_metrics(dir);
  text = render();
  {
    long long h200 = sample(text, "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}");
    long long h404 = sample(text, "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"404\"}");
    long long u200 = sample(text, "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"200\"}");
    long long u404 = sample(text, "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}");
    assert_int_equal(h200 + h404 + u200 + u404, (long long)CHILDREN * PER_CHILD);
    assert_int_equal(sample(text, "http_requests_with_correlation_total"),
                     (long long)CHILDREN * (PER_CHILD / 5));
    assert_int_equal(sample(text, "vault_requests_total{operation=\"sys.health\",status=\"200\"}"),
                     (long long)CHILDREN * PER_CHILD);
    assert_int_equal(sample(text, "vault_request_duration_seconds_count{operation=\"sys.health\"}"),
                     (long long)CHILDREN * PER_CHILD);
    /* Only this process is alive; the dead one's in-flight request is
       not reported. */
    assert_int_equal(sample(text, "worker_processes"), 1);
    assert_int_equal(sample(text, "http_requests_in_flight"), 0);
  }
  free(text);
  vmb_metrics_cleanup();
  rm_dir(dir);
  free(dir);
}

static void metrics_bounded_labels(void **state)
{
  char *dir = make_dir(), *text;
  (void)state;
  init_metrics(dir);
  vmb_metrics_request("BREW", "/secrets/alice/db-password", 999, 100, false);
  vmb_metrics_request("GET", vmb_ops[0].path, 200, 20000000, false);
  vmb_metrics_auth_failure("api_key", "unknown_key");
  vmb_metrics_auth_failure("smoke-signals", "sk-live-planted-secret");
  vmb_metrics_vault("kv/data/alice/secret", 0, 10);
  vmb_metrics_tool_call(vmb_ops[0].id, true);
  vmb_metrics_tool_call("no.such.tool", false);
  vmb_metrics_rate_limited();
  text = render();
  assert_int_equal(sample(text, "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"other\"}"), 1);
  {
    char want[256];
    snprintf(want, sizeof(want),
             "http_request_duration_seconds_bucket{method=\"GET\",route=\"%s\",status=\"200\",le=\"10\"}",
             vmb_ops[0].path);
    assert_int_equal(sample(text, want), 0);      /* 20 s is above 10 s */
    snprintf(want, sizeof(want),
             "http_request_duration_seconds_bucket{method=\"GET\",route=\"%s\",status=\"200\",le=\"+Inf\"}",
             vmb_ops[0].path);
    assert_int_equal(sample(text, want), 1);
    snprintf(want, sizeof(want), "mcp_tool_calls_total{tool=\"%s\",outcome=\"ok\"}", vmb_ops[0].id);
    assert_int_equal(sample(text, want), 1);
  }
  assert_int_equal(sample(text, "auth_failures_total{mode=\"api_key\",reason=\"unknown_key\"}"), 1);
  assert_int_equal(sample(text, "auth_failures_total{mode=\"other\",reason=\"other\"}"), 1);
  assert_int_equal(sample(text, "vault_requests_total{operation=\"other\",status=\"unreachable\"}"), 1);
  assert_int_equal(sample(text, "rate_limited_total"), 1);
  assert_null(strstr(text, "alice"));
  assert_null(strstr(text, "planted"));
  assert_null(strstr(text, "BREW"));
  assert_null(strstr(text, "no.such.tool"));
  free(text);
  vmb_metrics_cleanup();
  rm_dir(dir);
  free(dir);
}

/* A file of another layout (older version, other op table) is replaced. */
static void metrics_layout_mismatch_recreates(void **state)
{
  char *dir = make_dir(), path[512], *text;
  int fd;
  (void)state;
  snprintf(path, sizeof(path), "%s/metrics.shm", dir);
  fd = open(path, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "not a metrics file", 18), 18);
  close(fd);
  init_metrics(dir);
  vmb_metrics_rate_limited();
  text = render();
  assert_int_equal(sample(text, "rate_limited_total"), 1);
  free(text);
  vmb_metrics_cleanup();
  /* Same size, wrong magic: also replaced, counters start from zero. */
  {
    struct stat st;
    char *zeros;
    assert_int_equal(stat(path, &st), 0);
    zeros = calloc(1, (size_t)st.st_size);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, zeros, (size_t)st.st_size), st.st_size);
    close(fd);
    free(zeros);
  }
  init_metrics(dir);
  text = render();
  assert_int_equal(sample(text, "rate_limited_total"), 0);
  free(text);
  vmb_metrics_cleanup();
  rm_dir(dir);
  free(dir);
}

static void metrics_summary_recent(void **state)
{
  char *dir = make_dir();
  struct vmb_metrics_summary s;
  (void)state;
  init_metrics(dir);
  vmb_metrics_request("GET", "/x", 200, 10, false);
  vmb_metrics_request("GET", "/x", 404, 10, false);
  vmb_metrics_request("GET", "/x", 503, 10, false);
  vmb_metrics_auth_failure("jwt", "expired");
  vmb_metrics_vault("sys.health", 0, 10);
  vmb_metrics_inflight(1);
  assert_int_equal(vmb_metrics_summary(&s, 5), 0);
  assert_int_equal(s.requests_total, 3);
  assert_int_equal(s.requests_4xx, 1);
  assert_int_equal(s.requests_5xx, 1);
  assert_int_equal(s.recent_requests, 3);
  assert_int_equal(s.recent_auth_failures, 1);
  assert_int_equal(s.recent_vault_errors, 1);
  assert_int_equal(s.in_flight, 1);
  assert_int_equal(s.worker_processes, 1);
  assert_int_equal(s.window_seconds, 300);
  vmb_metrics_inflight(-1);
  vmb_metrics_cleanup();
  rm_dir(dir);
  free(dir);
}

/* ---- log tail ------------------------------------------------------ */

static long tail(const char *path, size_t n, size_t max, char **out, bool *trunc)
{
  struct vmb_buf b;
  long got;
  vmb_buf_init(&b, max + 16);
  got = vmb_tail_lines(path, n, max, &b, trunc);
  *out = vmb_buf_steal(&b);
  return got;
}

static void tail_empty_and_missing(void **state)
{
  char *dir = make_dir(), path[512], *out;
  bool trunc;
  (void)state;
  snprintf(path, sizeof(path), "%s/none.log", dir);
  assert_int_equal(tail(path, 10, 1 << 20, &out, &trunc), 0);
  assert_string_equal(out, "");
  free(out);
  write_file(path, "");
  assert_int_equal(tail(path, 10, 1 << 20, &out, &trunc), 0);
  assert_string_equal(out, "");
  assert_false(trunc);
  free(out);
  assert_int_equal(tail(dir, 10, 1 << 20, &out, &trunc), -1);   /* a directory */
  free(out);
  rm_dir(dir);
  free(dir);
}

static void tail_basic(void **state)
{
  char *dir = make_dir(), path[512], *out;
  bool trunc;
  (void)state;
  snprintf(path, sizeof(path), "%s/a.log", dir);
  write_file(path, "one\ntwo\nthree\n");
  assert_int_equal(tail(path, 2, 1 << 20, &out, &trunc), 2);
  assert_string_equal(out, "two\nthree\n");
  free(out);
  assert_int_equal(tail(path, 50, 1 << 20, &out, &trunc), 3);
  assert_string_equal(out, "one\ntwo\nthree\n");
  free(out);
  assert_int_equal(tail(path, 1, 1 << 20, &out, &trunc), 1);
  assert_string_equal(out, "three\n");
  free(out);
  /* A last line without its newline yet. */
  write_file(path, "one\ntwo\nthr");
  assert_int_equal(tail(path, 2, 1 << 20, &out, &trunc), 2);
  assert_string_equal(out, "two\nthr\n");
  free(out);
  /* Lines spanning the 64 KiB read chunks. */
  {
    FILE *f = fopen(path, "w");
    int i;
    assert_non_null(f);
    for(i = 0; i < 20000; i++)
      fprintf(f, "line-%05d-%s\n", i, "padding-padding-padding");
    fclose(f);
    assert_int_equal(tail(path, 1000, 1 << 22, &out, &trunc), 1000);
    assert_true(strncmp(out, "line-19000-", 11) == 0);
    assert_non_null(strstr(out, "line-19999-padding-padding-padding\n"));
    assert_false(trunc);
    free(out);
  }
  rm_dir(dir);
  free(dir);
}

/* Rotation: the path now names a new (or truncated) file; the tail
   follows the path, not an old descriptor. */
static void tail_rotated(void **state)
{
  char *dir = make_dir(), path[512], old[512], *out;
  bool trunc;
  (void)state;
  snprintf(path, sizeof(path), "%s/r.log", dir);
  snprintf(old, sizeof(old), "%s/r.log.1", dir);
  write_file(path, "old-1\nold-2\n");
  assert_int_equal(rename(path, old), 0);
  assert_int_equal(tail(path, 5, 1 << 20, &out, &trunc), 0);   /* not yet recreated */
  free(out);
  write_file(path, "new-1\n");
  assert_int_equal(tail(path, 5, 1 << 20, &out, &trunc), 1);
  assert_string_equal(out, "new-1\n");
  free(out);
  assert_int_equal(truncate(path, 0), 0);                       /* copytruncate */
  assert_int_equal(tail(path, 5, 1 << 20, &out, &trunc), 0);
  free(out);
  rm_dir(dir);
  free(dir);
}

/* A 4 GiB file (sparse) with lines at its end answers at once; a
   single line longer than the byte budget yields nothing, truncated. */
static void tail_huge(void **state)
{
  char *dir = make_dir(), path[512], *out;
  bool trunc;
  struct timespec a, b;
  int fd;
  (void)state;
  snprintf(path, sizeof(path), "%s/h.log", dir);
  fd = open(path, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)4 << 30), 0);
  assert_true(lseek(fd, 0, SEEK_END) > 0);
  assert_int_equal(write(fd, "\nlast-a\nlast-b\n", 15), 15);
  close(fd);
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(tail(path, 2, 1 << 20, &out, &trunc), 2);
  clock_gettime(CLOCK_MONOTONIC, &b);
  assert_string_equal(out, "last-a\nlast-b\n");
  free(out);
  assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 500);
  /* More lines wanted than the budget allows: partial answer, flagged;
     the line cut by the budget is dropped, not returned half. */
  assert_int_equal(tail(path, 10, 1 << 20, &out, &trunc), 2);
  assert_true(trunc);
  assert_string_equal(out, "last-a\nlast-b\n");
  free(out);
  /* One enormous line at the end. */
  fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  {
    char *big = malloc(3 << 20);
    memset(big, 'x', 3 << 20);
    assert_int_equal(write(fd, big, 3 << 20), 3 << 20);
    free(big);
  }
  close(fd);
  assert_int_equal(tail(path, 3, 1 << 20, &out, &trunc), 0);
  assert_true(trunc);
  assert_string_equal(out, "");
  free(out);
  rm_dir(dir);
  free(dir);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(traceparent_valid),
    cmocka_unit_test(traceparent_invalid),
    cmocka_unit_test(metrics_multiprocess_exact),
    cmocka_unit_test(metrics_bounded_labels),
    cmocka_unit_test(metrics_layout_mismatch_recreates),
    cmocka_unit_test(metrics_summary_recent),
    cmocka_unit_test(tail_empty_and_missing),
    cmocka_unit_test(tail_basic),
    cmocka_unit_test(tail_rotated),
    cmocka_unit_test(tail_huge),
  };
  if(argc > 1)
    cmocka_set_test_filter(argv[1]);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
