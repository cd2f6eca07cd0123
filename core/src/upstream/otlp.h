/*
** otlp.h - the OTLP/HTTP span export: the trace layer's sender.
*/
#ifndef VMB_OTLP_H
#define VMB_OTLP_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"

/* Take OTEL_EXPORTER_OTLP_ENDPOINT (nothing to do when empty). 0, or -1
   with err filled when the endpoint is too long. */
int vmb_otlp_init(const struct vmb_config *cfg, char *err, size_t errlen);
/* Close the exporter's connection; after the trace exporter stopped. */
void vmb_otlp_cleanup(void);
/* POST one OTLP/JSON document to {endpoint}/v1/traces through the
   outbound client. true on a 2xx. Only the trace exporter thread calls
   this (it owns the connection). */
bool vmb_otlp_send(const char *json, size_t len);

#endif
