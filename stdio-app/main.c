/*
** main.c - vault-mcp-stdio: MCP over stdio (SPEC section 5).
**
** The client starts us and speaks newline-delimited JSON-RPC on our
** stdin; every reply is one line on stdout. Nothing else ever reaches
** stdout: logs go to LOG_DIR files, or to stderr when LOG_DIR is empty.
**
** Identity: stdio has no authentication (the MCP authorization spec says
** not to use it here). The local user who starts us is trusted and names
** the subject in SUBJECT; SCOPES (default "read write delete list")
** limits what the tools may do, through the same gate as REST.
**
** One message at a time on one worker: a stdio client is one agent, and
** answering in order keeps the protocol simple for it. Every MCP revision
** is served, chosen per message (2026-07-28 by its _meta, 2025-x after
** initialize); the connection's only state is its open
** subscriptions/listen requests (struct vmb_mcp_stdio), whose
** notifications follow the reply that caused them on the next lines. Lines longer than
** MAX_BODY_BYTES are discarded up to their newline and answered with a
** JSON-RPC error, so a runaway client cannot make us buffer without end.
** EOF on stdin ends the process with status 0.
*/
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmb/arena.h"
#include "vmb/buf.h"
#include "vmb/config.h"
#include "vmb/core.h"
#include "vmb/version.h"
#include "vmb/log.h"
#include "vmb/mcp.h"
#include "vmb/request.h"

static const char too_long[] =
  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
  "\"message\":\"Invalid Request: the message exceeds MAX_BODY_BYTES\"}}";

static void usage(FILE *f)
{
  fprintf(f,
    "Usage: vault-mcp-stdio [options]\n"
    "\n"
    "MCP server on stdin/stdout (newline-delimited JSON-RPC) for one local\n"
    "subject. Environment: SUBJECT (required), SCOPES (default \"read write\n"
    "delete list\"), and every bridge setting (VAULT_ADDR, VAULT_TOKEN, ...).\n"
    "Logs go to LOG_DIR (or stderr when LOG_DIR is empty), never stdout.\n"
    "\n"
    "  --help               this text\n"
    "  --version            print the version\n"
    "\n"
    "Setting flags:\n");
  vmb_config_print_flags(f);
}

/* "read write" / "read,list" -> scope bits. Unknown names grant nothing
   (and are reported, since a typo would silently narrow the subject). */
static unsigned parse_scopes(const char *s)
{
  static const struct { const char *name; unsigned bit; } names[] = {
    {"read", VMB_SCOPE_READ}, {"write", VMB_SCOPE_WRITE},
    {"delete", VMB_SCOPE_DELETE}, {"list", VMB_SCOPE_LIST},
    {"admin", VMB_SCOPE_ADMIN},
  };
  unsigned bits = 0;
  while(*s) {
    size_t n = strcspn(s, " ,\t"), i;
    bool known = false;
    for(i = 0; n && i < sizeof(names) / sizeof(*names); i++)
      if(strlen(names[i].name) == n && !strncmp(names[i].name, s, n)) {
        bits |= names[i].bit;
        known = true;
      }
    if(n && !known)
      fprintf(stderr, "vault-mcp-stdio: ignoring unknown scope \"%.*s\"\n",
              (int)(n > 32 ? 32 : n), s);
    s += n;
    while(*s == ' ' || *s == ',' || *s == '\t')
      s++;
  }
  return bits;
}

/* Write one reply line; -1 when stdout is gone. */
static int emit(const char *line)
{
  if(fputs(line, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout))
    return -1;
  return 0;
}

/* Read one line (without its newline) into b. Returns 1 for a line, 0 at
   EOF with nothing read, 2 for a line longer than b's ceiling (the rest
   of it has been consumed and dropped). */
static int read_line(struct vmb_buf *b)
{
  bool over = false, any = false;
  int c;
  vmb_buf_reset(b);
  while((c = getchar()) != EOF) {
    char ch = (char)c;
    any = true;
    if(ch == '\n')
      break;
    if(!over && vmb_buf_append(b, &ch, 1))
      over = true;
  }
  if(!any)
    return 0;
  return over ? 2 : 1;
}

static bool blank(const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(!strchr(" \t\r", s[i]))
      return false;
  return true;
}

int main(int argc, char **argv)
{
  struct vmb_config cfg;
  struct vmb_worker *w;
  struct vmb_mcp_stdio *conn;
  struct vmb_buf line;
  char err[512];
  const char *subject, *scopes;
  unsigned scope_bits;
  int i, rc = 0;
  bool stop = false;

  for(i = 1; i < argc; i++) {
    if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if(!strcmp(argv[i], "--version")) {
      printf("vault-mcp-stdio %s\n", vmb_version());
      vmb_build_info_print(stdout);
      return 0;
    }
  }
  if(vmb_config_load(&cfg, argc, argv, err, sizeof(err))) {
    fprintf(stderr, "vault-mcp-stdio: %s\n", err);
    return 2;
  }
  for(i = 1; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    if(!strncmp(argv[i], "--", 2) && vmb_config_is_flag(argv[i] + 2, n - 2)) {
      if(!eq)
        i++;
      continue;
    }
    fprintf(stderr, "vault-mcp-stdio: unknown argument \"%.64s\" (see --help)\n", argv[i]);
    vmb_config_free(&cfg);
    return 2;
  }
  subject = getenv("SUBJECT");
  if(!subject || !vmb_core_subject_valid(subject)) {
    /* The same rule as every other identity (vmb_core_subject_valid). */
    fprintf(stderr, "vault-mcp-stdio: set SUBJECT to the caller's subject "
            "(1-128 characters of A-Z a-z 0-9 . _ - @, not \".\" or \"..\")\n");
    vmb_config_free(&cfg);
    return 2;
  }
  scopes = getenv("SCOPES");
  scope_bits = scopes ? parse_scopes(scopes) : VMB_SCOPES_DEFAULT;

  signal(SIGPIPE, SIG_IGN);
  if(vmb_core_init(&cfg, err, sizeof(err))) {
    fprintf(stderr, "vault-mcp-stdio: %s\n", err);
    vmb_config_free(&cfg);
    return 2;
  }
  /* The Vault client and the AppRole module hold their own copies. */
  vmb_config_forget_vault_credentials(&cfg);
  w = vmb_worker_create();
  conn = vmb_mcp_stdio_new();
  if(!w || !conn) {
    fprintf(stderr, "vault-mcp-stdio: out of memory\n");
    vmb_mcp_stdio_free(conn);
    if(w)
      vmb_worker_destroy(w);
    vmb_core_shutdown();
    vmb_config_free(&cfg);
    return 1;
  }
  vmb_log_server(VMB_LOG_INFO, "stdio", "vault-mcp-stdio serving");
  vmb_buf_init(&line, vmb_core_max_body());

  while(!stop) {
    struct vmb_request req;
    const char *reply;
    int got = read_line(&line);
    if(got == 0)
      break;                         /* EOF: the client is done */
    if(got == 2) {
      if(emit(too_long)) {
        rc = 1;
        break;
      }
      continue;
    }
    if(blank(line.data ? line.data : "", line.len))
      continue;
    memset(&req, 0, sizeof(req));
    req.arena = vmb_worker_arena(w);
    req.worker = w;
    req.method = "POST";
    req.path = "/mcp/rpc";
    req.query = "";
    req.body = line.data;
    req.body_len = line.len;
    req.client_addr = "stdio";
    req.identity.authenticated = true;
    snprintf(req.identity.subject, sizeof(req.identity.subject), "%s", subject);
    req.identity.mode = "stdio";
    req.identity.scopes = scope_bits;
    reply = vmb_mcp_stdio_handle(conn, &req, line.data, line.len, &stop);
    if(reply && emit(reply)) {
      rc = 1;                        /* stdout closed: nobody to answer */
      vmb_worker_reset(w);
      break;
    }
    vmb_worker_reset(w);
  }
  vmb_buf_free(&line);
  vmb_log_server(VMB_LOG_INFO, "stdio", "vault-mcp-stdio stopped");
  vmb_mcp_stdio_free(conn);
  vmb_worker_destroy(w);
  vmb_core_shutdown();
  vmb_config_free(&cfg);
  return rc;
}
