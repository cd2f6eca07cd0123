/*
** oauth_meta.h - RFC 9728 protected-resource metadata (docs/mcp.md).
*/
#ifndef VMB_OAUTH_META_H
#define VMB_OAUTH_META_H

#include <stddef.h>

#include <json-c/json.h>

#include "vmb/config.h"
#include "vmb/error.h"
#include "vmb/request.h"

int vmb_oauth_meta_init(const struct vmb_config *cfg, char *err, size_t errlen);

/* The URL of our metadata document for req (the origin the client used,
   then BASE_PATH), or NULL when JWT authentication is off. Arena string.
   The gate names it in WWW-Authenticate (RFC 9728 section 5.1). */
const char *vmb_oauth_metadata_url(struct vmb_request *req);

/* The document for req (the path-suffixed form when req->path ends in
   /mcp/rpc). OK with *doc a NEW object; NOT_FOUND with *detail when JWTs
   are off or no authorization server is configured; NOMEM. */
enum vmb_err vmb_oauth_metadata(struct vmb_request *req, json_object **doc,
                                const char **detail);

#endif
