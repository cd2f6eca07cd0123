/*
** log.h - structured JSON logs (SPEC section 6).
**
** Three files in LOG_DIR: requests.log, responses.log, server.log. Each
** line is one JSON object with ts, lvl, msg, logger and the caller's
** fields, written with a single write(2) on an O_APPEND descriptor, so
** lines from many threads and processes never interleave. Callers pass
** descriptors only, never secrets (SPEC section 4).
**
** Thread-safe after vmb_log_open(); before it, lines go to stderr.
*/
#ifndef VMB_LOG_H
#define VMB_LOG_H

#include <json-c/json.h>

enum vmb_log_level { VMB_LOG_DEBUG, VMB_LOG_INFO, VMB_LOG_WARN, VMB_LOG_ERROR };
enum vmb_log_stream { VMB_LOG_REQUESTS, VMB_LOG_RESPONSES, VMB_LOG_SERVER };

/* Open the three files under dir (created 0750 when missing). Returns 0 or
   -1 with a message in err. dir NULL means: everything to stderr. */
int vmb_log_open(const char *dir, const char *level, char *err, size_t errlen);
void vmb_log_close(void);
/* Parse "debug|info|warn|warning|error"; -1 when unknown. */
int vmb_log_level_parse(const char *s);
int vmb_log_enabled(enum vmb_log_level lvl);

/* Write one line. fields may be NULL; it is BORROWED (the caller still
   owns and puts it). logger names the module ("gate", "vault", ...). */
void vmb_log(enum vmb_log_stream stream, enum vmb_log_level lvl,
             const char *logger, const char *msg, json_object *fields);
/* Shorthand for server.log lines without fields. */
void vmb_log_server(enum vmb_log_level lvl, const char *logger,
                    const char *msg);

/* Path of a log file, for the log-tail endpoints; NULL if not open. */
const char *vmb_log_path(enum vmb_log_stream stream);

#endif
