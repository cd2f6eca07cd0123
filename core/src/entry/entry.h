/*
** entry.h - what start-up (startup.c) hands the HTTP entry (core.c).
*/
#ifndef VMB_ENTRY_H
#define VMB_ENTRY_H

#include <stddef.h>

#include "vmb/config.h"

/* Take the HTTP entry's settings (base path, CORS list, body cap, REST
   exposure, rate limit switch). 0. */
int vmb_http_init(const struct vmb_config *cfg, char *err, size_t errlen);

#endif
