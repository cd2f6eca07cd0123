/*
** vault-sim main: command line, libmicrohttpd daemon, and the ordered
** request gate of CONTRACT §1.7:
**
**   sealed -> HTTP parsing (method, ?list=, JSON, PATCH type, size)
**   -> write to "…/" -> token -> existence check -> ACL -> route
**   -> backend.
**
** The gate and the handler run under one global mutex. Handlers are
** short and in-memory, so a single lock keeps the state model simple
** and still serves well over 20k requests/s on two cores; serialisation
** of the response and all socket work happen outside the lock.
*/
#include "sim.h"

#include <errno.h>
#include <json-c/json_c_version.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* Per-connection request state, kept in MHD's con_cls. */
struct conn_req {
  struct sbuf body;
  int too_big;
};

static const char *hdr(struct MHD_Connection *c, const char *name)
{
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
  (void)kind;
  json_object *o = cls;
  json_object_object_add(o, key, json_object_new_string(value ? value : ""));
  return MHD_YES;
}

static const char *query_get(const char *name, void *ud)
{
  return MHD_lookup_connection_value(ud, MHD_GET_ARGUMENT_KIND, name);
}

/* Parses a request body as Vault does (http/handler.go parseJSONRequest:
** jsonutil.DecodeJSONFromReader into a map): empty means no fields, and
** so does JSON `null` (Go decodes it into a nil map; Go's client and
** `vault write -f` send it); anything else but an object is "error
** parsing JSON". New reference or NULL. */
static json_object *parse_body(const struct sbuf *b, int *bad)
{
  *bad = 0;
  size_t i = 0;
  while (i < b->len && (b->p[i] == ' ' || b->p[i] == '\n' ||
                        b->p[i] == '\r' || b->p[i] == '\t'))
    i++;
  if (i == b->len)
    return json_object_new_object();
  /* The literal null, between optional whitespace (checked by hand: the
  ** incremental tokener waits for more input after a bare literal). */
  size_t end = b->len;
  while (end > i && (b->p[end - 1] == ' ' || b->p[end - 1] == '\n' ||
                     b->p[end - 1] == '\r' || b->p[end - 1] == '\t'))
    end--;
  if (end - i == 4 && memcmp(b->p + i, "null", 4) == 0)
    return json_object_new_object();
  json_tokener *tok = json_tokener_new_ex(256);
  if (!tok) {
    *bad = 1;
    return NULL;
  }
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  json_object *o = json_tokener_parse_ex(tok, (const char *)b->p,
                                         (int)b->len);
  enum json_tokener_error e = json_tokener_get_error(tok);
  size_t off = json_tokener_get_parse_end(tok);
  json_tokener_free(tok);
  if (e != json_tokener_success) {
    json_object_put(o);
    *bad = 1;
    return NULL;
  }
  /* Go's decoder tolerates trailing whitespace only. */
  for (size_t k = off; k < b->len; k++)
    if (!(b->p[k] == ' ' || b->p[k] == '\n' || b->p[k] == '\r' ||
          b->p[k] == '\t')) {
      json_object_put(o);
      *bad = 1;
      return NULL;
    }
  if (!o || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    *bad = 1;
    return NULL;
  }
  return o;
}

static const char *mount_type_name(const struct sim_mount *m)
{
  return m ? m->type : "";
}

/* Finds the mount and the row of its path table for q->path. */
static struct sim_mount *route(struct sim_req *q, struct sim_resp *r,
                               struct sim_call *call)
{
  sim_call_clear(call);
  const char *rest = NULL;
  struct sim_mount *m = sim_mount_find(q->path, &rest);
  call->m = m;
  call->q = q;
  call->r = r;
  call->rest = rest;
  call->state = m ? m->state : NULL;
  if (m)
    sim_path_match(m->be->paths, rest, call);
  return m;
}

static unsigned path_flags(const struct sim_call *call)
{
  return call->path ? call->path->flags : 0;
}

/*
** The gate. Fills r; q is initialised here and cleaned by the caller.
*/
static void gate(struct MHD_Connection *c, const char *url,
                 const char *method, struct conn_req *cr, struct sim_req *q,
                 struct sim_resp *r, struct sim_call *call,
                 char **spent_token)
{
  q->now = now_ts();
  if (!str_has_prefix(url, "/v1/")) {
    resp_err_empty(r, 404);
    return;
  }
  const char *p = url + 4;
  while (*p == '/')
    p++;
  q->path = xstrdup(p);

  struct sim_mount *m = route(q, r, call);
  if (path_flags(call) & SIM_PATH_RAW) {
    call->method = method;
    call->query = query_get;
    call->ud = c;
    if (call->path->raw(call))
      return;
    /* Declined: a row without a handler is routed as if nothing
    ** matched; one with a handler goes on through the gate. */
    if (!call->path->handler)
      call->path = NULL;
  }

  if (sim_sys_sealed() && !(path_flags(call) & SIM_PATH_SEALED)) {
    resp_err(r, 503, "Vault is sealed");
    return;
  }

  /* Step 2: HTTP parsing. */
  int write = 0;
  if (strcmp(method, "GET") == 0) {
    q->op = SIM_OP_READ;
  } else if (strcmp(method, "LIST") == 0) {
    q->op = SIM_OP_LIST;
  } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
    q->op = SIM_OP_UPDATE;
    write = 1;
  } else if (strcmp(method, "DELETE") == 0) {
    q->op = SIM_OP_DELETE;
  } else if (strcmp(method, "PATCH") == 0) {
    q->op = SIM_OP_PATCH;
  } else {
    resp_err_empty(r, 405);
    return;
  }
  if (cr->too_big) {
    resp_err(r, 413, "error parsing JSON");
    return;
  }
  if (q->op == SIM_OP_READ || q->op == SIM_OP_DELETE ||
      q->op == SIM_OP_LIST) {
    q->data = json_object_new_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, q->data);
    /* http/logical.go buildLogicalRequestNoAuth: only a non-empty
    ** ?list= is parsed (ParseBool, 400 on junk); a true one turns the
    ** read into a LIST and leaves the query, any other value stays in
    ** the request data (parseQuery keeps every key). */
    json_object *lv = NULL;
    if (q->op == SIM_OP_READ &&
        json_object_object_get_ex(q->data, "list", &lv) &&
        json_object_get_string_len(lv) > 0) {
      int b = parse_go_bool(json_object_get_string(lv));
      if (b < 0) {
        resp_err_empty(r, 400);
        return;
      }
      if (b) {
        q->op = SIM_OP_LIST;
        json_object_object_del(q->data, "list");
      }
    }
  } else {
    if (q->op == SIM_OP_PATCH) {
      const char *ct = hdr(c, "Content-Type");
      char mt[128] = "";
      if (ct) {
        size_t n = strcspn(ct, ";");
        while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
          n--;
        const char *a = ct;
        while (*a == ' ' && n > 0) {
          a++;
          n--;
        }
        if (n >= sizeof mt)
          n = sizeof mt - 1;
        for (size_t i = 0; i < n; i++)
          mt[i] = (char)((a[i] >= 'A' && a[i] <= 'Z') ? a[i] + 32 : a[i]);
        mt[n] = 0;
      }
      if (!mt[0]) {
        resp_err(r, 400, "mime: no media type");
        return;
      }
      if (strcmp(mt, "application/merge-patch+json") != 0) {
        resp_err(r, 415,
                 "PATCH requires Content-Type of "
                 "application/merge-patch+json, provided %s",
                 mt);
        return;
      }
    }
    int bad = 0;
    q->data = parse_body(&cr->body, &bad);
    if (bad) {
      resp_err(r, 400, "error parsing JSON");
      return;
    }
  }
  q->ctype = hdr(c, "Content-Type");

  /* http/logical.go buildLogicalRequest: the token header is read, then
  ** X-Vault-Wrap-TTL is parsed (400 on a bad value). */
  const char *tok = hdr(c, "X-Vault-Token");
  if (!tok || !*tok) {
    const char *az = hdr(c, "Authorization");
    if (az && strncasecmp(az, "Bearer ", 7) == 0)
      tok = az + 7;
  }
  q->client_token = tok && *tok ? tok : NULL;
  if (sim_wrap_parse_ttl(hdr(c, "X-Vault-Wrap-TTL"), r, &q->wrap_ttl) < 0)
    return;

  /* Step 5. */
  if (write && str_has_suffix(q->path, "/")) {
    resp_err(r, 400, "cannot write to a path ending in '/'");
    return;
  }
  if (q->op == SIM_OP_LIST && !str_has_suffix(q->path, "/")) {
    char *np = xasprintf("%s/", q->path);
    free(q->path);
    q->path = np;
    m = route(q, r, call);
    if (path_flags(call) & SIM_PATH_RAW)
      call->path = NULL;
  }
  if (m)
    q->mount_path = m->path;

  /* request_handling.go handleCancelableRequest validates the wrapping
  ** token of sys/wrapping/{lookup,unwrap,rewrap} before anything else. */
  if ((path_flags(call) & SIM_PATH_WRAPPING) && sim_wrap_validate(q, r) < 0)
    return;

  if (!(path_flags(call) & SIM_PATH_UNAUTH)) {
    /* Step 6: the token. */
    if (!tok || !*tok) {
      resp_err(r, 403, "permission denied");
      return;
    }
    struct sim_token *t = sim_token_lookup(tok, q->now);
    if (!t) {
      resp_err(r, 403,
               "2 errors occurred:\n\t* permission denied\n\t* invalid "
               "token\n\n");
      return;
    }
    q->token = t;
    q->is_root = t->is_root;
    /* Every authenticated request spends a use, denied ones too. */
    if (t->num_uses > 0) {
      t->num_uses--;
      if (t->num_uses == 0) {
        t->num_uses = -1;
        *spent_token = xstrdup(t->id);
      }
    }

    /* Step 7: existence check, then ACL. */
    if (write) {
      int ex = -1;
      if (call->path && call->path->exists)
        ex = call->path->exists(call);
      q->op = ex == 0 ? SIM_OP_CREATE : SIM_OP_UPDATE;
    }
    if (!q->is_root && !sim_acl_allows(&t->policies, q->path, q->op)) {
      resp_multierr(r, 403, "permission denied");
      return;
    }
  } else if (write) {
    q->op = SIM_OP_UPDATE;
  }

  /* Step 8: routing. */
  if (!m) {
    resp_err(r, 404, "no handler for route \"%s\". route entry not found.",
             q->path);
    return;
  }
  if (call->path)
    sim_path_dispatch(call);
  else if (m->be->nomatch)
    m->be->nomatch(call);
  else
    resp_unsupported_path(r);
  if (r->kind == RESP_NONE) {
    /* A handler that found nothing answers like Vault's nil response. */
    resp_err_empty(r, 404);
  }
  if (r->kind == RESP_ENVELOPE && !r->mount_type)
    r->mount_type = mount_type_name(m);
  req_check_unknown(q, r);
}
/* text: the Content-Type of a non-JSON body, or NULL for JSON. */
static enum MHD_Result send_resp(struct MHD_Connection *c, int status,
                                 char *body, size_t len, const char *text)
{
  struct MHD_Response *mr = MHD_create_response_from_buffer(
      len, body ? body : (void *)"",
      body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!mr) {
    free(body);
    return MHD_NO;
  }
  if (status != 204 && !(status == 202 && len == 0) && body)
    MHD_add_response_header(mr, "Content-Type",
                            text ? text : "application/json");
  MHD_add_response_header(mr, "Cache-Control", "no-store");
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, mr);
  MHD_destroy_response(mr);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
  (void)cls;
  (void)version;
  struct conn_req *cr = *con_cls;
  if (!cr) {
    cr = xcalloc(1, sizeof *cr);
    *con_cls = cr;
    const char *cl = hdr(c, "Content-Length");
    int64_t n = 0;
    if (cl && parse_int64(cl, &n) == 0 && n > (int64_t)SIM_MAX_BODY) {
      /* Refuse before reading the body; MHD closes the connection after
      ** this answer since the body stays unread. */
      cr->too_big = 1;
      struct sim_resp r;
      resp_init(&r);
      resp_err(&r, 413, "error parsing JSON");
      char *body = NULL;
      size_t len = 0;
      resp_render(&r, "", &body, &len);
      resp_clear(&r);
      return send_resp(c, 413, body, len, NULL);
    }
    return MHD_YES;
  }
  if (*upload_size) {
    if (!cr->too_big) {
      if (cr->body.len + *upload_size > SIM_MAX_BODY) {
        cr->too_big = 1;
        sbuf_free(&cr->body);
      } else {
        sbuf_put(&cr->body, upload_data, *upload_size);
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }

  struct sim_req q;
  struct sim_resp r;
  memset(&q, 0, sizeof q);
  resp_init(&r);
  char *spent = NULL;
  struct sim_call call;
  memset(&call, 0, sizeof call);

  pthread_mutex_lock(&g_lock);
  gate(c, url, method, cr, &q, &r, &call, &spent);
  sim_call_clear(&call);
  if (spent) {
    /* The last use of a limited token: leased secrets must not escape
    ** (CONTRACT §3.5), and the token dies with this request. */
    if (r.lease_id && r.lease_id[0]) {
      sim_lease_revoke(r.lease_id);
      resp_err(&r, 400,
               "Secret cannot be returned; token had one use left, so "
               "leased credentials were immediately revoked.");
    }
    sim_token_revoke_tree(spent);
    free(spent);
  }
  char rid[37];
  make_uuid(rid);
  /* Wrapping comes last, as in handleCancelableRequest: an error (e.g.
  ** the revoked-lease answer above) is never wrapped. */
  if (q.wrap_ttl > 0)
    sim_wrap_response(&q, &r, rid);
  pthread_mutex_unlock(&g_lock);

  char *body = NULL;
  size_t len = 0;
  resp_render(&r, rid, &body, &len);
  int status = r.status ? r.status : 200;
  const char *text = NULL;
  if (r.kind == RESP_TEXT)
    text = r.text_type ? r.text_type : "text/plain; charset=utf-8";
  if (strcmp(method, "HEAD") == 0) {
    free(body);
    body = NULL;
    len = 0;
  }
  resp_clear(&r);
  free(q.path);
  json_object_put(q.data);
  return send_resp(c, status, body, len, text);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct conn_req *cr = *con_cls;
  if (cr) {
    sbuf_free(&cr->body);
    free(cr);
  }
  *con_cls = NULL;
}

/* ---- command line --------------------------------------------------------- */

static void usage(FILE *f)
{
  fputs(
      "Usage: vault-sim [server] --dev [options]\n"
      "\n"
      "An in-memory stand-in for HashiCorp Vault CE's dev server, for tests.\n"
      "\n"
      "Options (single-dash forms such as -dev-root-token-id=x work too):\n"
      "  --dev                       start initialised and unsealed, with\n"
      "                              KV v2 at secret/ (required)\n"
      "  --dev-root-token-id ID      root token (default: random hvs.*)\n"
      "  --dev-listen-address H:P    listen address (default "
      "127.0.0.1:8200)\n"
      "  --threads N                 HTTP worker threads (default 2)\n"
      "  --database-plugins MODE     stored (default): database configs are\n"
      "                              only stored and credentials open\n"
      "                              nothing; real: the PostgreSQL plugin\n"
      "                              connects and creates/drops real users\n"
      "  -h, --help                  show this help\n"
      "  --version                   print the Vault version emulated and\n"
      "                              how this binary was built\n"
      "\n"
      "Environment: VAULT_DEV_ROOT_TOKEN_ID, VAULT_DEV_LISTEN_ADDRESS,\n"
      "VAULT_SIM_DATABASE_PLUGINS.\n"
      "SIGINT/SIGTERM stop the server with exit status 0.\n",
      f);
}

/* Matches "--name", "-name", "--name=v" and "-name=v"; *val gets the
** inline value or the next argument. Returns 1 when it matched. */
static int opt(int argc, char **argv, int *i, const char *name,
               const char **val)
{
  const char *a = argv[*i];
  if (a[0] != '-')
    return 0;
  a += (a[1] == '-') ? 2 : 1;
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == 0) {
    if (!val)
      return 1;
    if (*i + 1 >= argc)
      return -1;
    *val = argv[++*i];
    return 1;
  }
  if (a[n] == '=' && val) {
    *val = a + n + 1;
    return 1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  int dev = 0;
  const char *root_id = getenv("VAULT_DEV_ROOT_TOKEN_ID");
  const char *listen = getenv("VAULT_DEV_LISTEN_ADDRESS");
  long threads = 2;
  const char *db_plugins = getenv("VAULT_SIM_DATABASE_PLUGINS");
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int k;
    if (strcmp(argv[i], "server") == 0 && i == 1)
      continue;
    if (opt(argc, argv, &i, "help", NULL) == 1 ||
        strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (opt(argc, argv, &i, "version", NULL) == 1) {
      /* First line as the Vault CLI prints it (clients parse it); then
         how this simulator was built, for bug reports. */
      printf("Vault v%s (vault-sim)\n", SIM_VERSION);
#ifdef VMB_BUILD_TYPE
      printf("build: %s, %s, sanitizers: %s\n", VMB_BUILD_TYPE, VMB_COMPILER,
             VMB_SANITIZERS);
#endif
      printf("libraries: libmicrohttpd %s, json-c %s, OpenSSL %s\n",
             MHD_get_version(), json_c_version(),
             OpenSSL_version(OPENSSL_VERSION_STRING));
      return 0;
    }
    if ((k = opt(argc, argv, &i, "dev-root-token-id", &v)) != 0) {
      if (k < 0)
        goto missing;
      root_id = v;
    } else if ((k = opt(argc, argv, &i, "dev-listen-address", &v)) != 0) {
      if (k < 0)
        goto missing;
      listen = v;
    } else if ((k = opt(argc, argv, &i, "threads", &v)) != 0) {
      int64_t t;
      if (k < 0)
        goto missing;
      if (parse_int64(v, &t) < 0 || t < 1 || t > 64) {
        fprintf(stderr, "vault-sim: bad --threads value\n");
        return 2;
      }
      threads = (long)t;
    } else if ((k = opt(argc, argv, &i, "database-plugins", &v)) != 0) {
      if (k < 0)
        goto missing;
      db_plugins = v;
    } else if (opt(argc, argv, &i, "dev", NULL) == 1) {
      dev = 1;
    } else {
      fprintf(stderr, "vault-sim: unknown argument %s\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
    continue;
  missing:
    fprintf(stderr, "vault-sim: %s needs a value\n", argv[i]);
    return 2;
  }
  if (!dev) {
    fprintf(stderr, "vault-sim: only dev mode is supported; pass --dev\n\n");
    usage(stderr);
    return 2;
  }
  if (!listen || !*listen)
    listen = "127.0.0.1:8200";
  if (db_plugins && *db_plugins && strcmp(db_plugins, "stored") != 0 &&
      strcmp(db_plugins, "real") != 0) {
    fprintf(stderr, "vault-sim: --database-plugins must be stored or real\n");
    return 2;
  }
  sim_database_set_real(db_plugins && strcmp(db_plugins, "real") == 0);

  /* Split host:port (a [v6]:port form is accepted too). */
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || strlen(colon + 1) == 0) {
    fprintf(stderr, "vault-sim: bad listen address %s\n", listen);
    return 2;
  }
  size_t hl = (size_t)(colon - listen);
  if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
    listen++;
    hl -= 2;
  }
  if (hl >= sizeof host) {
    fprintf(stderr, "vault-sim: bad listen address\n");
    return 2;
  }
  memcpy(host, listen, hl);
  host[hl] = 0;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gerr = getaddrinfo(host, colon + 1, &hints, &ai);
  if (gerr != 0 || !ai) {
    fprintf(stderr, "vault-sim: cannot resolve %s: %s\n", host,
            gai_strerror(gerr));
    return 2;
  }

  char gen_root[32];
  if (!root_id || !*root_id) {
    memcpy(gen_root, "hvs.", 4);
    rand_base62(gen_root + 4, 24);
    root_id = gen_root;
  }
  unsigned char uk[32];
  rand_bytes(uk, sizeof uk);
  char *ukb = b64_std_encode(uk, sizeof uk);

  sim_acl_init();
  sim_token_init(root_id);
  sim_sys_init();
  sim_sys_set_unseal_key(ukb);

  /* Workers inherit this mask, so only the main thread sees signals. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
      ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!d) {
    fprintf(stderr, "vault-sim: cannot listen on %s: %s\n", listen,
            strerror(errno));
    free(ukb);
    return 1;
  }

  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("==> Vault server configuration:\n\n"
         "             Api Address: http://%s\n"
         "                     Cgo: disabled\n"
         "         Listener 1: tcp (addr: \"%s\", tls: \"disabled\")\n"
         "                 Storage: inmem\n"
         "                 Version: Vault v%s (vault-sim)\n\n"
         "==> Vault server started! Log data will stream in below:\n\n"
         "WARNING! dev mode is enabled! In this mode, Vault runs entirely "
         "in-memory\nand starts unsealed with a single unseal key. The root "
         "token is already\nauthenticated to the CLI, so you can "
         "immediately begin using Vault.\n\n"
         "You may need to set the following environment variables:\n\n"
         "    $ export VAULT_ADDR='http://%s'\n\n"
         "The unseal key and root token are displayed below in case you "
         "want to\nseal/unseal the Vault or re-authenticate.\n\n"
         "Unseal Key: %s\nRoot Token: %s\n\n"
         "Development mode should NOT be used in production "
         "installations!\n\n",
         argv[0] ? listen : listen, listen, SIM_VERSION, listen, ukb,
         root_id);
  fflush(stdout);
  free(ukb);

  /* The main thread waits for SIGINT/SIGTERM and, once a second, ends
  ** what expired (tokens, then leases with their revoke hooks), so a
  ** lease's database user is dropped on time without any request. */
  for (;;) {
    struct timespec tick = {1, 0};
    int sig = sigtimedwait(&set, NULL, &tick);
    if (sig == SIGINT || sig == SIGTERM)
      break;
    pthread_mutex_lock(&g_lock);
    struct timespec now = now_ts();
    sim_token_sweep(now);
    sim_lease_sweep(now);
    pthread_mutex_unlock(&g_lock);
  }
  printf("==> Vault shutdown triggered\n");
  MHD_stop_daemon(d);
  return 0;
}
