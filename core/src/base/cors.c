/*
** cors.c - Origin checks against the configured allow list. The list is
** passed in by the caller (it is configuration), so this stays a leaf.
*/
#include "cors.h"

#include <string.h>

bool vmb_cors_origin_allowed(const char *list, const char *origin)
{
  size_t n = strlen(origin);
  while(list && *list) {
    size_t m;
    while(*list == ' ' || *list == ',')
      list++;
    m = strcspn(list, ", ");
    if(m && ((m == 1 && list[0] == '*') || (m == n && !strncmp(list, origin, n))))
      return true;
    list += m;
  }
  return false;
}

bool vmb_cors_request_ok(const char *list, const struct vmb_request *req)
{
  const char *origin = vmb_request_header(req, "origin");
  return !origin || vmb_cors_origin_allowed(list, origin);
}
