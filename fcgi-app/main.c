/*
** main.c - vault-mcp-fcgi: the threaded FastCGI responder.
**
** N threads each loop on FCGX_Accept_r over one listening socket: the one
** the web server hands over as fd 0 (mod_fcgid, spawn-fcgi) or the one
** --listen opens. Shutdown: SIGTERM/SIGINT are blocked in every thread
** and taken by the main thread with sigwait(). It then tells libfcgi a
** shutdown is pending and pokes the workers with SIGUSR2 (a handler
** without SA_RESTART) until each has left accept(); in-flight requests
** finish first. The listening socket itself is left alone because in a
** spawn-fcgi pool it is shared with sibling processes.
**
** Debian's libfcgi installs its own SIGTERM/SIGUSR1 handlers in
** FCGX_Init() when they are still SIG_DFL; ours are installed before.
**
** Event streams do not hold these threads: after its headers a stream is
** handed to the core's event loop (fcgi_transport.c, core mcp_park.c),
** and the thread accepts the next request. Each parked stream keeps a
** descriptor, so RLIMIT_NOFILE is raised to its hard limit at start-up
** (the core then caps MCP_MAX_STREAMS_PER_PROCESS to fit), and a thread
** whose accept() fails with EMFILE/ENFILE waits and tries again instead
** of ending.
*/
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fcgi_transport.h"
#include "vmb/config.h"
#include "vmb/core.h"
#include "vmb/version.h"
#include "vmb/log.h"

static atomic_bool stopping;
/* One flag per thread, set when it has returned, so main can tell who
   still needs a poke. */
static atomic_bool *thread_done;
static int listen_fd;

static void on_wakeup(int sig) { (void)sig; /* only interrupts accept() */ }

/*
** A start-up failure. spawn-fcgi throws its children's stderr away, so an
** error printed only there is lost: the operator sees "child exited with:
** 2" and a 502. So every start-up failure goes to stderr (a terminal, or
** Apache's error log under mod_fcgid), to syslog (the journal under
** systemd: journalctl -t vault-mcp-fcgi) and, as a JSON line with msg
** "startup_failed", to LOG_DIR/server.log when that directory exists.
** log_dir is the configured
** LOG_DIR, or NULL when the configuration itself could not be loaded;
** then the environment's LOG_DIR is used (set it next to APP_CONFIG_FILE
** so that errors about the file itself are kept). Messages never hold a
** secret: the config loader does not echo secret values.
*/
static void startup_error(const char *log_dir, const char *msg)
{
  char err[256];
  struct stat st;
  fprintf(stderr, "vault-mcp-fcgi: %s\n", msg);
  openlog("vault-mcp-fcgi", LOG_PID, LOG_DAEMON);
  syslog(LOG_ERR, "%s", msg);
  closelog();
  if(!log_dir)
    log_dir = getenv("LOG_DIR");
  /* Only into a LOG_DIR that exists: a failed start must not litter a
     working directory with a fresh ./logs. */
  if(log_dir && *log_dir && stat(log_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
    vmb_log_close();
    if(vmb_log_open(log_dir, "info", err, sizeof(err)) == 0) {
      json_object *f = json_object_new_object();
      json_object_object_add(f, "error", json_object_new_string(msg));
      vmb_log(VMB_LOG_SERVER, VMB_LOG_ERROR, "main", "startup_failed", f);
      json_object_put(f);
    }
    vmb_log_close();
  }
}

static void usage(FILE *f)
{
  fprintf(f,
    "Usage: vault-mcp-fcgi [--listen ADDR] [--threads N] [options]\n"
    "\n"
    "The Vault MCP Bridge FastCGI responder. Without --listen it serves the\n"
    "FastCGI socket handed over on fd 0 (mod_fcgid, spawn-fcgi).\n"
    "\n"
    "  --help               this text\n"
    "  --version            print the version\n"
    "  --check-config       print the effective configuration (secrets\n"
    "                       redacted) with the source of each value, and exit\n"
    "\n"
    "Every setting can be given as a flag, an environment variable or in the\n"
    "config file (APP_CONFIG_FILE or ./config.{json,yaml,toml}):\n");
  vmb_config_print_flags(f);
}

static void *serve_thread(void *arg)
{
  FCGX_Request r;
  struct vmb_worker *w = vmb_worker_create();
  if(!w || FCGX_InitRequest(&r, listen_fd, 0) != 0) {
    vmb_log_server(VMB_LOG_ERROR, "fcgi", "cannot start a serving thread");
    vmb_worker_destroy(w);
    atomic_store(&thread_done[(long)(intptr_t)arg], true);
    return NULL;
  }
  while(!atomic_load(&stopping)) {
    int rc = FCGX_Accept_r(&r);
    if(rc == -EMFILE || rc == -ENFILE) {
      /* Out of descriptors (streams hold them): the web server's
         connection waits in the backlog; try again shortly. */
      struct timespec ts = {0, 100 * 1000 * 1000};
      vmb_log_server(VMB_LOG_WARN, "fcgi", "accept: out of file descriptors; retrying");
      nanosleep(&ts, NULL);
      continue;
    }
    if(rc < 0)
      break;
    vmb_fcgi_serve(&r, w);
    FCGX_Finish_r(&r);
  }
  FCGX_Free(&r, 1);
  vmb_worker_destroy(w);
  atomic_store(&thread_done[(long)(intptr_t)arg], true);
  return NULL;
}

static long cores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 2;
}

int main(int argc, char **argv)
{
  struct vmb_config cfg;
  char err[512];
  int i, check_only = 0, rc = 0;
  long nthreads, started = 0;
  pthread_t *threads;
  sigset_t stopset;
  struct sigaction sa;

  for(i = 1; i < argc; i++) {
    if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if(!strcmp(argv[i], "--version")) {
      printf("vault-mcp-fcgi %s\n", vmb_version());
      vmb_build_info_print(stdout);
      printf("  libfcgi %s (build time)\n", VMB_FCGI_VERSION);
      return 0;
    }
    if(!strcmp(argv[i], "--check-config"))
      check_only = 1;
  }
  if(vmb_config_load(&cfg, argc, argv, err, sizeof(err))) {
    if(check_only)
      fprintf(stderr, "vault-mcp-fcgi: %s\n", err);
    else
      startup_error(NULL, err);
    return 2;
  }
  /* Refuse unknown arguments: a typo must not fall back to a default. */
  for(i = 1; i < argc; i++) {
    const char *eq;
    size_t n;
    if(!strcmp(argv[i], "--check-config"))
      continue;
    eq = strchr(argv[i], '=');
    n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    if(!strncmp(argv[i], "--", 2) && vmb_config_is_flag(argv[i] + 2, n - 2)) {
      if(!eq)
        i++;   /* its value */
      continue;
    }
    fprintf(stderr, "vault-mcp-fcgi: unknown argument \"%.64s\" (see --help)\n", argv[i]);
    vmb_config_free(&cfg);
    return 2;
  }
  /* Every mode off means every request is a 401: refuse, loudly, instead
     of starting a bridge nobody can use. (The stdio transport has its
     own identity and does not need one.) */
  if(!cfg.auth_api_key_enabled && !cfg.auth_jwt_enabled && !cfg.auth_mtls_enabled) {
    const char *m = "invalid configuration: AUTH_API_KEY_ENABLED, "
      "AUTH_JWT_ENABLED and AUTH_MTLS_ENABLED are all false: no client could "
      "authenticate; enable at least one";
    if(check_only)
      fprintf(stderr, "vault-mcp-fcgi: %s\n", m);
    else
      startup_error(cfg.log_dir, m);
    vmb_config_free(&cfg);
    return 2;
  }
  if(check_only && vmb_core_check_config(&cfg, err, sizeof(err))) {
    /* The same refusal start-up would make (e.g. an API key under 32
       bytes), so a config that passes the check also starts. */
    fprintf(stderr, "vault-mcp-fcgi: %s\n", err);
    vmb_config_free(&cfg);
    return 2;
  }
  if(check_only) {
    char *dump = vmb_config_dump(&cfg);
    printf("%s\n", dump ? dump : "{}");
    free(dump);
    vmb_config_free(&cfg);
    return 0;
  }

  /* Signals first, before FCGX_Init (see the header comment). */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_wakeup;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);   /* no SA_RESTART: accept() returns EINTR */
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  sigemptyset(&stopset);
  sigaddset(&stopset, SIGTERM);
  sigaddset(&stopset, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopset, NULL);

  if(FCGX_Init() != 0) {
    fprintf(stderr, "vault-mcp-fcgi: FCGX_Init failed\n");
    vmb_config_free(&cfg);
    return 1;
  }
  if(*cfg.listen) {
    mode_t old_mask = 0;
    if(cfg.listen[0] == '/') {
      unlink(cfg.listen);   /* a stale socket from a previous run */
      /* The socket is born with its final mode 0660: a chmod after bind
         would leave a window in which any local user could connect. */
      old_mask = umask(0117);
    }
    listen_fd = FCGX_OpenSocket(cfg.listen, 128);
    if(cfg.listen[0] == '/')
      umask(old_mask);
    if(listen_fd < 0) {
      char m[600];
      snprintf(m, sizeof(m), "cannot listen on %.500s", cfg.listen);
      startup_error(cfg.log_dir, m);
      vmb_config_free(&cfg);
      return 1;
    }
    if(cfg.listen[0] != '/' && cfg.auth_mtls_enabled)
      /* Over TCP any local user can speak FastCGI to us and set
         SSL_CLIENT_S_DN / HTTPS themselves: the mTLS identity is only as
         good as who can reach this port. */
      fprintf(stderr, "vault-mcp-fcgi: warning: AUTH_MTLS_ENABLED with a TCP --listen "
              "(%.200s): every local user who can connect can claim any client "
              "certificate; prefer a unix socket (--listen /path.sock, mode 0660)\n",
              cfg.listen);
  }
  else {
    struct stat st;
    if(fstat(0, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      startup_error(cfg.log_dir, "no --listen given and fd 0 is not a "
                    "FastCGI socket (run under a web server or spawn-fcgi, or "
                    "pass --listen 127.0.0.1:9000)");
      vmb_config_free(&cfg);
      return 2;
    }
    listen_fd = 0;
  }
  {
    /* Parked streams cost a descriptor each: take what the hard limit
       allows (logged below once logs are open). */
    struct rlimit rl;
    if(!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  if(vmb_core_init(&cfg, err, sizeof(err))) {
    startup_error(cfg.log_dir, err);
    vmb_config_free(&cfg);
    return 2;
  }
  /* The Vault client and the AppRole module hold their own copies. */
  vmb_config_forget_vault_credentials(&cfg);
  nthreads = cfg.threads > 0 ? cfg.threads : cores();
  threads = calloc((size_t)nthreads, sizeof(*threads));
  thread_done = calloc((size_t)nthreads, sizeof(*thread_done));
  if(!threads || !thread_done) {
    vmb_core_shutdown();
    vmb_config_free(&cfg);
    return 1;
  }
  for(started = 0; started < nthreads; started++)
    if(pthread_create(&threads[started], NULL, serve_thread,
                      (void *)(intptr_t)started) != 0)
      break;
  {
    char msg[160];
    struct rlimit rl;
    unsigned long long nofile = 0;
    if(!getrlimit(RLIMIT_NOFILE, &rl))
      nofile = rl.rlim_cur == RLIM_INFINITY ? ~0ull : (unsigned long long)rl.rlim_cur;
    snprintf(msg, sizeof(msg), "vault-mcp-fcgi %s serving with %ld threads "
             "(RLIMIT_NOFILE %llu)", vmb_version(), started, nofile);
    vmb_log_server(VMB_LOG_INFO, "main", msg);
  }
  if(started == 0) {
    rc = 1;
  }
  else {
    int sig = 0;
    while(sigwait(&stopset, &sig) != 0)
      ;
    vmb_log_server(VMB_LOG_INFO, "main", "stopping: finishing in-flight requests");
  }
  atomic_store(&stopping, true);
  vmb_core_stop();
  FCGX_ShutdownPending();
  /* Poke every worker until it has left accept(): a poke that arrives
     while a thread is busy is lost, so repeat until all have joined. */
  for(i = 0; i < started; i++) {
    while(!atomic_load(&thread_done[i])) {
      struct timespec ts = {0, 50 * 1000 * 1000};
      pthread_kill(threads[i], SIGUSR2);
      nanosleep(&ts, NULL);
    }
    pthread_join(threads[i], NULL);
  }
  vmb_log_server(VMB_LOG_INFO, "main", "stopped");
  free(threads);
  free(thread_done);
  vmb_core_shutdown();
  vmb_config_free(&cfg);
  return rc;
}
