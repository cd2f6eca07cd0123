/*
** probe.c - background health probes behind vault_up and kms_up
** (issue 22; see probe.h for the model).
**
** Vault: GET /v1/sys/health with standbyok, perfstandbyok, sealedcode=200
** and uninitcode=200, so every state Vault can be in answers 200 with its
** JSON and is read from the body; no token is sent (sys/health needs
** none). KMS: a GET of the endpoint root; any HTTP answer means the
** endpoint is reachable (credentials are /readyz's business). A failure
** is classified into the bounded reason list of metrics.h from the
** outbound client's cause (libcurl's result and the socket errno): an
** operator can tell "nothing listens" (refused) from "no route"
** (unreachable), "no answer in time" (timeout), a name that does not
** resolve (dns) and a TLS failure (tls).
**
** Both probes go through the one outbound client (http_client.c), so they
** follow its rules: no proxy from the environment, http/https only, no
** redirects, a reply cap, and each call counted in upstream_* under
** "vault" or "kms". The Vault probe uses Vault's TLS settings
** (vmb_vault_upstream) with the probe's shorter timeouts. A probe belongs
** to no request, so it records no span. The thread owns its connection
** set; nothing else touches it.
*/
#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "http_client.h"
#include "metrics.h"
#include "util.h"
#include "vault.h"
#include "vmb/buf.h"

#define PROBE_REPLY_MAX (64u * 1024u)
#define PROBE_TIMEOUT_MAX_MS 5000L

/* The settings this module reads, taken at start-up (vmb_probe_start).
   Strings are BORROWED from the configuration, which outlives the thread. */
static struct {
  const char *vault_addr;           /* VAULT_ADDR */
  long timeout_ms;                  /* VAULT_TIMEOUT_MS (capped) */
  bool kms_enabled;                 /* AWS_KMS_ENABLED */
  const char *kms_endpoint;         /* AWS_KMS_ENDPOINT */
  const char *aws_region;           /* AWS_REGION */
  long interval_s;                  /* HEALTH_PROBE_SECONDS */
} conf;
/* How the probes reach their targets: copies of the serving threads'
   upstreams with the probe's timeouts and reply cap (set at start). */
static struct vmb_upstream vault_up, kms_up;
static pthread_t thread;
static bool started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool stopping;            /* under mu */

static enum vmb_probe_reason reason_of(enum vmb_upstream_cause c)
{
  switch(c) {
  case VMB_UPSTREAM_CAUSE_NONE:
    return VMB_PROBE_OK;
  case VMB_UPSTREAM_CAUSE_REFUSED:
    return VMB_PROBE_REFUSED;
  case VMB_UPSTREAM_CAUSE_TIMEOUT:
    return VMB_PROBE_TIMEOUT;
  case VMB_UPSTREAM_CAUSE_DNS:
    return VMB_PROBE_DNS;
  case VMB_UPSTREAM_CAUSE_TLS:
    return VMB_PROBE_TLS;
  case VMB_UPSTREAM_CAUSE_OTHER:
  default:
    return VMB_PROBE_UNREACHABLE;
  }
}

/* One GET through the outbound client; the reply body lands in body
   (capped by the upstream's reply_max). Returns the reason for a transfer
   failure, or OK with *status set. */
static enum vmb_probe_reason get(struct vmb_upstream_conns *conns,
                                 const struct vmb_upstream *up, const char *url,
                                 const char *op, struct vmb_buf *body, long *status)
{
  struct vmb_upstream_call call;
  struct vmb_upstream_reply r;
  enum vmb_probe_reason reason = VMB_PROBE_OK;
  memset(&call, 0, sizeof(call));
  call.method = "GET";
  call.url = url;
  call.op = op;
  *status = 0;
  vmb_buf_reset(body);
  if(vmb_upstream_call(conns, up, &call, &r))
    reason = reason_of(r.cause);
  else if(r.body.len && vmb_buf_append(body, r.body.data, r.body.len))
    reason = VMB_PROBE_UNREACHABLE;      /* cannot happen: same cap */
  else
    *status = r.status;
  vmb_buf_free(&r.body);
  return reason;
}

static enum vmb_probe_reason probe_vault(struct vmb_upstream_conns *conns,
                                         struct vmb_buf *body)
{
  struct vmb_buf url;
  enum vmb_probe_reason r;
  size_t alen = strlen(conf.vault_addr);
  long status;
  vmb_buf_init(&url, 4096);
  while(alen && conf.vault_addr[alen - 1] == '/')
    alen--;
  if(vmb_buf_append(&url, conf.vault_addr, alen) ||
     vmb_buf_append_str(&url, "/v1/sys/health?standbyok=true&perfstandbyok=true"
                        "&sealedcode=200&uninitcode=200")) {
    vmb_buf_free(&url);
    return VMB_PROBE_HTTP_ERROR;
  }
  r = get(conns, &vault_up, url.data, "sys.health", body, &status);
  vmb_buf_free(&url);
  if(r != VMB_PROBE_OK)
    return r;
  return vmb_probe_vault_health(status, body->data, body->len);
}

enum vmb_probe_reason vmb_probe_vault_health(long status, const char *body, size_t len)
{
  json_object *doc, *v;
  enum vmb_probe_reason r = VMB_PROBE_OK;
  if(status != 200)
    return VMB_PROBE_HTTP_ERROR;
  /* body is NULL when nothing came (a buffer that never grew);
     vmb_json_parse takes that as no document. */
  doc = vmb_json_parse(body, len, 8);
  if(!doc || !json_object_is_type(doc, json_type_object))
    r = VMB_PROBE_HTTP_ERROR;
  else if(json_object_object_get_ex(doc, "initialized", &v) && !json_object_get_boolean(v))
    r = VMB_PROBE_UNINITIALIZED;
  else if(json_object_object_get_ex(doc, "sealed", &v) && json_object_get_boolean(v))
    r = VMB_PROBE_SEALED;
  else if(!json_object_object_get_ex(doc, "sealed", &v))
    r = VMB_PROBE_HTTP_ERROR;   /* 200, but not Vault's health document */
  json_object_put(doc);
  return r;
}

static enum vmb_probe_reason probe_kms(struct vmb_upstream_conns *conns,
                                       struct vmb_buf *body)
{
  /* The override is used as configured (a copy into a fixed buffer would
     cut a long one short); only the regional name is built here. */
  char regional[256];
  const char *url = conf.kms_endpoint;
  long status;
  enum vmb_probe_reason r;
  if(!*url) {
    snprintf(regional, sizeof(regional), "https://kms.%.200s.amazonaws.com/",
             conf.aws_region);
    url = regional;
  }
  r = get(conns, &kms_up, url, "probe", body, &status);
  /* Any HTTP answer (KMS says 4xx to an unsigned GET) is "reachable". */
  if(r == VMB_PROBE_OK && (status < 100 || status > 599))
    r = VMB_PROBE_HTTP_ERROR;
  return r;
}

/* Sleep up to ms; true when asked to stop. */
static bool wait_ms(long ms)
{
  struct timespec until;
  bool stop;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if(until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&mu);
  while(!stopping && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
    ;
  stop = stopping;
  pthread_mutex_unlock(&mu);
  return stop;
}

static void *run(void *arg)
{
  struct vmb_upstream_conns conns;
  unsigned interval = (unsigned)conf.interval_s;
  struct vmb_buf body;
  /* Wake often enough to take the pool's turn soon after it is due. */
  long tick = interval > 4 ? 1000L : (long)interval * 250L;
  (void)arg;
  memset(&conns, 0, sizeof(conns));
  vmb_buf_init(&body, PROBE_REPLY_MAX);
  /* The first probe one interval after start (see probe.h). */
  if(wait_ms((long)interval * 1000L))
    goto out;
  do {
    if(vmb_metrics_probe_claim(VMB_PROBE_VAULT, interval)) {
      uint64_t t0 = vmb_monotonic_us();
      enum vmb_probe_reason r = probe_vault(&conns, &body);
      vmb_metrics_probe(VMB_PROBE_VAULT, r, vmb_monotonic_us() - t0);
    }
    if(conf.kms_enabled && vmb_metrics_probe_claim(VMB_PROBE_KMS, interval)) {
      uint64_t t0 = vmb_monotonic_us();
      enum vmb_probe_reason r = probe_kms(&conns, &body);
      vmb_metrics_probe(VMB_PROBE_KMS, r, vmb_monotonic_us() - t0);
    }
  } while(!wait_ms(tick));
out:
  vmb_buf_free(&body);
  vmb_upstream_conns_close(&conns);
  return NULL;
}

int vmb_probe_start(const struct vmb_config *cfg, char *err, size_t errlen)
{
  pthread_condattr_t ca;
  if(started || cfg->health_probe_seconds <= 0)
    return 0;
  conf.vault_addr = cfg->vault_addr;
  conf.timeout_ms = cfg->vault_timeout_ms;
  conf.kms_enabled = cfg->aws_kms_enabled;
  conf.kms_endpoint = cfg->aws_kms_endpoint;
  conf.aws_region = cfg->aws_region;
  conf.interval_s = cfg->health_probe_seconds;
  {
    /* A probe must finish well inside its interval. */
    long timeout = conf.timeout_ms < PROBE_TIMEOUT_MAX_MS ? conf.timeout_ms
                                                          : PROBE_TIMEOUT_MAX_MS;
    vault_up = *vmb_vault_upstream();      /* Vault's TLS files, path as is */
    vault_up.timeout_ms = vault_up.connect_timeout_ms = timeout;
    vault_up.reply_max = PROBE_REPLY_MAX;
    memset(&kms_up, 0, sizeof(kms_up));
    kms_up.id = VMB_UPSTREAM_KMS;
    kms_up.name = "kms";
    kms_up.timeout_ms = kms_up.connect_timeout_ms = timeout;
    kms_up.reply_max = PROBE_REPLY_MAX;
  }
  stopping = false;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&cv, &ca);
  pthread_condattr_destroy(&ca);
  if(pthread_create(&thread, NULL, run, NULL) != 0) {
    snprintf(err, errlen, "cannot start the health probe thread");
    pthread_cond_destroy(&cv);
    return -1;
  }
  started = true;
  return 0;
}

void vmb_probe_stop(void)
{
  if(!started)
    return;
  pthread_mutex_lock(&mu);
  stopping = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(thread, NULL);
  pthread_cond_destroy(&cv);
  started = false;
}
