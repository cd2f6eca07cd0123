/*
** cors.h - the browser Origin check (SPEC section 1): one decision used
** by the HTTP entry (CORS headers, preflight) and by MCP (Streamable HTTP
** must refuse a foreign Origin). The allow list is CORS_ALLOW_ORIGINS:
** comma/space separated origins, "*" for any.
*/
#ifndef VMB_CORS_H
#define VMB_CORS_H

#include <stdbool.h>

#include "vmb/request.h"

/* True when origin is on list (exact match, or a "*" entry). */
bool vmb_cors_origin_allowed(const char *list, const char *origin);
/* True when req has no Origin header or its Origin is on list. */
bool vmb_cors_request_ok(const char *list, const struct vmb_request *req);

#endif
