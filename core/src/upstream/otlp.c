/*
** otlp.c - sends the span batches of obs/trace.c to the collector. The
** trace layer sits below the outbound client, so start-up hands it
** vmb_otlp_send as its sender; the export then gets the same rules as
** every other upstream (no proxy, caps, timeouts, upstream metrics). It
** gets no span of its own: tracing the exporter would feed itself.
*/
#include "otlp.h"

#include <stdio.h>
#include <string.h>

#include "http_client.h"

#define EXPORT_TIMEOUT_MS 3000L
#define EXPORT_CONNECT_TIMEOUT_MS 1000L
#define EXPORT_REPLY_MAX (64u * 1024u)   /* the collector's answer is small */

static char url[1024];
static struct vmb_upstream upstream;
/* Used only by the trace exporter thread, one per process. */
static struct vmb_upstream_conns conns;

int vmb_otlp_init(const struct vmb_config *cfg, char *err, size_t errlen)
{
  const char *ep = cfg->otel_exporter_otlp_endpoint;
  size_t n;
  int w;
  url[0] = '\0';
  if(!ep || !*ep)
    return 0;
  n = strlen(ep);
  while(n && ep[n - 1] == '/')
    n--;
  w = snprintf(url, sizeof(url), "%.*s/v1/traces", (int)n, ep);
  if(w < 0 || (size_t)w >= sizeof(url)) {
    url[0] = '\0';
    snprintf(err, errlen, "invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT: too long");
    return -1;
  }
  memset(&upstream, 0, sizeof(upstream));
  upstream.id = VMB_UPSTREAM_OTLP;
  upstream.name = "otlp";
  upstream.timeout_ms = EXPORT_TIMEOUT_MS;
  upstream.connect_timeout_ms = EXPORT_CONNECT_TIMEOUT_MS;
  upstream.reply_max = EXPORT_REPLY_MAX;
  return 0;
}

void vmb_otlp_cleanup(void)
{
  vmb_upstream_conns_close(&conns);
}

bool vmb_otlp_send(const char *json, size_t len)
{
  static const char *const headers[] = {"Content-Type: application/json", NULL};
  struct vmb_upstream_call call;
  struct vmb_upstream_reply r;
  bool ok;
  if(!url[0])
    return false;
  memset(&call, 0, sizeof(call));
  call.method = "POST";
  call.url = url;
  call.headers = headers;
  call.body = json;
  call.body_len = len;
  call.op = "export";
  ok = vmb_upstream_call(&conns, &upstream, &call, &r) == 0 &&
       r.status >= 200 && r.status < 300;
  vmb_buf_free(&r.body);
  return ok;
}
