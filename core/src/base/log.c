/*
** log.c - newline-delimited JSON logs, one write(2) per line.
**
** The descriptors are opened once with O_APPEND: POSIX makes each write
** to such a file land atomically at the end, so lines from every thread
** and every process of the pool stay whole (lines are capped at 16 KiB,
** well under what Linux writes in one go to a regular file).
*/
#include "vmb/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmb/buf.h"
#include "util.h"

#define LOG_LINE_MAX 16384

static int log_fds[3] = {-1, -1, -1};
static char log_paths[3][512];
static atomic_int log_min_level = VMB_LOG_INFO;

static const char *const stream_files[3] = {
  "requests.log", "responses.log", "server.log"
};
static const char *const level_names[4] = {"debug", "info", "warn", "error"};

/* A log file that cannot be written (disk full, EIO) must not fail the
   request, and must not flood stderr either: the first failure of a file
   prints one line to stderr, the first success after it one more
   ("resumed"). A short write leaves a fragment at the end of the file;
   the next line then starts with a newline so the fragment stays on a
   line of its own and every later line is whole JSON again. */
static atomic_bool write_failing[3];
static atomic_bool torn[3];

static void note_write(int stream, ssize_t w, size_t len, int err)
{
  if(w == (ssize_t)len) {
    if(atomic_exchange(&write_failing[stream], false))
      fprintf(stderr, "vault-mcp: log: writing %s again\n", stream_files[stream]);
    return;
  }
  if(w > 0)
    atomic_store(&torn[stream], true);
  if(!atomic_exchange(&write_failing[stream], true))
    fprintf(stderr, "vault-mcp: log: cannot write %s: %s (requests are still "
            "served; further failures of this file are not reported)\n",
            stream_files[stream], w < 0 ? strerror(err) : "short write");
}

int vmb_log_level_parse(const char *s)
{
  if(!s) return -1;
  if(!strcasecmp(s, "debug")) return VMB_LOG_DEBUG;
  if(!strcasecmp(s, "info")) return VMB_LOG_INFO;
  if(!strcasecmp(s, "warn") || !strcasecmp(s, "warning")) return VMB_LOG_WARN;
  if(!strcasecmp(s, "error")) return VMB_LOG_ERROR;
  return -1;
}

int vmb_log_enabled(enum vmb_log_level lvl)
{
  return (int)lvl >= atomic_load(&log_min_level);
}

int vmb_log_open(const char *dir, const char *level, char *err, size_t errlen)
{
  int i, lvl = vmb_log_level_parse(level ? level : "info");
  if(lvl < 0) {
    snprintf(err, errlen, "LOG_LEVEL: unknown level");
    return -1;
  }
  atomic_store(&log_min_level, lvl);
  if(!dir)
    return 0;
  if(mkdir(dir, 0750) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "LOG_DIR: cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  for(i = 0; i < 3; i++) {
    int n = snprintf(log_paths[i], sizeof(log_paths[i]), "%s/%s", dir,
                     stream_files[i]);
    if(n < 0 || (size_t)n >= sizeof(log_paths[i])) {
      snprintf(err, errlen, "LOG_DIR: path too long");
      return -1;
    }
    log_fds[i] = open(log_paths[i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0640);
    if(log_fds[i] < 0) {
      snprintf(err, errlen, "LOG_DIR: cannot open %s: %s", log_paths[i],
               strerror(errno));
      return -1;
    }
  }
  return 0;
}

void vmb_log_close(void)
{
  int i;
  for(i = 0; i < 3; i++) {
    if(log_fds[i] >= 0)
      close(log_fds[i]);
    log_fds[i] = -1;
  }
}

const char *vmb_log_path(enum vmb_log_stream stream)
{
  if((unsigned)stream > 2 || log_fds[stream] < 0)
    return NULL;
  return log_paths[stream];
}

static const char *const logger_default = "app";

/*
** Rotation: logrotate (or an operator) may rename a log file away. About
** once a second a writer compares the file at the path with the one it
** holds; when they differ it opens the path anew and dup2()s the new
** descriptor over the old number. dup2 swaps atomically, so other threads
** writing at that moment land in one file or the other, never in a closed
** descriptor. One thread at a time does the check (rotating flag).
*/
static atomic_llong last_rotation_check;
static atomic_flag rotating = ATOMIC_FLAG_INIT;

static void follow_rotation(void)
{
  long long now = (long long)vmb_now();
  int i;
  if(atomic_load(&last_rotation_check) == now || atomic_flag_test_and_set(&rotating))
    return;
  atomic_store(&last_rotation_check, now);
  for(i = 0; i < 3; i++) {
    struct stat at_path, held;
    if(log_fds[i] < 0 || fstat(log_fds[i], &held) != 0)
      continue;
    if(stat(log_paths[i], &at_path) == 0 && at_path.st_ino == held.st_ino &&
       at_path.st_dev == held.st_dev)
      continue;
    {
      int fresh = open(log_paths[i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if(fresh >= 0) {
        if(dup2(fresh, log_fds[i]) >= 0)
          fcntl(log_fds[i], F_SETFD, FD_CLOEXEC);   /* dup2 clears it */
        close(fresh);
      }
    }
  }
  atomic_flag_clear(&rotating);
}

/* True when json-c prints s exactly as it is: printable ASCII without
   '"' or '\\' ('/' is not escaped under NOSLASHESCAPE). Anything else
   takes the general path, so the two paths cannot print differently. */
static bool plain_text(const char *s)
{
  for(; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if(c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
      return false;
  }
  return true;
}

/*
** The line for the common case, without building a second JSON object:
** json-c prints an object as '{' + its members joined by ',' + '}', so
** the line equals the four core members followed by the members of the
** fields object as json-c prints them. Writes into out and returns the
** length, or 0 when the general path must build the line (texts that
** need escaping, fields that repeat a core key, a line that does not
** fit).
*/
static size_t quick_line(char *out, size_t cap, const char *ts, const char *lvl,
                         const char *msg, const char *logger, json_object *fields)
{
  const char *ftext = NULL;
  size_t flen = 0;
  int n;
  if(!plain_text(msg) || !plain_text(logger))
    return 0;
  if(fields) {
    if(!json_object_is_type(fields, json_type_object) ||
       json_object_object_get_ex(fields, "ts", NULL) ||
       json_object_object_get_ex(fields, "lvl", NULL) ||
       json_object_object_get_ex(fields, "msg", NULL) ||
       json_object_object_get_ex(fields, "logger", NULL))
      return 0;
    ftext = json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN |
                                           JSON_C_TO_STRING_NOSLASHESCAPE);
    if(!ftext)
      return 0;
    flen = strlen(ftext);
    if(flen < 2 || ftext[0] != '{' || ftext[flen - 1] != '}')
      return 0;
  }
  n = snprintf(out, cap, "{\"ts\":\"%s\",\"lvl\":\"%s\",\"msg\":\"%s\",\"logger\":\"%s\"",
               ts, lvl, msg, logger);
  if(n < 0 || (size_t)n >= cap)
    return 0;
  if(flen > 2) {
    /* ",<members>}": the fields' text without its opening brace */
    if((size_t)n + flen >= cap)
      return 0;
    out[n++] = ',';
    memcpy(out + n, ftext + 1, flen - 1);
    n += (int)(flen - 1);
  }
  else {
    if((size_t)n + 1 >= cap)
      return 0;
    out[n++] = '}';
  }
  return (size_t)n;
}

void vmb_log(enum vmb_log_stream stream, enum vmb_log_level lvl,
             const char *logger, const char *msg, json_object *fields)
{
  char ts[40];
  json_object *line;
  const char *text;
  size_t len;
  int fd;
  char stackbuf[LOG_LINE_MAX];

  if(!vmb_log_enabled(lvl) || (unsigned)stream > 2 || (unsigned)lvl > 3)
    return;
  vmb_format_ts(ts, sizeof(ts), vmb_now());
  /* Room is kept for the newline and for one more in front when a
     fragment must be closed (as below). */
  len = quick_line(stackbuf, LOG_LINE_MAX - 2, ts, level_names[lvl], msg ? msg : "",
                   logger ? logger : logger_default, fields);
  if(len > 0) {
    stackbuf[len++] = '\n';
    goto write_it;
  }
  line = json_object_new_object();
  if(!line)
    return;
  json_object_object_add(line, "ts", json_object_new_string(ts));
  json_object_object_add(line, "lvl", json_object_new_string(level_names[lvl]));
  json_object_object_add(line, "msg", json_object_new_string(msg ? msg : ""));
  json_object_object_add(line, "logger",
                         json_object_new_string(logger ? logger : logger_default));
  if(fields) {
    json_object_object_foreach(fields, k, v) {
      /* The core keys above stay authoritative. */
      if(!strcmp(k, "ts") || !strcmp(k, "lvl") || !strcmp(k, "msg") ||
         !strcmp(k, "logger"))
        continue;
      json_object_object_add(line, k, json_object_get(v));
    }
  }
  text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
                                        JSON_C_TO_STRING_NOSLASHESCAPE);
  len = text ? strlen(text) : 0;
  if(len == 0 || len >= LOG_LINE_MAX - 2) {
    /* An oversized line is replaced, never split across writes. */
    len = (size_t)snprintf(stackbuf, sizeof(stackbuf),
                           "{\"ts\":\"%s\",\"lvl\":\"warn\",\"msg\":\"log line "
                           "dropped: too long\",\"logger\":\"log\"}\n", ts);
  }
  else {
    /* len < LOG_LINE_MAX - 2 here: room for the newline and for one
       more in front when a fragment must be closed. */
    memcpy(stackbuf, text, len);
    stackbuf[len++] = '\n';
  }
  json_object_put(line);
write_it:
  follow_rotation();
  fd = log_fds[stream];
  if(fd < 0)
    fd = STDERR_FILENO;
  {
    const char *p = stackbuf;
    ssize_t w;
    if(atomic_exchange(&torn[stream], false) && len < sizeof(stackbuf)) {
      memmove(stackbuf + 1, stackbuf, len);
      stackbuf[0] = '\n';
      len++;
    }
    w = write(fd, p, len);
    /* a failed log write must not fail the request: report it once */
    if(fd != STDERR_FILENO)
      note_write((int)stream, w, len, errno);
  }
}

void vmb_log_server(enum vmb_log_level lvl, const char *logger, const char *msg)
{
  vmb_log(VMB_LOG_SERVER, lvl, logger, msg, NULL);
}
