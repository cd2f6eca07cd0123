/*
** observability.c - GET /metrics, GET /observability/summary and
** GET /observability/logs/{stream} (issue 9, SPEC section 6).
*/
#include "observability.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "metrics.h"
#include "trace.h"
#include "util.h"
#include "vault.h"
#include "vmb/arena.h"
#include "vmb/log.h"
#include "vmb/version.h"

#define METRICS_BODY_MAX (4u * 1024u * 1024u)
#define TAIL_CHUNK 65536
#define TAIL_MAX_BYTES (4u * 1024u * 1024u)   /* looked at per request */
#define TAIL_DEFAULT_LINES 100
#define RECENT_WINDOW_MINUTES 5

/* ---- /metrics ------------------------------------------------------ */

/*
** A document result: the body is Prometheus text, not JSON. The rendered
** text is handed to the request arena, which frees it after the answer.
*/
enum vmb_err vmb_h_metrics(struct vmb_call *c)
{
  struct vmb_buf text;
  size_t len;
  char *body;
  vmb_buf_init(&text, METRICS_BODY_MAX);
  if(vmb_metrics_render(&text) || !text.data) {
    vmb_buf_free(&text);
    c->detail = "metrics are unavailable";
    return VMB_ERR_INTERNAL;
  }
  len = text.len;
  body = vmb_buf_steal(&text);
  if(!body || vmb_arena_defer(c->req->arena, free, body)) {
    free(body);
    return VMB_ERR_NOMEM;
  }
  c->document.content_type = c->op->produces;
  c->document.body = body;
  c->document.len = len;
  return VMB_ERR_OK;
}

/* ---- /observability/summary ---------------------------------------- */

static void add_u64(json_object *o, const char *k, uint64_t v)
{
  json_object_object_add(o, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

/*
** Vault status comes from one sys/health call (it needs no token); the
** rest is read from the shared metrics, so in_flight and the error counts
** cover the whole pool, not just the worker that answers.
*/
enum vmb_err vmb_h_obs_summary(struct vmb_call *c)
{
  struct vmb_metrics_summary s;
  struct vmb_vault_reply r;
  json_object *vault = json_object_new_object(), *pool = json_object_new_object();
  json_object *reqs = json_object_new_object(), *recent = json_object_new_object();
  json_object *tracing = json_object_new_object();
  uint64_t t0 = vmb_monotonic_us();
  double now = vmb_now();
  const char *vault_state;

  vmb_vault_call(c->req, "sys.health", "GET",
                 "sys/health?standbyok=true&perfstandbyok=true", NULL, "", &r);
  json_object_object_add(vault, "reachable", json_object_new_boolean(r.status != 0));
  if(r.status == 0) {
    vault_state = "unreachable";
    if(r.failure)   /* e.g. tls_unknown_ca: see vault.c classify_failure */
      json_object_object_add(vault, "reason", json_object_new_string(r.failure));
  }
  else {
    json_object *sealed = NULL, *init = NULL, *standby = NULL;
    if(r.body) {
      json_object_object_get_ex(r.body, "sealed", &sealed);
      json_object_object_get_ex(r.body, "initialized", &init);
      json_object_object_get_ex(r.body, "standby", &standby);
    }
    json_object_object_add(vault, "http_status", json_object_new_int((int)r.status));
    if(sealed && json_object_is_type(sealed, json_type_boolean))
      json_object_object_add(vault, "sealed", json_object_new_boolean(json_object_get_boolean(sealed)));
    if(init && json_object_is_type(init, json_type_boolean))
      json_object_object_add(vault, "initialized", json_object_new_boolean(json_object_get_boolean(init)));
    if(standby && json_object_is_type(standby, json_type_boolean))
      json_object_object_add(vault, "standby", json_object_new_boolean(json_object_get_boolean(standby)));
    if(sealed && json_object_get_boolean(sealed))
      vault_state = "sealed";
    else if(init && !json_object_get_boolean(init))
      vault_state = "uninitialized";
    else if(r.status == 200 || r.status == 429 || r.status == 472 || r.status == 473)
      vault_state = "ok";
    else
      vault_state = "error";
  }
  json_object_object_add(vault, "status", json_object_new_string(vault_state));
  json_object_object_add(vault, "latency_ms",
                         json_object_new_double((double)(vmb_monotonic_us() - t0) / 1000.0));

  c->result = json_object_new_object();
  json_object_object_add(c->result, "service", json_object_new_string("vault-mcp-bridge"));
  json_object_object_add(c->result, "version", json_object_new_string(vmb_version()));
  json_object_object_add(c->result, "api", json_object_new_string("ok"));
  json_object_object_add(c->result, "vault", vault);
  if(vmb_metrics_summary(&s, RECENT_WINDOW_MINUTES) == 0) {
    json_object_object_add(c->result, "uptime_seconds",
                           json_object_new_int64((int64_t)(now - s.process_start)));
    json_object_object_add(pool, "worker_processes", json_object_new_int((int)s.worker_processes));
    json_object_object_add(pool, "in_flight", json_object_new_int64(s.in_flight));
    json_object_object_add(pool, "uptime_seconds",
                           json_object_new_int64((int64_t)(now - s.pool_created)));
    add_u64(reqs, "total", s.requests_total);
    add_u64(reqs, "client_errors", s.requests_4xx);
    add_u64(reqs, "server_errors", s.requests_5xx);
    json_object_object_add(recent, "window_seconds", json_object_new_int((int)s.window_seconds));
    add_u64(recent, "requests", s.recent_requests);
    add_u64(recent, "client_errors", s.recent_4xx);
    add_u64(recent, "server_errors", s.recent_5xx);
    add_u64(recent, "auth_failures", s.recent_auth_failures);
    add_u64(recent, "rate_limited", s.recent_rate_limited);
    add_u64(recent, "vault_errors", s.recent_vault_errors);
    add_u64(tracing, "spans_exported", s.spans_exported);
    add_u64(tracing, "spans_dropped", s.spans_dropped);
  }
  json_object_object_add(tracing, "enabled", json_object_new_boolean(vmb_trace_enabled()));
  json_object_object_add(c->result, "pool", pool);
  json_object_object_add(c->result, "requests", reqs);
  json_object_object_add(c->result, "recent", recent);
  json_object_object_add(c->result, "tracing", tracing);
  return VMB_ERR_OK;
}

/* ---- /observability/logs/{stream} ---------------------------------- */

/* Read exactly n bytes at off unless the file ends first; returns the
   count read or -1. */
static ssize_t pread_full(int fd, char *buf, size_t n, off_t off)
{
  size_t got = 0;
  while(got < n) {
    ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
    if(r < 0) {
      if(errno == EINTR)
        continue;
      return -1;
    }
    if(r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/*
** One attempt on an open descriptor. Returns lines found, -1 on error, or
** -2 when the file shrank underneath us (the caller retries).
*/
static long tail_fd(int fd, size_t want, size_t max_bytes, struct vmb_buf *out,
                    bool *truncated)
{
  struct stat st;
  off_t size, pos, start = 0, floor_off;
  char *chunk;
  size_t seen = 0, body_len, i;
  long lines = 0;
  bool found = false;

  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return -1;
  size = st.st_size;
  if(size == 0 || want == 0)
    return 0;
  floor_off = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
  chunk = malloc(TAIL_CHUNK);
  if(!chunk)
    return -1;
  /* Walk back from the end counting newlines; the newline that ends the
     last line is not a separator. */
  pos = size;
  while(pos > floor_off && !found) {
    off_t from = pos - TAIL_CHUNK > floor_off ? pos - TAIL_CHUNK : floor_off;
    size_t n = (size_t)(pos - from);
    ssize_t r = pread_full(fd, chunk, n, from);
    if(r < 0) {
      free(chunk);
      return -1;
    }
    if((size_t)r < n) {
      free(chunk);
      return -2;
    }
    for(i = n; i-- > 0;) {
      off_t at = from + (off_t)i;
      if(chunk[i] != '\n' || at == size - 1)
        continue;
      if(++seen == want) {
        start = at + 1;
        found = true;
        break;
      }
    }
    pos = from;
  }
  free(chunk);
  if(!found && floor_off > 0) {
    /* The byte budget ran out first: start after the first newline inside
       the window, so no partial line is returned. */
    char *win = malloc(TAIL_CHUNK);
    off_t p = floor_off;
    bool nl = false;
    *truncated = true;
    if(!win)
      return -1;
    /* floor_off - 1 == '\n' means the window starts on a line boundary. */
    if(floor_off > 0) {
      char prev;
      if(pread_full(fd, &prev, 1, floor_off - 1) == 1 && prev == '\n')
        nl = true;
    }
    while(!nl && p < size) {
      size_t n = size - p > TAIL_CHUNK ? TAIL_CHUNK : (size_t)(size - p);
      ssize_t r = pread_full(fd, win, n, p);
      char *q;
      if(r <= 0)
        break;
      q = memchr(win, '\n', (size_t)r);
      if(q) {
        p += (off_t)(q - win) + 1;
        nl = true;
        break;
      }
      p += r;
    }
    free(win);
    if(!nl || p >= size)
      return 0;
    start = p;
  }
  /* Read the tail forwards into out. */
  body_len = (size_t)(size - start);
  {
    size_t before = out->len;
    char *buf = malloc(body_len + 1);
    ssize_t r;
    if(!buf)
      return -1;
    r = pread_full(fd, buf, body_len, start);
    if(r < 0 || (size_t)r < body_len) {
      free(buf);
      return r < 0 ? -1 : -2;
    }
    for(i = 0; i < body_len; i++)
      if(buf[i] == '\n')
        lines++;
    if(body_len && buf[body_len - 1] != '\n') {
      buf[body_len++] = '\n';   /* a last line still being written */
      lines++;
    }
    if(vmb_buf_append(out, buf, body_len)) {
      free(buf);
      out->len = before;
      return -1;
    }
    free(buf);
  }
  return lines;
}

long vmb_tail_lines(const char *path, size_t want, size_t max_bytes,
                    struct vmb_buf *out, bool *truncated)
{
  int attempt;
  *truncated = false;
  for(attempt = 0; attempt < 3; attempt++) {
    long n;
    size_t keep = out->len;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if(fd < 0)
      return errno == ENOENT ? 0 : -1;
    n = tail_fd(fd, want, max_bytes, out, truncated);
    close(fd);
    if(n != -2)
      return n;
    out->len = keep;
    if(out->data)
      out->data[keep] = '\0';
    *truncated = false;
  }
  return 0;
}

static const struct {
  const char *name;
  enum vmb_log_stream stream;
} log_streams[] = {
  {"requests", VMB_LOG_REQUESTS},
  {"responses", VMB_LOG_RESPONSES},
  {"server", VMB_LOG_SERVER},
};

enum vmb_err vmb_h_obs_logs(struct vmb_call *c)
{
  json_object *jv = NULL, *arr;
  const char *name = NULL, *path = NULL, *p;
  long want = TAIL_DEFAULT_LINES, n;
  size_t i;
  bool truncated = false;
  struct vmb_buf text;

  if(json_object_object_get_ex(c->args, "stream", &jv))
    name = json_object_get_string(jv);
  for(i = 0; name && i < sizeof(log_streams) / sizeof(log_streams[0]); i++)
    if(!strcmp(name, log_streams[i].name)) {
      path = vmb_log_path(log_streams[i].stream);
      break;
    }
  if(!name || i == sizeof(log_streams) / sizeof(log_streams[0])) {
    c->detail = "stream must be requests, responses or server";
    return VMB_ERR_BAD_REQUEST;
  }
  if(!path) {
    c->detail = "logs are written to stderr, not to files (LOG_DIR is empty)";
    return VMB_ERR_NOT_FOUND;
  }
  if(json_object_object_get_ex(c->args, "lines", &jv))
    want = (long)json_object_get_int64(jv);
  if(want < 1 || want > 1000) {
    c->detail = "lines must be between 1 and 1000";
    return VMB_ERR_BAD_REQUEST;
  }

  vmb_buf_init(&text, TAIL_MAX_BYTES + 2);
  n = vmb_tail_lines(path, (size_t)want, TAIL_MAX_BYTES, &text, &truncated);
  if(n < 0) {
    vmb_buf_free(&text);
    c->detail = "the log file cannot be read";
    return VMB_ERR_INTERNAL;
  }
  arr = json_object_new_array();
  c->result = json_object_new_object();
  /* Each line is our own JSON; one that does not parse (foreign or
     damaged) is returned as a string rather than dropped. */
  for(p = text.data; p && p < text.data + text.len;) {
    size_t left = (size_t)(text.data + text.len - p);
    const char *nl = memchr(p, '\n', left);
    size_t len = nl ? (size_t)(nl - p) : left;
    json_object *line = len ? vmb_json_parse(p, len, 16) : NULL;
    if(!line)
      line = json_object_new_string_len(p, (int)len);
    json_object_array_add(arr, line);
    p += len + (nl ? 1 : 0);
  }
  vmb_buf_free(&text);
  json_object_object_add(c->result, "stream", json_object_new_string(name));
  json_object_object_add(c->result, "requested", json_object_new_int((int)want));
  json_object_object_add(c->result, "count", json_object_new_int((int)json_object_array_length(arr)));
  json_object_object_add(c->result, "truncated", json_object_new_boolean(truncated));
  json_object_object_add(c->result, "lines", arr);
  return VMB_ERR_OK;
}
