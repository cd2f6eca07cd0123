/*
** ceiling.c - the reference FastCGI responder for benchmarks: N threads,
** each accepting and answering a fixed small JSON document. Nothing any
** FastCGI app does can be cheaper, so the bridge is measured against it.
**   bench-ceiling --listen 127.0.0.1:9100 --threads 4 [--close-at-once 1]
** With --close-at-once 1 it reads stdin to its end and closes the web
** server's connection without libfcgi's linger (FCGX_Detach), as the
** bridge does on a unix socket (fcgi-app/fcgi_transport.c), so the
** bridge can also be compared with a ceiling that uses the same close.
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static int listen_fd;
static int close_at_once;

static void *serve(void *arg)
{
  static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 11\r\n\r\n{\"ok\":true}";
  FCGX_Request r;
  (void)arg;
  FCGX_InitRequest(&r, listen_fd, 0);
  while(FCGX_Accept_r(&r) >= 0) {
    if(close_at_once) {
      while(FCGX_GetChar(r.in) >= 0)
        ;
    }
    FCGX_PutStr(reply, (int)sizeof(reply) - 1, r.out);
    if(close_at_once && !r.keepConnection)
      FCGX_Detach(&r);
    FCGX_Finish_r(&r);
  }
  return NULL;
}

int main(int argc, char **argv)
{
  const char *listen = NULL;
  long threads = 4, i;
  pthread_t *t;
  for(i = 1; i + 1 < argc; i += 2) {
    if(!strcmp(argv[i], "--listen"))
      listen = argv[i + 1];
    else if(!strcmp(argv[i], "--threads"))
      threads = strtol(argv[i + 1], NULL, 10);
    else if(!strcmp(argv[i], "--close-at-once"))
      close_at_once = !strcmp(argv[i + 1], "1");
  }
  if(threads < 1 || threads > 256 || FCGX_Init() != 0)
    return 2;
  /* libfcgi catches SIGTERM and only notes it, so a thread blocked in
     accept never sees it and the process outlived bench/run.sh's
     cleanup. The ceiling has nothing to finish: let SIGTERM end it. */
  signal(SIGTERM, SIG_DFL);
  listen_fd = listen ? FCGX_OpenSocket(listen, 128) : 0;
  if(listen_fd < 0)
    return 1;
  t = calloc((size_t)threads, sizeof(*t));
  if(!t)
    return 1;
  for(i = 0; i < threads; i++)
    pthread_create(&t[i], NULL, serve, NULL);
  for(i = 0; i < threads; i++)
    pthread_join(t[i], NULL);
  free(t);
  return 0;
}
