/*
** observability.h - helpers of observability.c that the tests reach.
*/
#ifndef VMB_OBSERVABILITY_H
#define VMB_OBSERVABILITY_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/buf.h"

/*
** The last `want` lines of the file at path, oldest first, appended to
** out as text (each line ends with '\n'). The file is read backwards in
** chunks from its end, never loaded whole, and at most max_bytes of it
** are looked at; *truncated is set when that cap cut the answer short.
** A missing file (rotated away) or an empty one gives no lines.
** A file that shrinks while being read (truncated by rotation) is read
** again from its new end. Returns the number of lines, or -1 (not a
** regular file, I/O error, out's ceiling).
*/
long vmb_tail_lines(const char *path, size_t want, size_t max_bytes,
                    struct vmb_buf *out, bool *truncated);

#endif
