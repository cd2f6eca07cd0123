/*
** trace.c - spans, W3C trace context and the OTLP/HTTP JSON exporter
** (issue 9, SPEC section 6). See trace.h for the model.
**
** Threads: serving threads only touch their thread-local request context
** and, to hand over a finished span, the queue mutex for a memcpy; the
** exporter thread holds that mutex only to copy a batch out, never
** during network I/O. So a slow or dead collector costs requests nothing:
** the queue fills up and further spans are dropped and counted.
**
** Sampling follows the OpenTelemetry default (parent-based, always on):
** a client traceparent with the sampled flag clear is honoured (ids are
** propagated, nothing is recorded); otherwise every request is recorded.
*/
#include "trace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "metrics.h"
#include "vmb/log.h"
#include "vmb/version.h"

#define QUEUE_MAX 2048           /* spans waiting per process */
#define BATCH_MAX 512            /* spans per export request */
#define BATCH_TRIGGER 256        /* wake the exporter early at this fill */
#define FLUSH_INTERVAL_MS 1000   /* otherwise export at least this often */

enum span_kind { KIND_INTERNAL = 1, KIND_SERVER = 2, KIND_CLIENT = 3 };

/* A finished span, copied by value into the queue. Strings are bounded
   copies of values from our own tables. */
struct span_rec {
  uint8_t trace_id[16], span_id[8], parent_id[8];
  bool has_parent;
  uint8_t kind;
  bool error;
  uint64_t start_ns, end_ns;
  char name[160];
  char method[16];              /* http.request.method */
  char route[128];              /* http.route (server) */
  char op_id[64];               /* vmb.operation / vmb.vault.operation */
  char auth_mode[16];           /* vmb.auth.mode */
  int auth_ok;                  /* -1 unset, 0 failure, 1 ok */
  long status;                  /* http.response.status_code, 0 = unset */
};

/* Set once by vmb_trace_init before serving threads exist. */
static bool enabled;
/* Sends one export document (upstream/otlp.c), handed down at start-up. */
static vmb_trace_sender sender;
static char service_name[128];

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct span_rec *queue;   /* ring of QUEUE_MAX */
static size_t q_head, q_len;
static bool q_stop;
static bool thread_running;
static pthread_t exporter;

bool vmb_trace_enabled(void) { return enabled; }

/* ---- ids and time -------------------------------------------------- */

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool all_zero(const uint8_t *p, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(p[i])
      return false;
  return true;
}

static void random_id(uint8_t *p, size_t n)
{
  do {
    if(RAND_bytes(p, (int)n) != 1) {
      /* Extremely unlikely; ids only need to be unique, not secret. */
      uint64_t t = now_ns() ^ (uint64_t)(uintptr_t)p;
      size_t i;
      for(i = 0; i < n; i++) {
        t = t * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(t >> 56);
      }
    }
  } while(all_zero(p, n));
}

static void to_hex(char *out, const uint8_t *p, size_t n)
{
  static const char hx[] = "0123456789abcdef";
  size_t i;
  for(i = 0; i < n; i++) {
    out[2 * i] = hx[p[i] >> 4];
    out[2 * i + 1] = hx[p[i] & 15];
  }
  out[2 * n] = '\0';
}

/* Lower-case hex only, as trace-context requires. */
static int hex_val(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++) {
    int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
    if(hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

int vmb_traceparent_parse(const char *v, uint8_t trace_id[16],
                          uint8_t span_id[8], uint8_t *flags)
{
  uint8_t version;
  size_t len;
  if(!v)
    return -1;
  len = strlen(v);
  /* version "-" trace-id "-" parent-id "-" flags = 2+1+32+1+16+1+2 */
  if(len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
    return -1;
  if(parse_hex(v, &version, 1) || version == 0xff)
    return -1;
  if(version == 0 && len != 55)
    return -1;
  /* A later version may append fields, always after a '-'. */
  if(len > 55 && v[55] != '-')
    return -1;
  if(parse_hex(v + 3, trace_id, 16) || parse_hex(v + 36, span_id, 8) ||
     parse_hex(v + 53, flags, 1))
    return -1;
  if(all_zero(trace_id, 16) || all_zero(span_id, 8))
    return -1;
  return 0;
}

/* ---- the queue ----------------------------------------------------- */

static void enqueue(const struct span_rec *r)
{
  bool dropped = false;
  pthread_mutex_lock(&q_lock);
  if(!queue || q_stop || q_len >= QUEUE_MAX) {
    dropped = true;
  }
  else {
    queue[(q_head + q_len) % QUEUE_MAX] = *r;
    q_len++;
    if(q_len >= BATCH_TRIGGER)
      pthread_cond_signal(&q_cond);
  }
  pthread_mutex_unlock(&q_lock);
  if(dropped)
    vmb_metrics_spans_dropped(1);
}

/* ---- OTLP JSON ----------------------------------------------------- */

/* Adds {"key":k,"value":{"stringValue":v}} to arr (owned by arr). */
static void attr_str(json_object *arr, const char *k, const char *v)
{
  json_object *a = json_object_new_object(), *val = json_object_new_object();
  json_object_object_add(val, "stringValue", json_object_new_string(v));
  json_object_object_add(a, "key", json_object_new_string(k));
  json_object_object_add(a, "value", val);
  json_object_array_add(arr, a);
}

/* int64 values travel as decimal strings in OTLP/JSON. */
static void attr_int(json_object *arr, const char *k, long v)
{
  char num[32];
  json_object *a = json_object_new_object(), *val = json_object_new_object();
  snprintf(num, sizeof(num), "%ld", v);
  json_object_object_add(val, "intValue", json_object_new_string(num));
  json_object_object_add(a, "key", json_object_new_string(k));
  json_object_object_add(a, "value", val);
  json_object_array_add(arr, a);
}

/* One span as a NEW json object. */
static json_object *span_json(const struct span_rec *r)
{
  char hex[33], num[32];
  json_object *s = json_object_new_object(), *attrs = json_object_new_array();
  json_object *status = json_object_new_object();
  to_hex(hex, r->trace_id, 16);
  json_object_object_add(s, "traceId", json_object_new_string(hex));
  to_hex(hex, r->span_id, 8);
  json_object_object_add(s, "spanId", json_object_new_string(hex));
  if(r->has_parent) {
    to_hex(hex, r->parent_id, 8);
    json_object_object_add(s, "parentSpanId", json_object_new_string(hex));
  }
  json_object_object_add(s, "name", json_object_new_string(r->name));
  json_object_object_add(s, "kind", json_object_new_int(r->kind));
  snprintf(num, sizeof(num), "%llu", (unsigned long long)r->start_ns);
  json_object_object_add(s, "startTimeUnixNano", json_object_new_string(num));
  snprintf(num, sizeof(num), "%llu", (unsigned long long)r->end_ns);
  json_object_object_add(s, "endTimeUnixNano", json_object_new_string(num));
  if(r->method[0])
    attr_str(attrs, "http.request.method", r->method);
  if(r->route[0])
    attr_str(attrs, "http.route", r->route);
  if(r->status)
    attr_int(attrs, "http.response.status_code", r->status);
  if(r->op_id[0])
    attr_str(attrs, r->kind == KIND_CLIENT ? "vmb.vault.operation" : "vmb.operation",
             r->op_id);
  if(r->auth_mode[0])
    attr_str(attrs, "vmb.auth.mode", r->auth_mode);
  if(r->auth_ok >= 0)
    attr_str(attrs, "vmb.auth.outcome", r->auth_ok ? "ok" : "failure");
  json_object_object_add(s, "attributes", attrs);
  json_object_object_add(status, "code", json_object_new_int(r->error ? 2 : 0));
  json_object_object_add(s, "status", status);
  return s;
}

/* The export document for n spans as a NEW json object. */
static json_object *export_doc(const struct span_rec *spans, size_t n)
{
  json_object *root = json_object_new_object(), *rss = json_object_new_array();
  json_object *rs = json_object_new_object(), *res = json_object_new_object();
  json_object *rattrs = json_object_new_array(), *sss = json_object_new_array();
  json_object *ss = json_object_new_object(), *scope = json_object_new_object();
  json_object *arr = json_object_new_array();
  size_t i;
  attr_str(rattrs, "service.name", service_name);
  attr_str(rattrs, "service.version", vmb_version());
  attr_str(rattrs, "telemetry.sdk.language", "c");
  json_object_object_add(res, "attributes", rattrs);
  json_object_object_add(rs, "resource", res);
  json_object_object_add(scope, "name", json_object_new_string("vault-mcp-bridge"));
  json_object_object_add(scope, "version", json_object_new_string(vmb_version()));
  json_object_object_add(ss, "scope", scope);
  for(i = 0; i < n; i++)
    json_object_array_add(arr, span_json(&spans[i]));
  json_object_object_add(ss, "spans", arr);
  json_object_array_add(sss, ss);
  json_object_object_add(rs, "scopeSpans", sss);
  json_object_array_add(rss, rs);
  json_object_object_add(root, "resourceSpans", rss);
  return root;
}

/* Export one batch. true when the collector accepted it. */
static bool post_batch(const struct span_rec *spans, size_t n)
{
  json_object *doc = export_doc(spans, n);
  const char *text = doc ? json_object_to_json_string_ext(
                             doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                         : NULL;
  bool ok = text && sender(text, strlen(text));
  json_object_put(doc);
  return ok;
}

static void *exporter_main(void *arg)
{
  struct span_rec *batch = malloc(sizeof(*batch) * BATCH_MAX);
  bool last_failed = false, warned = false;
  (void)arg;
  pthread_mutex_lock(&q_lock);
  for(;;) {
    size_t n, i;
    if(!q_stop && q_len < BATCH_TRIGGER) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += (long)FLUSH_INTERVAL_MS % 1000 * 1000000L;
      until.tv_sec += FLUSH_INTERVAL_MS / 1000 + until.tv_nsec / 1000000000L;
      until.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&q_cond, &q_lock, &until);
    }
    if(q_len == 0) {
      if(q_stop)
        break;
      continue;
    }
    /* At shutdown, give up on the rest once the collector has failed:
       stopping must not wait for a dead collector batch after batch. */
    if(q_stop && last_failed) {
      vmb_metrics_spans_dropped(q_len);
      q_len = 0;
      break;
    }
    n = q_len < BATCH_MAX ? q_len : BATCH_MAX;
    for(i = 0; batch && i < n; i++)
      batch[i] = queue[(q_head + i) % QUEUE_MAX];
    q_head = (q_head + n) % QUEUE_MAX;
    q_len -= n;
    pthread_mutex_unlock(&q_lock);

    if(batch && post_batch(batch, n)) {
      vmb_metrics_spans_exported(n);
      last_failed = false;
      warned = false;
    }
    else {
      vmb_metrics_spans_dropped(n);
      last_failed = true;
      if(!warned) {
        vmb_log_server(VMB_LOG_WARN, "trace",
                       "span export failed; spans are being dropped");
        warned = true;
      }
    }
    pthread_mutex_lock(&q_lock);
  }
  pthread_mutex_unlock(&q_lock);
  free(batch);
  return NULL;
}

int vmb_trace_init(const struct vmb_config *cfg, vmb_trace_sender send,
                   char *err, size_t errlen)
{
  const char *ep = cfg->otel_exporter_otlp_endpoint;
  if(enabled || !ep || !*ep || !send)
    return 0;
  sender = send;
  snprintf(service_name, sizeof(service_name), "%s",
           cfg->otel_service_name && *cfg->otel_service_name
             ? cfg->otel_service_name : "vault-mcp");
  queue = calloc(QUEUE_MAX, sizeof(*queue));
  if(!queue) {
    snprintf(err, errlen, "tracing: out of memory");
    return -1;
  }
  q_head = q_len = 0;
  q_stop = false;
  if(pthread_create(&exporter, NULL, exporter_main, NULL) != 0) {
    free(queue);
    queue = NULL;
    snprintf(err, errlen, "tracing: cannot start the exporter thread");
    return -1;
  }
  thread_running = true;
  enabled = true;
  return 0;
}

void vmb_trace_cleanup(void)
{
  if(!thread_running)
    return;
  pthread_mutex_lock(&q_lock);
  q_stop = true;
  pthread_cond_signal(&q_cond);
  pthread_mutex_unlock(&q_lock);
  pthread_join(exporter, NULL);
  thread_running = false;
  enabled = false;
  pthread_mutex_lock(&q_lock);
  free(queue);
  queue = NULL;
  pthread_mutex_unlock(&q_lock);
}

/* ---- spans --------------------------------------------------------- */

/* Client-supplied methods are free text: only well-known ones are
   recorded, others become "_OTHER" (OpenTelemetry's convention). */
static const char *bounded_method(const char *m)
{
  static const char *const known[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST"
  };
  size_t i;
  for(i = 0; m && i < sizeof(known) / sizeof(known[0]); i++)
    if(!strcmp(m, known[i]))
      return known[i];
  return "_OTHER";
}

void vmb_trace_request_begin(struct vmb_request *req)
{
  struct vmb_trace_ctx *cur = &req->trace;
  const char *tp;
  memset(cur, 0, sizeof(*cur));
  if(!enabled)
    return;
  tp = vmb_request_header(req, "traceparent");
  if(tp && vmb_traceparent_parse(tp, cur->trace_id, cur->parent_id, &cur->flags) == 0) {
    cur->has_parent = true;
    cur->sampled = (cur->flags & 1) != 0;
  }
  else {
    random_id(cur->trace_id, 16);
    cur->flags = 1;
    cur->sampled = true;
  }
  random_id(cur->span_id, 8);
  cur->start_ns = now_ns();
  cur->active = true;
  to_hex(req->trace_id, cur->trace_id, 16);
}

static void rec_base(struct span_rec *r, const uint8_t trace_id[16],
                     const uint8_t span_id[8], uint64_t start_ns, uint8_t kind)
{
  memset(r, 0, sizeof(*r));
  memcpy(r->trace_id, trace_id, 16);
  memcpy(r->span_id, span_id, 8);
  r->kind = kind;
  r->start_ns = start_ns;
  r->end_ns = now_ns();
  r->auth_ok = -1;
}

void vmb_trace_request_end(struct vmb_request *req, const char *op_id,
                           const char *route, int status)
{
  struct vmb_trace_ctx *cur = &req->trace;
  struct span_rec r;
  const char *m;
  if(!cur->active)
    return;
  if(cur->sampled) {
    bool matched = route && strcmp(route, "unmatched") != 0;
    m = bounded_method(req->method);
    rec_base(&r, cur->trace_id, cur->span_id, cur->start_ns, KIND_SERVER);
    if(cur->has_parent) {
      memcpy(r.parent_id, cur->parent_id, 8);
      r.has_parent = true;
    }
    /* Span name: "{method} {route template}", or the method alone when
       no route matched (never the raw path). */
    if(matched)
      snprintf(r.name, sizeof(r.name), "%s %s", m, route);
    else
      snprintf(r.name, sizeof(r.name), "%s", m);
    snprintf(r.method, sizeof(r.method), "%s", m);
    if(matched)
      snprintf(r.route, sizeof(r.route), "%s", route);
    if(op_id)
      snprintf(r.op_id, sizeof(r.op_id), "%s", op_id);
    r.status = status;
    r.error = status >= 500;
    enqueue(&r);
  }
  memset(cur, 0, sizeof(*cur));
}

void vmb_trace_span_begin(struct vmb_trace_span *s, const struct vmb_trace_ctx *parent)
{
  memset(s, 0, sizeof(*s));
  if(!parent || !parent->active)
    return;
  s->sampled = parent->sampled;
  memcpy(s->trace_id, parent->trace_id, 16);
  memcpy(s->parent_id, parent->span_id, 8);
  random_id(s->span_id, 8);
  s->start_ns = now_ns();
  s->active = true;
}

static void child_base(struct span_rec *r, const struct vmb_trace_span *s,
                       uint8_t kind)
{
  rec_base(r, s->trace_id, s->span_id, s->start_ns, kind);
  memcpy(r->parent_id, s->parent_id, 8);
  r->has_parent = true;
}

void vmb_trace_auth_end(struct vmb_trace_span *s, const char *mode, bool ok)
{
  static const char *const modes[] = {"api_key", "jwt", "mtls", "none", "stdio"};
  struct span_rec r;
  size_t i;
  if(!s->active || !s->sampled) {
    s->active = false;
    return;
  }
  child_base(&r, s, KIND_INTERNAL);
  snprintf(r.name, sizeof(r.name), "authenticate");
  snprintf(r.auth_mode, sizeof(r.auth_mode), "other");
  for(i = 0; mode && i < sizeof(modes) / sizeof(modes[0]); i++)
    if(!strcmp(mode, modes[i]))
      snprintf(r.auth_mode, sizeof(r.auth_mode), "%s", modes[i]);
  r.auth_ok = ok ? 1 : 0;
  r.error = !ok;
  enqueue(&r);
  s->active = false;
}

void vmb_trace_client_end(struct vmb_trace_span *s, const char *upstream,
                          const char *method, const char *op, long status)
{
  struct span_rec r;
  if(!s->active || !s->sampled) {
    s->active = false;
    return;
  }
  child_base(&r, s, KIND_CLIENT);
  snprintf(r.name, sizeof(r.name), "%s %s", upstream ? upstream : "upstream",
           op ? op : "call");
  snprintf(r.method, sizeof(r.method), "%s", bounded_method(method));
  if(op)
    snprintf(r.op_id, sizeof(r.op_id), "%s", op);
  r.status = status;
  r.error = status == 0 || status >= 400;
  enqueue(&r);
  s->active = false;
}

int vmb_trace_header(const struct vmb_trace_span *s, char *out, size_t outlen)
{
  char t[33], p[17];
  int n;
  if(!s->active)
    return -1;
  to_hex(t, s->trace_id, 16);
  to_hex(p, s->span_id, 8);
  n = snprintf(out, outlen, "traceparent: 00-%s-%s-%02x", t, p,
               (unsigned)(s->sampled ? 1 : 0));
  return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
