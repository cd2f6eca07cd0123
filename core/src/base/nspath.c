/*
** nspath.c - KV path and subject checks (SPEC section 2).
**
** Paths arrive already percent-decoded once (the web server decodes the
** URL; JSON strings are plain). Anything that still looks like an escape
** ('%') is refused rather than decoded again, which closes double-encoding
** tricks without a second decoder. Allowed: [A-Za-z0-9._-] and a few
** harmless punctuation marks in segments separated by single '/'.
*/
#include "nspath.h"

#include <string.h>

#include "vmb/request.h"

static bool seg_char_ok(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '@' || c == '+' || c == '=' || c == ',' || c == '~';
}

bool vmb_subject_valid(const char *subject)
{
  size_t n = 0;
  if(!subject)
    return false;
  for(; subject[n]; n++) {
    unsigned char c = (unsigned char)subject[n];
    if(n >= VMB_SUBJECT_MAX)
      return false;
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '@'))
      return false;
  }
  if(n == 0 || !strcmp(subject, ".") || !strcmp(subject, ".."))
    return false;
  return true;
}

const char *vmb_kv_path_check(const char *path, bool allow_empty,
                              bool allow_trailing_slash)
{
  size_t len, i, seg_start = 0;
  if(!path)
    return "missing path";
  len = strlen(path);
  if(len == 0)
    return allow_empty ? NULL : "empty path";
  if(len > VMB_PATH_MAX)
    return "path too long";
  if(path[0] == '/')
    return "absolute paths are not allowed";
  for(i = 0; i <= len; i++) {
    unsigned char c = (unsigned char)path[i];
    if(c == '/' || c == '\0') {
      size_t seg_len = i - seg_start;
      const char *seg = path + seg_start;
      if(seg_len == 0) {
        if(c == '\0' && allow_trailing_slash && i > 0)
          return NULL;   /* "a/b/" */
        return "empty path segment";
      }
      if(seg_len > VMB_SEGMENT_MAX)
        return "path segment too long";
      if((seg_len == 1 && seg[0] == '.') ||
         (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
        return "dot segments are not allowed";
      seg_start = i + 1;
      continue;
    }
    if(c == '%')
      return "percent escapes are not allowed";
    if(c == '\\')
      return "backslashes are not allowed";
    if(c < 0x20 || c == 0x7f)
      return "control characters are not allowed";
    if(!seg_char_ok(c))
      return "character not allowed in a path";
  }
  return NULL;
}

const char *vmb_kv_path_check_n(const char *path, size_t len, bool allow_empty,
                                bool allow_trailing_slash)
{
  if(!path)
    return "missing path";
  if(strnlen(path, len) != len || path[len] != '\0')
    return "control characters are not allowed";   /* an embedded NUL */
  return vmb_kv_path_check(path, allow_empty, allow_trailing_slash);
}
