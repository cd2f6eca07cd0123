/*
** nspath.h - the one decision on KV paths and subjects (SPEC section 2).
**
** Used by REST, MCP tools and MCP resources alike: a subject's secrets
** live under {KV_MOUNT}/<kind>/{DEFAULT_PREFIX}/{subject}/{path}, and no
** input may lead outside that folder.
*/
#ifndef VMB_NSPATH_H
#define VMB_NSPATH_H

#include <stdbool.h>
#include <stddef.h>

#define VMB_PATH_MAX 512
#define VMB_SEGMENT_MAX 128

/* True when subject is a safe single path segment. */
bool vmb_subject_valid(const char *subject);

/* Check a relative KV path (already percent-decoded once by the web
   server or the JSON parser). allow_empty permits "" (list the root);
   allow_trailing_slash permits "a/b/" (a folder). Returns NULL when safe,
   else a short static reason. */
const char *vmb_kv_path_check(const char *path, bool allow_empty,
                              bool allow_trailing_slash);

/* The same for a counted string (a JSON string may hold "\u0000", which a
   NUL-terminated view would silently cut short). path[len] must be NUL;
   an embedded NUL is refused. */
const char *vmb_kv_path_check_n(const char *path, size_t len, bool allow_empty,
                                bool allow_trailing_slash);

#endif
