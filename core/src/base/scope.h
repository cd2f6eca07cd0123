/*
** scope.h - scope names (SPEC section 2): "read", "write", "delete",
** "list", "admin", one bit each of enum vmb_scope.
*/
#ifndef VMB_SCOPE_H
#define VMB_SCOPE_H

#include <json-c/json.h>

#include "vmb/request.h"

/* Map a scope bit to its name ("read"...); "unknown" for anything else. */
const char *vmb_scope_name(unsigned scope_bit);
/* Parse "read write" / "read,write" / json array of names into bits;
   unknown names are ignored (an unknown scope grants nothing). */
unsigned vmb_scopes_parse_text(const char *s);
unsigned vmb_scopes_parse_json(json_object *arr);
/* The scopes as a NEW json array of names. */
json_object *vmb_scopes_to_json(unsigned scopes);

#endif
