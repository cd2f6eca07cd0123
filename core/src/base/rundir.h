/*
** rundir.h - trust checks for RUN_DIR and the shared files in it
** (issue 13).
**
** RUN_DIR holds the files every process of the host's pool maps
** MAP_SHARED (rate limits, metrics, the MCP bus, anything later). Another
** local user who could plant or swap one of them could read or steer the
** counters and sessions, so every user of RUN_DIR goes through these
** checks: the directory is a real directory (not a symlink), owned by
** the effective user and not writable by group or others; each file is
** opened with O_NOFOLLOW and must be a regular file of ours, mode 0600
** or stricter, with one link. A check that fails stops start-up with a
** message naming the path and what is wrong; nothing is written through a
** planted file.
*/
#ifndef VMB_RUNDIR_H
#define VMB_RUNDIR_H

#include <stddef.h>

/* The default RUN_DIR when none is configured: a private per-user
   directory - $XDG_RUNTIME_DIR/vault-mcp-bridge, else
   /run/user/<uid>/vault-mcp-bridge when /run/user/<uid> exists, else
   /tmp/vault-mcp-bridge-<uid> (created 0700 and checked like any other).
   Writes into out; 0, or -1 when it does not fit. */
int vmb_rundir_default(char *out, size_t outlen);

/* mkdir -p dir (0700 for what is created), then check it as above.
   0, or -1 with err filled. */
int vmb_rundir_check(const char *dir, char *err, size_t errlen);

/* Check an open RUN_DIR file: regular, owned by us, no group/other
   permission bits, exactly one link. path is for the message. 0 or -1. */
int vmb_rundir_file_ok(int fd, const char *path, char *err, size_t errlen);

#endif
