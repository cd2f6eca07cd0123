/*
** probe.c - background health probes behind vault_up and kms_up
** (issue 22; see probe.h for the model).
**
** Vault: GET /v1/sys/health with standbyok, perfstandbyok, sealedcode=200
** and uninitcode=200, so every state Vault can be in answers 200 with its
** JSON and is read from the body; no token is sent (sys/health needs
** none). KMS: a GET of the endpoint root; any HTTP answer means the
** endpoint is reachable (credentials are /readyz's business). A failure
** is classified into the bounded reason list of metrics.h, from libcurl's
** result and the socket errno: an operator can tell "nothing listens"
** (refused) from "no route" (unreachable), "no answer in time" (timeout),
** a name that does not resolve (dns) and a TLS failure (tls).
**
** The thread owns its two CURL handles; nothing else touches them.
*/
#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

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
static pthread_t thread;
static bool started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool stopping;            /* under mu */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
  size_t n = size * nmemb;
  /* Less than n aborts the transfer: the cap is the only limit. */
  return vmb_buf_append(ud, ptr, n) ? 0 : n;
}

static enum vmb_probe_reason classify(CURLcode cc, long os_errno)
{
  switch(cc) {
  case CURLE_OK:
    return VMB_PROBE_OK;
  case CURLE_COULDNT_RESOLVE_HOST:
    return VMB_PROBE_DNS;
  case CURLE_OPERATION_TIMEDOUT:
    return VMB_PROBE_TIMEOUT;
  case CURLE_COULDNT_CONNECT:
    if(os_errno == ECONNREFUSED)
      return VMB_PROBE_REFUSED;
    if(os_errno == ETIMEDOUT)
      return VMB_PROBE_TIMEOUT;
    return VMB_PROBE_UNREACHABLE;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    return VMB_PROBE_TLS;
  default:
    return VMB_PROBE_UNREACHABLE;
  }
}

/* One GET; the reply body lands in body (capped). Returns the reason for
   a transfer failure, or OK with *status set. */
static enum vmb_probe_reason get(CURL *h, const char *url, struct vmb_buf *body,
                                 long *status)
{
  CURLcode cc;
  long os_errno = 0;
  *status = 0;
  vmb_buf_reset(body);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  cc = curl_easy_perform(h);
  if(cc != CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    return classify(cc, os_errno);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  return VMB_PROBE_OK;
}

static enum vmb_probe_reason probe_vault(CURL *h, struct vmb_buf *body)
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
  r = get(h, url.data, body, &status);
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

static enum vmb_probe_reason probe_kms(CURL *h, struct vmb_buf *body)
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
  r = get(h, url, body, &status);
  /* Any HTTP answer (KMS says 4xx to an unsigned GET) is "reachable". */
  if(r == VMB_PROBE_OK && (status < 100 || status > 599))
    r = VMB_PROBE_HTTP_ERROR;
  return r;
}

static CURL *new_handle(bool vault)
{
  CURL *h = curl_easy_init();
  long timeout;
  if(!h)
    return NULL;
  if(vault)
    vmb_vault_curl_setup(h);   /* Vault's TLS settings, no proxy */
  else {
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  }
  /* A probe must finish well inside its interval. */
  timeout = conf.timeout_ms < PROBE_TIMEOUT_MAX_MS ? conf.timeout_ms
                                                          : PROBE_TIMEOUT_MAX_MS;
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  return h;
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
  CURL *vault = new_handle(true);
  CURL *kms = conf.kms_enabled ? new_handle(false) : NULL;
  unsigned interval = (unsigned)conf.interval_s;
  struct vmb_buf body;
  /* Wake often enough to take the pool's turn soon after it is due. */
  long tick = interval > 4 ? 1000L : (long)interval * 250L;
  (void)arg;
  vmb_buf_init(&body, PROBE_REPLY_MAX);
  /* The first probe one interval after start (see probe.h). */
  if(wait_ms((long)interval * 1000L))
    goto out;
  do {
    if(vault && vmb_metrics_probe_claim(VMB_PROBE_VAULT, interval)) {
      uint64_t t0 = vmb_monotonic_us();
      enum vmb_probe_reason r = probe_vault(vault, &body);
      vmb_metrics_probe(VMB_PROBE_VAULT, r, vmb_monotonic_us() - t0);
    }
    if(kms && vmb_metrics_probe_claim(VMB_PROBE_KMS, interval)) {
      uint64_t t0 = vmb_monotonic_us();
      enum vmb_probe_reason r = probe_kms(kms, &body);
      vmb_metrics_probe(VMB_PROBE_KMS, r, vmb_monotonic_us() - t0);
    }
  } while(!wait_ms(tick));
out:
  vmb_buf_free(&body);
  if(vault)
    curl_easy_cleanup(vault);
  if(kms)
    curl_easy_cleanup(kms);
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
