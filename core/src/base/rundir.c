/*
** rundir.c - RUN_DIR trust checks (see rundir.h).
*/
#include "rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vmb_rundir_default(char *out, size_t outlen)
{
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  char user_run[64];
  int n;
  /* XDG_RUNTIME_DIR only when it is an absolute path to a directory of
     ours, as the XDG spec promises (0700, owned by the user). */
  if(xdg && xdg[0] == '/' && lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
     st.st_uid == geteuid() && !(st.st_mode & 0077))
    n = snprintf(out, outlen, "%s/vault-mcp-bridge", xdg);
  else if(snprintf(user_run, sizeof(user_run), "/run/user/%lu",
                   (unsigned long)geteuid()) > 0 &&
          lstat(user_run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
    n = snprintf(out, outlen, "%s/vault-mcp-bridge", user_run);
  else
    n = snprintf(out, outlen, "/tmp/vault-mcp-bridge-%lu", (unsigned long)geteuid());
  return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int vmb_rundir_check(const char *dir, char *err, size_t errlen)
{
  char buf[4096];
  size_t n = dir ? strlen(dir) : 0, i;
  struct stat st;
  if(n == 0 || n >= sizeof(buf)) {
    snprintf(err, errlen, "invalid configuration: RUN_DIR: empty or too long");
    return -1;
  }
  memcpy(buf, dir, n + 1);
  for(i = 1; i <= n; i++) {
    if(buf[i] == '/' || buf[i] == '\0') {
      char saved = buf[i];
      buf[i] = '\0';
      if(mkdir(buf, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "RUN_DIR: cannot create %s: %s", buf, strerror(errno));
        return -1;
      }
      buf[i] = saved;
    }
  }
  if(lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "RUN_DIR: %s is not a directory (a symlink is refused)", dir);
    return -1;
  }
  if(st.st_uid != geteuid() || (st.st_mode & 0022)) {
    snprintf(err, errlen, "RUN_DIR: %s must be owned by uid %lu and not writable by "
             "group or others (it is uid %lu, mode %04o)", dir,
             (unsigned long)geteuid(), (unsigned long)st.st_uid,
             (unsigned)(st.st_mode & 07777));
    return -1;
  }
  return 0;
}

int vmb_rundir_file_ok(int fd, const char *path, char *err, size_t errlen)
{
  struct stat st;
  if(fstat(fd, &st) != 0) {
    snprintf(err, errlen, "RUN_DIR: cannot stat %s: %s", path, strerror(errno));
    return -1;
  }
  if(!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077) ||
     st.st_nlink != 1) {
    snprintf(err, errlen, "RUN_DIR: %s is not a private regular file of uid %lu "
             "(uid %lu, mode %04o, %lu links): remove it if it is not ours",
             path, (unsigned long)geteuid(), (unsigned long)st.st_uid,
             (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink);
    return -1;
  }
  return 0;
}
