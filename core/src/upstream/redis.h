/*
** redis.h - the Redis client: state shared by several hosts (issue 16).
**
** Only used when REDIS_URL is set; with it unset every call here is a
** cheap no-op and the bridge keeps its single-host behaviour.
**
** One connection per thread (created on first use, closed when the
** thread ends). Every command has one deadline, REDIS_TIMEOUT_MS from
** its start, covering connect, TLS handshake, AUTH/SELECT, the write and
** the reply: no caller waits longer. A connection that failed is closed
** and the thread backs off (100 ms doubling to 2 s) before it tries
** again; while it backs off, commands fail at once.
*/
#ifndef VMB_REDIS_H
#define VMB_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "vmb/config.h"

/* A reply; OWNED by the caller, release with vmb_redis_free(). */
struct redisReply;

int vmb_redis_init(const struct vmb_config *cfg, char *err, size_t errlen);
void vmb_redis_cleanup(void);
/* True when REDIS_URL is set (and init succeeded). */
bool vmb_redis_enabled(void);
/* REDIS_KEY_PREFIX; BORROWED, lives until cleanup. */
const char *vmb_redis_prefix(void);

/*
** Run one command (argv[0..argc) with lengths; binary-safe) on this
** thread's connection. Returns the reply (which may be an error reply:
** check ->type), or NULL when Redis could not be reached in time; then
** *why (if given) is a short fixed text such as "timeout" or "refused"
** (never a secret, fit for logs and /readyz).
*/
struct redisReply *vmb_redis_command(int argc, const char **argv, const size_t *lens,
                                     const char **why);
/* As vmb_redis_command for a command that blocks in Redis on purpose
   (XREAD BLOCK block_ms): its deadline is REDIS_TIMEOUT_MS plus block_ms.
   For a thread of its own (the connection is the thread's). A timeout
   here does not mark Redis down (vmb_redis_healthy, redis_up, the
   state-change log line) and is not counted as an upstream error; other
   failures do, as for any command. Its duration stays out of the
   latency metrics.
   cancel: a descriptor (eventfd, pipe) or -1. Once it is readable the
   call returns NULL at once with *why "cancelled", before sending or
   while waiting (a cancelled read closes the connection: its reply may
   still come). So a thread stopping at shutdown is joined without
   waiting out block_ms; a cancel is not a failure of Redis either. */
struct redisReply *vmb_redis_command_blocking(int argc, const char **argv, const size_t *lens,
                                              long block_ms, int cancel, const char **why);
/*
** Run a Lua script by its SHA-1 (EVALSHA), falling back to EVAL with
** the text when the server answers NOSCRIPT (after a restart or a
** SCRIPT FLUSH). script is a string literal; argv are KEYS then ARGV.
*/
struct redisReply *vmb_redis_script(const char *script, const char *sha1hex,
                                    int nkeys, int argc, const char **argv,
                                    const char **why);
/* SHA-1 of a script as 40 hex digits (out holds 41 bytes). */
void vmb_redis_sha1(const char *script, char out[41]);
void vmb_redis_free(struct redisReply *r);

/* Last known state of Redis for this process: true when the latest
   command of any thread succeeded; *why as above when not. */
bool vmb_redis_healthy(const char **why);
/* PING now, within the timeout (for /readyz). 0 = up. */
int vmb_redis_ping(const char **why);

#endif
