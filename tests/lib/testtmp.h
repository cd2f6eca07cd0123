/*
** testtmp.h - scratch directories for the C tests (header only).
**
** Every C test that needs files outside its build directory makes one
** directory with vmb_test_mkdtemp() and removes it with vmb_test_rmtree()
** before it returns. The directory goes under $TMPDIR when that is set
** (scripts/test.sh gives each ctest pass its own TMPDIR and fails the
** pass when anything is left in it), else under /tmp. docs/testing.md
** states the rule.
**
** Limits: the path is bounded by the caller's buffer; a TMPDIR that does
** not fit leaves the test failing (NULL), never a truncated path.
*/
#ifndef VMB_TESTTMP_H
#define VMB_TESTTMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $TMPDIR when it names something, else /tmp. */
static inline const char *vmb_test_tmproot(void)
{
  const char *t = getenv("TMPDIR");
  return (t && t[0]) ? t : "/tmp";
}

/* Makes TMPDIR/NAME-XXXXXX (mode 0700) in out; returns out or NULL. */
static inline char *vmb_test_mkdtemp(char *out, size_t outlen, const char *name)
{
  int n = snprintf(out, outlen, "%s/%s-XXXXXX", vmb_test_tmproot(), name);
  if(n < 0 || (size_t)n >= outlen)
    return NULL;
  return mkdtemp(out);
}

/* Removes path and everything under it; symbolic links are removed, never
   followed. Best effort: what cannot be removed stays (and the pass's
   TMPDIR check in scripts/test.sh names it). */
static inline void vmb_test_rmtree(const char *path)
{
  struct stat st;
  DIR *d;
  struct dirent *e;
  char sub[4096];
  if(lstat(path, &st) != 0)
    return;
  if(!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  d = opendir(path);
  if(d) {
    while((e = readdir(d)) != NULL) {
      int n;
      if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
      if(n > 0 && (size_t)n < sizeof(sub))
        vmb_test_rmtree(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

#endif
